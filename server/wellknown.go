package server

import (
	"net/http"
	"time"
)

// discovery is RFC 8414 authorization server metadata, also served as
// /.well-known/openid-configuration for clients that only look there.
func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) error {
	iss := s.eng.Issuer()
	algs := []string{}
	for _, k := range s.eng.JWKS().Keys {
		algs = append(algs, k.Algorithm)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"token_endpoint":                        iss + "/oauth2/token",
		"introspection_endpoint":                iss + "/oauth2/introspect",
		"revocation_endpoint":                   iss + "/oauth2/revoke",
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"grant_types_supported":                 []string{grantTokenExchange},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"introspection_endpoint_auth_methods_supported": []string{"none"},
		"revocation_endpoint_auth_methods_supported":    []string{"none"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         algs,
	})
	return nil
}

// jwks is the public signing keys.
func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, s.eng.JWKS())
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz: a policy is loaded, keys are ready, and the server is not draining.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) error {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return nil
	}
	if err := s.eng.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// policyStatus is GET /v1/policy.
type policyStatus struct {
	Loaded      bool       `json:"loaded"`
	LoadedAt    *time.Time `json:"loaded_at,omitempty"`
	Bundles     any        `json:"bundles"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

func (s *Server) policy(w http.ResponseWriter, _ *http.Request) error {
	st := s.eng.PolicyStatus()
	out := policyStatus{Loaded: st.Loaded, Bundles: st.Revisions, LastError: st.LastError}
	if st.Loaded {
		t := st.LoadedAt.UTC()
		out.LoadedAt = &t
	}
	if !st.LastErrorAt.IsZero() {
		t := st.LastErrorAt.UTC()
		out.LastErrorAt = &t
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
