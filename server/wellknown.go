package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/server/console"
)

// Discovery is what the /.well-known/ documents need: the server's public
// URL (`iss` of issued tokens) and the public keys that verify them.
type Discovery interface {
	Issuer() string
	JWKS() jose.JSONWebKeySet
}

// Status is what /readyz and /v1/policy need: Ready is nil when a policy is
// loaded and signing keys are present; PolicyStatus describes the active
// policy and the last refused reload.
type Status interface {
	Ready() error
	PolicyStatus() engine.PolicyStatus
}

// ConsoleSettings is what GET /.well-known/trustgate-console needs of the
// approval console: how `trustgate login` signs in with its IdP.
type ConsoleSettings interface {
	CLISettings(ctx context.Context) (console.CLISettings, error)
}

// *engine.Engine is the Discovery and the Status cmd/trustgate wires in.
var (
	_ Discovery = (*engine.Engine)(nil)
	_ Status    = (*engine.Engine)(nil)
)

// cacheableFor lets a document be cached: the metadata and the JWKS change
// only on a restart or a key rotation, and the rotation runbook waits out
// relying parties' caches (docs/operations.md).
const cacheableFor = "public, max-age=300"

// metadata is RFC 8414 §2 authorization server metadata. There is no
// authorization endpoint, so authorization_endpoint is absent and
// response_types_supported, which RFC 8414 requires, is empty. Clients do
// not authenticate at the token and revocation endpoints (the token is the
// credential): "none"; introspection takes client_secret_basic when
// introspection clients are configured.
type metadata struct {
	Issuer                                 string   `json:"issuer"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	IntrospectionEndpoint                  string   `json:"introspection_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	JWKSURI                                string   `json:"jwks_uri"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods       []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	// OpenID Connect Discovery 1.0 §3 fields, in openid-configuration only,
	// so that JWT libraries that discover keys the OIDC way find them.
	SubjectTypesSupported            []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
}

func (s *Server) metadata() metadata {
	iss := s.discovery.Issuer()
	base := strings.TrimSuffix(iss, "/")
	none := []string{"none"}
	return metadata{
		Issuer:                                 iss,
		TokenEndpoint:                          base + pathToken,
		IntrospectionEndpoint:                  base + pathIntrospect,
		RevocationEndpoint:                     base + pathRevoke,
		JWKSURI:                                base + pathJWKS,
		GrantTypesSupported:                    []string{grantTokenExchange},
		ResponseTypesSupported:                 []string{},
		TokenEndpointAuthMethodsSupported:      none,
		IntrospectionEndpointAuthMethods:       s.clients.authMethods(),
		RevocationEndpointAuthMethodsSupported: none,
	}
}

// authorizationServerMetadata is GET /.well-known/oauth-authorization-server
// (RFC 8414 §3).
func (s *Server) authorizationServerMetadata(w http.ResponseWriter, _ *http.Request) error {
	cacheable(w)
	return writeJSON(w, http.StatusOK, s.metadata())
}

// openIDConfiguration is GET /.well-known/openid-configuration: the same
// metadata plus the OIDC Discovery fields naming the signing algorithms.
func (s *Server) openIDConfiguration(w http.ResponseWriter, _ *http.Request) error {
	m := s.metadata()
	m.SubjectTypesSupported = []string{"public"}
	m.IDTokenSigningAlgValuesSupported = []string{}
	for _, k := range s.publicKeys().Keys {
		if !slices.Contains(m.IDTokenSigningAlgValuesSupported, k.Algorithm) {
			m.IDTokenSigningAlgValuesSupported = append(m.IDTokenSigningAlgValuesSupported, k.Algorithm)
		}
	}
	cacheable(w)
	return writeJSON(w, http.StatusOK, m)
}

// consoleSettings is GET /.well-known/trustgate-console: the console's
// IdP issuer, the CLI's client id and the scopes, so that `trustgate login
// --url` needs nothing else. Nothing in it is a secret.
func (s *Server) consoleSettings(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.consoleCLI.CLISettings(r.Context())
	if err != nil {
		return err
	}
	cacheable(w)
	return writeJSON(w, http.StatusOK, cs)
}

// jwks is GET /.well-known/jwks.json (RFC 7517 §5).
func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) error {
	cacheable(w)
	return writeJSON(w, http.StatusOK, s.publicKeys())
}

// publicKeys is the engine's JWKS with only public keys: a private or
// symmetric key there is a bug upstream, and is dropped, not served.
func (s *Server) publicKeys() jose.JSONWebKeySet {
	set := s.discovery.JWKS()
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(set.Keys))}
	for _, k := range set.Keys {
		pub := k.Public()
		if !pub.Valid() || !pub.IsPublic() {
			s.log.Error("JWKS key without a public part not served", zap.String("kid", k.KeyID))
			continue
		}
		out.Keys = append(out.Keys, pub)
	}
	return out
}

func cacheable(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", cacheableFor)
	w.Header().Del("Pragma")
}

// health is the body of /healthz and /readyz.
type health struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// healthz is GET /healthz: the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, health{Status: "ok"})
}

// readyz is GET /readyz: 200 while a policy is loaded, signing keys are
// present and the server is not draining; 503 otherwise.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) error {
	if s.draining.Load() {
		return writeJSON(w, http.StatusServiceUnavailable, health{Status: "not ready", Reason: "draining"})
	}
	if err := s.status.Ready(); err != nil {
		reason := "engine not ready"
		if errors.Is(err, engine.ErrNoPolicy) {
			reason = "no policy loaded"
		}
		return writeJSON(w, http.StatusServiceUnavailable, health{Status: "not ready", Reason: reason})
	}
	return writeJSON(w, http.StatusOK, health{Status: "ready"})
}

// policyStatus is the body of GET /v1/policy.
type policyStatus struct {
	Loaded      bool             `json:"loaded"`
	LoadedAt    *time.Time       `json:"loaded_at,omitempty"`
	Bundles     []bundleRevision `json:"bundles"`
	LastError   string           `json:"last_error,omitempty"`
	LastErrorAt *time.Time       `json:"last_error_at,omitempty"`
	// Shadow is the shadow policy (shadow_bundles), when configured.
	Shadow *policyStatus `json:"shadow,omitempty"`
}

type bundleRevision struct {
	Bundle   string `json:"bundle"`
	Revision string `json:"revision"`
}

// policy is GET /v1/policy: the active bundles' revisions, when they were
// loaded, and the last refused reload (the last good policy keeps serving).
func (s *Server) policy(w http.ResponseWriter, _ *http.Request) error {
	st := s.status.PolicyStatus()
	out := newPolicyStatus(st)
	if st.Shadow != nil {
		sh := newPolicyStatus(*st.Shadow)
		out.Shadow = &sh
	}
	return writeJSON(w, http.StatusOK, out)
}

func newPolicyStatus(st engine.PolicyStatus) policyStatus {
	out := policyStatus{Loaded: st.Loaded, Bundles: []bundleRevision{}, LastError: st.LastError}
	if st.Loaded {
		out.LoadedAt = utc(st.LoadedAt)
	}
	for _, r := range st.Revisions {
		out.Bundles = append(out.Bundles, bundleRevision{Bundle: r.Path, Revision: r.Revision})
	}
	if !st.LastErrorAt.IsZero() {
		out.LastErrorAt = utc(st.LastErrorAt)
	}
	return out
}

func utc(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}
