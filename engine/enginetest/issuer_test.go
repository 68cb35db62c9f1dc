package enginetest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// part decodes one segment of a compact JWS.
func part(t *testing.T, raw string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTheIssuerIsARealOIDCProvider(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	ctx := context.Background()
	// go-oidc's own discovery and remote key set accept it as is.
	p, err := oidc.NewProvider(ctx, iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	v := p.VerifierContext(ctx, &oidc.Config{ClientID: "https://sts.example.com", SupportedSigningAlgs: []string{"RS256", "ES256"}})
	for _, opt := range []enginetest.MintOption{enginetest.WithKey(iss.RSAKey()), enginetest.ES256()} {
		tok, err := v.Verify(ctx, iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com"), opt))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Subject != "project_path:demo-group/demo-project:ref_type:branch:ref:main" {
			t.Fatalf("subject %q", tok.Subject)
		}
	}
	if iss.DiscoveryFetches() != 1 || iss.JWKSFetches() != 1 || iss.Requests() != 2 {
		t.Fatalf("counted %d discovery, %d JWKS, %d requests", iss.DiscoveryFetches(), iss.JWKSFetches(), iss.Requests())
	}
}

func TestEachIssuerHasItsOwnKeys(t *testing.T) {
	a, b := enginetest.NewIssuer(t), enginetest.NewIssuer(t)
	if a.RSAKey().ID == b.RSAKey().ID || a.ECKey().ID == b.ECKey().ID {
		t.Fatal("two issuers share a key")
	}
}

func TestMintOptionsShapeTheHeader(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	c := enginetest.GitHubClaims(iss.URL(), "aud")
	tests := []struct {
		name string
		opts []enginetest.MintOption
		want map[string]any
	}{
		{"by default RS256 with the RSA key's kid and typ JWT", nil, map[string]any{"alg": "RS256", "kid": iss.RSAKey().ID, "typ": "JWT"}},
		{"ES256 with the EC key", []enginetest.MintOption{enginetest.ES256()}, map[string]any{"alg": "ES256", "kid": iss.ECKey().ID, "typ": "JWT"}},
		{"another kid", []enginetest.MintOption{enginetest.WithKID("other")}, map[string]any{"alg": "RS256", "kid": "other", "typ": "JWT"}},
		{"no kid and no typ", []enginetest.MintOption{enginetest.WithKID(""), enginetest.WithoutType()}, map[string]any{"alg": "RS256"}},
		{"an extra header", []enginetest.MintOption{enginetest.WithHeader("jku", "https://evil.example")}, map[string]any{"alg": "RS256", "kid": iss.RSAKey().ID, "typ": "JWT", "jku": "https://evil.example"}},
		{"a raw payload under the usual header", []enginetest.MintOption{enginetest.WithRawPayload([]byte(`{"a":1}`))}, map[string]any{"alg": "RS256", "kid": iss.RSAKey().ID, "typ": "JWT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := iss.Mint(t, c, tc.opts...)
			got := part(t, raw, 0)
			if len(got) != len(tc.want) {
				t.Fatalf("header %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("header %v, want %v", got, tc.want)
				}
			}
		})
	}
	raw := iss.Mint(t, c, enginetest.WithRawHeader([]byte(`{"alg":"RS256","alg":"none"}`)), enginetest.WithRawPayload([]byte(`{"sub":"a","sub":"b"}`)))
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	p, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if string(h) != `{"alg":"RS256","alg":"none"}` || string(p) != `{"sub":"a","sub":"b"}` {
		t.Fatalf("raw bytes not kept: %s %s", h, p)
	}
}

func TestMintedTokensVerifyWithThePublishedKeys(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	set := fetchJWKS(t, iss)
	for _, opt := range []enginetest.MintOption{enginetest.WithKey(iss.RSAKey()), enginetest.ES256()} {
		raw := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "aud"), opt)
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		keys := set.Key(jws.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q published %d times", jws.Signatures[0].Header.KeyID, len(keys))
		}
		if _, err := jws.Verify(keys[0]); err != nil {
			t.Fatal(err)
		}
	}
	// SignRaw signs exactly what it is given, with either key type.
	for _, k := range []enginetest.Key{iss.RSAKey(), iss.ECKey()} {
		raw := enginetest.SignRaw(t, k, []byte(`{"alg":"`+string(k.Algorithm)+`"}`), []byte(`{"x":1}`))
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{k.Algorithm})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(k.Signer.Public()); err != nil {
			t.Fatalf("SignRaw with %s: %v", k.Algorithm, err)
		}
	}
}

