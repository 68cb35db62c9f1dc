// Package enginetest provides a real OIDC issuer on httptest for tests:
// discovery and a JWKS served over HTTP, RSA and EC keys, GitLab- and
// GitHub-shaped tokens, key rotation and removal, a fetch counter, and a
// switch that makes the JWKS endpoint hang. It is for tests only.
package enginetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // registers crypto.SHA256 for Thumbprint
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/devissuer"
)

// Key is a signing key of the issuer.
type Key struct {
	ID        string
	Algorithm jose.SignatureAlgorithm
	Signer    crypto.Signer
}

// Issuer is a running test issuer.
type Issuer struct {
	srv     *httptest.Server
	fetches atomic.Int64
	hang    chan struct{} // closed when not hanging

	mu        sync.Mutex
	keys      []Key // published
	rsa, ec   Key
	discIss   string // issuer named in discovery; default the URL
	hanging   bool
	jwksExtra []byte // when set, served instead of the JWKS
}

// NewIssuer starts an issuer with one RSA-2048 and one P-256 key; it is
// closed when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{hang: make(chan struct{})}
	i.rsa = NewKey(t, jose.RS256)
	i.ec = NewKey(t, jose.ES256)
	i.keys = []Key{i.rsa, i.ec}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /jwks", i.jwks)
	i.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		i.Hang(false)
		i.srv.Close()
	})
	return i
}

// NewKey generates an RS256 (RSA-2048) or ES256 (P-256) key.
func NewKey(t testing.TB, alg jose.SignatureAlgorithm) Key {
	t.Helper()
	var (
		s   crypto.Signer
		err error
	)
	switch alg {
	case jose.RS256, jose.PS256:
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
func (i *Issuer) URL() string { return i.srv.URL }

// JWKSURL is where the JWKS is served.
func (i *Issuer) JWKSURL() string { return i.srv.URL + "/jwks" }

// JWKSFetches counts JWKS requests so far.
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

// RSAKey and ECKey are the keys the issuer starts with.
func (i *Issuer) RSAKey() Key { return i.rsa }
func (i *Issuer) ECKey() Key  { return i.ec }

// Publish replaces the published keys.
func (i *Issuer) Publish(keys ...Key) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = keys
}

// ServeJWKS serves body verbatim instead of the JWKS (nil: the real one).
func (i *Issuer) ServeJWKS(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksExtra = body
}

// SetDiscoveryIssuer makes discovery name another issuer.
func (i *Issuer) SetDiscoveryIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.discIss = iss
}

// Hang makes the JWKS endpoint block until Hang(false) or the test ends.
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
	i.mu.Lock()
	iss := i.discIss
	i.mu.Unlock()
	if iss == "" {
		iss = i.srv.URL
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer": iss, "jwks_uri": i.JWKSURL(),
		"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	hang, hanging, extra := i.hang, i.hanging, i.jwksExtra
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Signer.Public(), KeyID: k.ID, Algorithm: string(k.Algorithm), Use: "sig"})
	}
	i.mu.Unlock()
	if hanging {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if extra != nil {
		_, _ = w.Write(extra)
		return
	}
	_ = json.NewEncoder(w).Encode(set)
}

// MintOption changes how Mint signs.
type MintOption func(*mintOptions)

type mintOptions struct {
	key     *Key
	headers map[jose.HeaderKey]any
	noKID   bool
	kid     string
}

// WithKey signs with k (default: the RSA key).
func WithKey(k Key) MintOption { return func(o *mintOptions) { o.key = &k } }

// WithHeader adds a protected header field.
func WithHeader(name string, v any) MintOption {
	return func(o *mintOptions) { o.headers[jose.HeaderKey(name)] = v }
}

// WithKID sets the kid header ("" removes it).
func WithKID(kid string) MintOption {
	return func(o *mintOptions) { o.kid, o.noKID = kid, kid == "" }
}

// Mint signs claims (RS256 with the RSA key unless an option says otherwise).
func (i *Issuer) Mint(t testing.TB, claims map[string]any, opts ...MintOption) string {
	t.Helper()
	o := mintOptions{headers: map[jose.HeaderKey]any{}}
	for _, opt := range opts {
		opt(&o)
	}
	k := i.rsa
	if o.key != nil {
		k = *o.key
	}
	return sign(t, k, claims, o)
}

// sign signs claims with k.
func sign(t testing.TB, k Key, claims map[string]any, o mintOptions) string {
	t.Helper()
	so := (&jose.SignerOptions{}).WithType("JWT")
	for name, v := range o.headers {
		so = so.WithHeader(name, v)
	}
	jwk := jose.JSONWebKey{Key: k.Signer, KeyID: k.ID}
	if o.kid != "" {
		jwk.KeyID = o.kid
	}
	if o.noKID {
		jwk.KeyID = ""
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Algorithm, Key: jwk}, so)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// SignRaw signs the exact header and payload bytes given with k (RS256 or
// ES256), for tokens no library would produce.
func SignRaw(t testing.TB, k Key, header, payload []byte) string {
	t.Helper()
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig := rawSignature(t, k, []byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// GitLabClaims are a GitLab CI id_token's claims for a job on the protected
// main branch, with iss and aud as given and fresh times.
func GitLabClaims(iss, aud string) map[string]any {
	c := devissuer.GitLabClaims(iss, aud)
	addTimes(c)
	return c
}

// GitHubClaims are a GitHub Actions OIDC token's claims for a push to main.
func GitHubClaims(iss, aud string) map[string]any {
	c := devissuer.GitHubClaims(iss, aud)
	addTimes(c)
	return c
}

var jtiCounter atomic.Int64

func addTimes(c map[string]any) {
	now := time.Now().Unix()
	c["iat"], c["nbf"], c["exp"] = now, now-5, now+300
	c["jti"] = "jti-" + strconv.FormatInt(now, 36) + "-" + strconv.FormatInt(jtiCounter.Add(1), 10)
}
