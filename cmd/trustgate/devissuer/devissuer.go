// Package devissuer is a local OIDC issuer for demos and manual tests: it
// serves discovery and a JWKS and mints GitLab- or GitHub-shaped ID tokens
// for anyone who asks, so it only ever listens on loopback.
package devissuer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // registers crypto.SHA256 for Thumbprint
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/ciclaims"
)

// Config configures an Issuer.
type Config struct {
	// Issuer is the issuer URL, http://host:port of where it listens.
	Issuer string
	// Audience is the default `aud` of minted tokens.
	Audience string
	// TTL is the lifetime of minted tokens (default 5m).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Issuer mints ID tokens with an RSA key generated at start.
type Issuer struct {
	cfg    Config
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
}

// New generates the issuer's key.
func New(cfg Config) (*Issuer, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("devissuer: Issuer and Audience are required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	sum, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(sum)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	return &Issuer{cfg: cfg, key: key, kid: kid, signer: signer}, nil
}

// Handler serves discovery, the JWKS and GET /token, and the same for the
// people issuer under PeoplePath (its tokens: GET /token?kind=person).
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /oauth/discovery/keys", i.jwks)
	mux.HandleFunc("GET "+PeoplePath+"/.well-known/openid-configuration", i.peopleDiscovery)
	mux.HandleFunc("GET "+PeoplePath+"/keys", i.jwks)
	mux.HandleFunc("GET /token", i.token)
	l := newLogin(i) // login.go: the people issuer's sign-in, for the console and the CLI
	mux.HandleFunc("GET "+authorizePath, l.authorize)
	mux.HandleFunc("POST "+tokenPath, l.token)
	mux.HandleFunc("POST "+deviceAuthPath, l.deviceAuthorize) // device.go: trustgate login --device
	mux.HandleFunc("GET "+devicePath, l.deviceVerify)
	return mux
}

// ListenAndServe serves on addr, which must be a loopback address, until ctx ends.
func (i *Issuer) ListenAndServe(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("devissuer: %q is not a loopback address; the dev issuer mints tokens for anyone and never listens elsewhere", addr)
	}
	hs := &http.Server{Addr: addr, Handler: i.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	}
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                i.cfg.Issuer,
		"jwks_uri":                              i.cfg.Issuer + "/oauth/discovery/keys",
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: i.key.Public(), KeyID: i.kid, Algorithm: "RS256", Use: "sig"}}})
}

// token mints a token: ?platform=gitlab|github, ?aud=..., and any other
// query parameter overrides the claim of that name (as a string);
// ?kind=person mints a person's token instead (person).
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("kind") == "person" {
		i.person(w, r)
		return
	}
	aud := q.Get("aud")
	if aud == "" {
		aud = i.cfg.Audience
	}
	var claims map[string]any
	switch q.Get("platform") {
	case "", "gitlab":
		claims = ciclaims.GitLabClaims(i.cfg.Issuer, aud)
	case "github":
		claims = ciclaims.GitHubClaims(i.cfg.Issuer, aud)
	default:
		http.Error(w, "platform must be gitlab or github", http.StatusBadRequest)
		return
	}
	for k, vs := range q {
		if k != "platform" && k != "aud" && len(vs) > 0 {
			claims[k] = vs[len(vs)-1]
		}
	}
	i.writeMinted(w, claims)
}

// writeMinted answers with claims minted (Mint), as text.
func (i *Issuer) writeMinted(w http.ResponseWriter, claims map[string]any) {
	raw, err := i.Mint(claims)
	if err != nil {
		http.Error(w, "mint failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprintln(w, raw) // a client that went away gets nothing either way
}

// Mint signs claims, filling iss, iat, nbf, exp and jti when absent.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	now := i.cfg.Now()
	defaults := map[string]any{
		"iss": i.cfg.Issuer,
		"iat": now.Unix(),
		"nbf": now.Unix() - 5,
		"exp": now.Add(i.cfg.TTL).Unix(),
		"jti": strconv.FormatInt(now.UnixNano(), 36),
	}
	for k, v := range defaults {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := i.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