func fetchJWKS(t *testing.T, iss *enginetest.Issuer) jose.JSONWebKeySet {
	t.Helper()
	resp, err := enginetest.Get(t, nil, iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.Algorithm == "" {
			t.Fatalf("published key %q: public %v, use %q, alg %q", k.KeyID, k.IsPublic(), k.Use, k.Algorithm)
		}
	}
	return set
}

func TestKeysRotateAndAreRemoved(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	next := iss.Rotate(t, jose.RS256)
	if set := fetchJWKS(t, iss); len(set.Keys) != 3 || len(set.Key(next.ID)) != 1 {
		t.Fatalf("after a rotation %d keys are published", len(set.Keys))
	}
	iss.Remove(iss.RSAKey().ID)
	if set := fetchJWKS(t, iss); len(set.Keys) != 2 || len(set.Key(iss.RSAKey().ID)) != 0 {
		t.Fatalf("a removed key is still published: %d keys", len(set.Keys))
	}
	iss.Publish(iss.ECKey())
	if set := fetchJWKS(t, iss); len(set.Keys) != 1 {
		t.Fatalf("Publish left %d keys", len(set.Keys))
	}
	iss.ServeJWKS([]byte(`not json`))
	resp, err := enginetest.Get(t, nil, iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if iss.JWKSFetches() != 4 {
		t.Fatalf("%d JWKS fetches counted, want 4", iss.JWKSFetches())
	}
}

func TestTheJWKSEndpointHangsOnRequest(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	iss.Hang(true)
	c := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := enginetest.Get(t, c, iss.JWKSURL()); err == nil {
		resp.Body.Close()
		t.Fatal("a hanging JWKS answered")
	}
	iss.Hang(false)
	if resp, err := enginetest.Get(t, c, iss.JWKSURL()); err != nil {
		t.Fatalf("after Hang(false): %v", err)
	} else {
		resp.Body.Close()
	}
}

func TestDiscoveryCanNameAnotherIssuer(t *testing.T) {
	iss := enginetest.NewIssuer(t, enginetest.WithPath("/gitlab"))
	if !strings.HasSuffix(iss.URL(), "/gitlab") {
		t.Fatalf("URL %q lacks the path", iss.URL())
	}
	iss.SetDiscoveryIssuer("https://gitlab.com")
	ctx := context.Background()
	if _, err := oidc.NewProvider(ctx, iss.URL()); err == nil {
		t.Fatal("go-oidc accepted discovery naming another issuer")
	}
	iss.SetDiscoveryIssuer("")
	if _, err := oidc.NewProvider(ctx, iss.URL()); err != nil {
		t.Fatal(err)
	}
}

func TestClaimShapesAreThePlatforms(t *testing.T) {
	before := time.Now().Unix()
	gl := enginetest.GitLabClaims("https://gitlab.example.com", "https://sts.example.com")
	gh := enginetest.GitHubClaims("https://token.actions.githubusercontent.com", "https://sts.example.com")
	for name, c := range map[string]map[string]any{"GitLab": gl, "GitHub": gh} {
		for _, claim := range []string{"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "ref", "ref_type", "sha"} {
			if _, ok := c[claim]; !ok {
				t.Errorf("%s claims lack %s", name, claim)
			}
		}
		if iat := c["iat"].(int64); iat < before || c["exp"].(int64)-iat != 300 {
			t.Errorf("%s times iat %v exp %v", name, c["iat"], c["exp"])
		}
	}
	for _, claim := range []string{"project_path", "namespace_path", "pipeline_id", "job_id", "ref_protected", "environment"} {
		if _, ok := gl[claim].(string); !ok {
			t.Errorf("GitLab claims lack the string %s", claim)
		}
	}
	for _, claim := range []string{"repository", "repository_owner", "workflow_ref", "job_workflow_ref", "run_id", "actor"} {
		if _, ok := gh[claim].(string); !ok {
			t.Errorf("GitHub claims lack the string %s", claim)
		}
	}
	if gl["jti"] == enginetest.GitLabClaims("i", "a")["jti"] {
		t.Error("two claim sets share a jti")
	}
}
