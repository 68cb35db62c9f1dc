// Package enginetest provides a real OIDC issuer on httptest for tests:
// discovery and a JWKS served over HTTP, RSA-2048 and P-256 keys generated
// per issuer (NewKey makes one for every algorithm a provider may pin),
// GitLab- and GitHub-shaped tokens, key rotation and removal,
// request counters, a switch that makes the JWKS endpoint hang, and one that
// makes discovery name another issuer; sign-ins of people (Login: the
// authorization code flow with PKCE, the device grant, refresh tokens,
// claims released by scope as Dex does); and a bundle server speaking OPA's
// bundle protocol (BundleServer) with BundleTarball to build what it
// serves. It is for tests only: no production package imports it.
package enginetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // registers crypto.SHA256 for Thumbprint
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/ciclaims"
)

// Key is a signing key of the issuer.
type Key struct {
	ID        string
	Algorithm jose.SignatureAlgorithm
	Signer    crypto.Signer
}

// Issuer is a running test issuer.
type Issuer struct {
	srv  *httptest.Server
	path string // the issuer URL's path, "" for the server root

	requests, discoveries, fetches atomic.Int64

	mu      sync.Mutex
	keys    []Key // published, in order
	rsa, ec Key   // the keys it started with
	discIss string
	hanging bool
	hang    chan struct{} // closed when hanging stops
	jwks    []byte        // when set, served instead of the JWKS

	login *Login
}

// IssuerOption changes how NewIssuer sets up an issuer.
type IssuerOption func(*Issuer)

// WithPath serves the issuer under a path (as a self-managed GitLab on a
// subpath is): its URL, and so its `iss`, is the server URL plus path.
func WithPath(path string) IssuerOption { return func(i *Issuer) { i.path = path } }

// NewIssuer starts an issuer with a fresh RSA-2048 and a fresh P-256 key,
// both published; it is closed when the test ends.
func NewIssuer(t testing.TB, opts ...IssuerOption) *Issuer {
	t.Helper()
	i := &Issuer{hang: make(chan struct{})}
	close(i.hang)
	for _, opt := range opts {
		opt(i)
	}
	i.rsa = NewKey(t, jose.RS256)
	i.ec = NewKey(t, jose.ES256)
	i.keys = []Key{i.rsa, i.ec}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+i.path+"/.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET "+i.path+"/jwks", i.serveJWKS)
	i.login = newLogin(i)
	mux.HandleFunc("GET "+i.path+"/oauth/authorize", i.login.authorize)
	mux.HandleFunc("POST "+i.path+"/oauth/token", i.login.token)
	mux.HandleFunc("POST "+i.path+"/oauth/device", i.login.deviceAuthorize)
	mux.HandleFunc("GET "+i.path+"/device", i.login.deviceVerify)
	i.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		i.Hang(false)
		i.srv.Close()
	})
	return i
}

// NewKey generates a key for alg whose kid is its RFC 7638 thumbprint:
// RSA-2048 for RS256/384/512 and PS256/384/512, P-256, P-384 or P-521 for
// ES256, ES384 and ES512, Ed25519 for EdDSA (RFC 7518 §3, RFC 8037 §3.1).
func NewKey(t testing.TB, alg jose.SignatureAlgorithm) Key {
	t.Helper()
	var (
		s   crypto.Signer
		err error
	)
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		s, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.EdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("enginetest: no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum, err := (&jose.JSONWebKey{Key: s.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return Key{ID: base64.RawURLEncoding.EncodeToString(sum), Algorithm: alg, Signer: s}
}

// URL is the issuer URL (`iss`).
func (i *Issuer) URL() string { return i.srv.URL + i.path }

// JWKSURL is where the JWKS is served.
func (i *Issuer) JWKSURL() string { return i.URL() + "/jwks" }

// JWKSFetches counts JWKS requests so far.
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

// DiscoveryFetches counts discovery requests so far.
func (i *Issuer) DiscoveryFetches() int { return int(i.discoveries.Load()) }

// Requests counts every request the issuer's server received.
func (i *Issuer) Requests() int { return int(i.requests.Load()) }

// RSAKey and ECKey are the keys the issuer starts with.
func (i *Issuer) RSAKey() Key { return i.rsa }

// ECKey is the P-256 key the issuer starts with.
func (i *Issuer) ECKey() Key { return i.ec }

// Publish replaces the published keys.
func (i *Issuer) Publish(keys ...Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = slices.Clone(keys)
}

// Rotate generates a key for alg and publishes it next to the current ones,
// as issuers do ahead of signing with a new key.
func (i *Issuer) Rotate(t testing.TB, alg jose.SignatureAlgorithm) Key {
	t.Helper()
	k := NewKey(t, alg)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(slices.Clone(i.keys), k)
	return k
}

// Remove withdraws the key with this kid from the JWKS.
func (i *Issuer) Remove(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = slices.DeleteFunc(slices.Clone(i.keys), func(k Key) bool { return k.ID == kid })
}

// ServeJWKS serves body verbatim instead of the JWKS (nil: the real one).
func (i *Issuer) ServeJWKS(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwks = body
}

// SetDiscoveryIssuer makes discovery name another issuer ("" restores the
// real one).
func (i *Issuer) SetDiscoveryIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.discIss = iss
}

// Hang makes the JWKS endpoint block until Hang(false), the client gives
// up, or the test ends.
func (i *Issuer) Hang(on bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if on == i.hanging {
		return
	}
	i.hanging = on
	if on {
		i.hang = make(chan struct{})
	} else {
		close(i.hang)
	}
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	i.discoveries.Add(1)
	i.mu.Lock()
	iss := i.discIss
	i.mu.Unlock()
	if iss == "" {
		iss = i.URL()
	}
	writeJSON(w, map[string]any{
		"issuer":                        iss,
		"jwks_uri":                      i.JWKSURL(),
		"authorization_endpoint":        i.URL() + "/oauth/authorize",
		"token_endpoint":                i.URL() + "/oauth/token",
		"device_authorization_endpoint": i.URL() + "/oauth/device",
		"scopes_supported":              i.login.supported(),
		"grant_types_supported": []string{"authorization_code", "refresh_token",
			"urn:ietf:params:oauth:grant-type:device_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"response_types_supported":              []string{"code", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	hang, body := i.hang, i.jwks
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Signer.Public(), KeyID: k.ID, Algorithm: string(k.Algorithm), Use: "sig"})
	}
	i.mu.Unlock()
	select {
	case <-hang:
	case <-r.Context().Done():
		return
	}
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return
	}
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// GitLabClaims are a GitLab CI id_token's claims (GitLab 17, `id_tokens:`
// in .gitlab-ci.yml) for a deployment job on the protected main branch,
// with iss and aud as given, a fresh jti and a five-minute lifetime from
// now.
func GitLabClaims(iss, aud string) map[string]any {
	c := ciclaims.GitLabClaims(iss, aud)
	addTimes(c, time.Now())
	return c
}

// GitHubClaims are a GitHub Actions OIDC token's claims for a push to
// main, with iss and aud as given, a fresh jti and a five-minute lifetime
// from now.
func GitHubClaims(iss, aud string) map[string]any {
	c := ciclaims.GitHubClaims(iss, aud)
	addTimes(c, time.Now())
	return c
}

// addTimes sets iat, nbf, exp and a random jti as the platforms do.
func addTimes(c map[string]any, now time.Time) {
	sec := now.Unix()
	c["iat"], c["nbf"], c["exp"] = sec, sec-5, sec+300
	c["jti"] = rand.Text()
}
