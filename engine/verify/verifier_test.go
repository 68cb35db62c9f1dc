package verify_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
)

const aud = "https://sts.example.com"

// harness is a verifier over one real test issuer, with a clock the test
// moves.
type harness struct {
	iss  *enginetest.Issuer
	v    *verify.Verifier
	ps   providers
	now  atomic.Int64
	prov *verify.Provider
}

func newHarness(t *testing.T, mutate ...func(*verify.Config, *verify.Provider)) *harness {
	t.Helper()
	h := &harness{iss: enginetest.NewIssuer(t)}
	h.now.Store(time.Now().UnixNano())
	h.prov = &verify.Provider{Name: "ci", Issuer: h.iss.URL(), Platform: "gitlab", Audiences: []string{aud},
		Algorithms: []string{"RS256"}, MaxTokenLifetime: 2 * time.Hour}
	clock := func() time.Time { return time.Unix(0, h.now.Load()) }
	store, err := state.Open(context.Background(), "memory:", state.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	cfg := verify.Config{AllowInsecureIssuers: true, Now: clock, Replay: store}
	for _, m := range mutate {
		m(&cfg, h.prov)
	}
	h.v = verify.New(cfg)
	h.ps = providers{h.prov.Issuer: h.prov}
	return h
}

func (h *harness) claims(patch map[string]any) map[string]any {
	c := enginetest.GitLabClaims(h.iss.URL(), aud)
	now := time.Unix(0, h.now.Load()).Unix()
	c["iat"], c["nbf"], c["exp"] = now, now, now+300
	for k, v := range patch {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (h *harness) verify(raw string) (*verify.Verified, error) {
	return h.v.Verify(context.Background(), raw, h.ps)
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pinnable are the algorithms a provider may pin (DESIGN §3; policy's data
// model accepts exactly these).
var pinnable = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.EdDSA,
}

// publishKeysForEveryAlgorithm publishes a key of each pinnable algorithm
// beside the issuer's own, before the verifier first fetches the JWKS.
func publishKeysForEveryAlgorithm(t *testing.T, h *harness) map[jose.SignatureAlgorithm]enginetest.Key {
	t.Helper()
	keys := make(map[jose.SignatureAlgorithm]enginetest.Key, len(pinnable))
	published := []enginetest.Key{h.iss.RSAKey(), h.iss.ECKey()}
	for _, alg := range pinnable {
		keys[alg] = enginetest.NewKey(t, alg)
		published = append(published, keys[alg])
	}
	h.iss.Publish(published...)
	return keys
}

func TestTokensSignedWithEachAlgorithmAProviderMayPinVerify(t *testing.T) {
	h := newHarness(t)
	keys := publishKeysForEveryAlgorithm(t, h)
	now := time.Unix(0, h.now.Load()).Unix()
	shapes := []struct {
		platform string
		claims   map[string]any
	}{
		{"GitLab", enginetest.GitLabClaims(h.iss.URL(), aud)},
		{"GitHub", enginetest.GitHubClaims(h.iss.URL(), aud)},
	}
	for _, alg := range pinnable {
		for _, shape := range shapes {
			c := shape.claims
			c["iat"], c["nbf"], c["exp"] = now, now-5, now+300
			t.Run("a "+shape.platform+" token signed "+string(alg)+" verifies for a provider pinning "+string(alg)+" (RFC 7518 §3.1, RFC 8037 §3.1)", func(t *testing.T) {
				h.prov.Algorithms = []string{string(alg)}
				raw := h.iss.Mint(t, c, enginetest.WithKey(keys[alg]))
				v, err := h.verify(raw)
				if err != nil {
					t.Fatal(err)
				}
				assertVerified(t, h, raw, c, v)
			})
		}
	}
}

// assertVerified checks that v holds exactly what the token raw, of claims
// c, says.
func assertVerified(t *testing.T, h *harness, raw string, c map[string]any, v *verify.Verified) {
	t.Helper()
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	exp := c["exp"].(int64)
	switch {
	case v.Provider != h.prov:
		t.Fatalf("provider %+v", v.Provider)
	case !bytes.Equal(v.Payload, payload):
		t.Fatal("Payload is not the token's payload")
	case v.Issuer != h.iss.URL() || v.Subject != c["sub"] || v.JTI != c["jti"]:
		t.Fatalf("issuer %q subject %q jti %q", v.Issuer, v.Subject, v.JTI)
	case v.IssuedAt.Unix() != c["iat"].(int64) || v.Expiry.Unix() != exp:
		t.Fatalf("iat %s exp %s", v.IssuedAt, v.Expiry)
	case v.Claims["exp"] != json.Number(mustJSON(t, exp)):
		t.Fatalf("exp is %#v, want a json.Number", v.Claims["exp"])
	case v.Claims["ref"] != c["ref"]:
		t.Fatalf("claims %v", v.Claims)
	}
}

func TestATokenSignedWithAnAlgorithmTheProviderDoesNotAllowIsRefused(t *testing.T) {
	h := newHarness(t)
	keys := publishKeysForEveryAlgorithm(t, h)
	for _, alg := range pinnable {
		t.Run("a token signed "+string(alg)+" by a published key is refused by a provider pinning every other algorithm (RFC 8725 §3.1)", func(t *testing.T) {
			h.prov.Algorithms = nil
			for _, other := range pinnable {
				if other != alg {
					h.prov.Algorithms = append(h.prov.Algorithms, string(other))
				}
			}
			before := h.iss.Requests()
			v, err := h.verify(h.iss.Mint(t, h.claims(nil), enginetest.WithKey(keys[alg])))
			if v != nil || !errors.Is(err, verify.ErrSignature) || !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("got %+v, %v; want ErrSignature", v, err)
			}
			if h.iss.Requests() != before {
				t.Fatal("an algorithm the provider does not allow caused a request to the issuer")
			}
		})
	}
}

// TestTheTokenLayerRefusesForgedAndMalformedTokens: each case names its source.
func TestTheTokenLayerRefusesForgedAndMalformedTokens(t *testing.T) {
	h := newHarness(t)
	claims := mustJSON(t, h.claims(nil))
	rsa := h.iss.RSAKey()
	raw := func(header string) string { return enginetest.SignRaw(t, rsa, []byte(header), claims) }
	pubDER, _ := x509.MarshalPKIXPublicKey(rsa.Signer.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacWith := func(key []byte) string {
		in := enc([]byte(`{"alg":"HS256","typ":"JWT","kid":"`+rsa.ID+`"}`)) + "." + enc(claims)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return in + "." + enc(m.Sum(nil))
	}
	good := h.iss.Mint(t, h.claims(nil))
	parts := strings.Split(good, ".")
	unpublished := enginetest.NewKey(t, jose.RS256)
	unpublished.ID = rsa.ID // claims to be the published key
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"alg none (RFC 8725 §3.1)", enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + ".", verify.ErrMalformed},
		{"alg none with a signature (RFC 8725 §3.1)", enc([]byte(`{"alg":"none"}`)) + "." + enc(claims) + ".c2ln", verify.ErrMalformed},
		{"HS256 keyed with the issuer's public key PEM (CVE-2015-9235, RFC 8725 §2.1)", hmacWith(pubPEM), verify.ErrMalformed},
		{"HS256 keyed with the issuer's public key DER (CVE-2015-9235)", hmacWith(pubDER), verify.ErrMalformed},
		{"alg in lower case (RFC 7515 §4.1.1: names are case-sensitive)", raw(`{"alg":"rs256","kid":"` + rsa.ID + `"}`), verify.ErrMalformed},
		{"alg None (RFC 8725 §3.1)", raw(`{"alg":"None"}`), verify.ErrMalformed},
		{"an algorithm the provider does not pin (go-oidc SupportedSigningAlgs)", h.iss.Mint(t, h.claims(nil), enginetest.WithKey(h.iss.ECKey())), verify.ErrSignature},
		{"a signature by an unpublished key that claims a published kid", h.iss.Mint(t, h.claims(nil), enginetest.WithKey(unpublished)), verify.ErrSignature},
		{"an unknown kid", h.iss.Mint(t, h.claims(nil), enginetest.WithKID("no-such-key")), verify.ErrSignature},
		{"a jwk header carrying its own key (RFC 8725 §3.10, CVE-2018-0114)", raw(`{"alg":"RS256","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`), verify.ErrMalformed},
		{"a jku header pointing at keys elsewhere (RFC 8725 §3.10)", raw(`{"alg":"RS256","jku":"https://evil.example/keys"}`), verify.ErrMalformed},
		{"an x5u header (RFC 7515 §4.1.5)", raw(`{"alg":"RS256","x5u":"https://evil.example/cert"}`), verify.ErrMalformed},
		{"an x5c header (RFC 7515 §4.1.6)", raw(`{"alg":"RS256","x5c":["MIIB"]}`), verify.ErrMalformed},
		{"a crit header (RFC 7515 §4.1.11)", raw(`{"alg":"RS256","crit":["exp"],"exp":1}`), verify.ErrMalformed},
		{"b64 false (RFC 7797)", raw(`{"alg":"RS256","b64":false,"crit":["b64"]}`), verify.ErrMalformed},
		{"a nested token cty JWT (RFC 7519 §5.2)", raw(`{"alg":"RS256","cty":"JWT"}`), verify.ErrMalformed},
		{"typ at+jwt: an access token, Trustgate's own included (RFC 9068 §2.1, RFC 8725 §3.11)", raw(`{"alg":"RS256","typ":"at+jwt","kid":"` + rsa.ID + `"}`), verify.ErrMalformed},
		{"typ application/at+jwt (RFC 9068 §2.1)", raw(`{"alg":"RS256","typ":"application/at+jwt"}`), verify.ErrMalformed},
		{"a duplicate alg header (RFC 7515 §4)", raw(`{"alg":"RS256","alg":"none"}`), verify.ErrMalformed},
		{"a JWE (RFC 7516 §7.1)", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", verify.ErrMalformed},
		{"the JWS JSON serialization (RFC 7515 §7.2)", `{"payload":"` + parts[1] + `","signatures":[{"protected":"` + parts[0] + `","signature":"` + parts[2] + `"}]}`, verify.ErrMalformed},
		{"padding in a segment (RFC 7515 §2)", parts[0] + "=." + parts[1] + "." + parts[2], verify.ErrMalformed},
		{"whitespace in a segment", parts[0] + "." + parts[1] + " ." + parts[2], verify.ErrMalformed},
		{"an empty signature", parts[0] + "." + parts[1] + ".", verify.ErrMalformed},
		{"a changed payload with the old signature", parts[0] + "." + enc(mustJSON(t, h.claims(map[string]any{"ref": "other"}))) + "." + parts[2], verify.ErrSignature},
		{"an oversized token, checked before parsing", parts[0] + "." + strings.Repeat("A", 17<<10) + "." + parts[2], verify.ErrMalformed},
	}
	before := h.iss.JWKSFetches()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := h.verify(tc.raw)
			if v != nil || err == nil {
				t.Fatalf("accepted: %+v", v)
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("error %v, want %v (and ErrInvalidToken)", err, tc.want)
			}
			for _, seg := range strings.Split(tc.raw, ".") {
				if len(seg) >= 16 && strings.Contains(err.Error(), seg) {
					t.Fatal("the error holds a token segment")
				}
			}
		})
	}
	// Unknown kids may cause one refresh; nothing else fetched anything.
	if n := h.iss.JWKSFetches() - before; n > 2 {
		t.Fatalf("%d JWKS fetches for the hostile tokens, want at most 2", n)
	}
}

func TestTheClaimsLayerRefusesBadClaims(t *testing.T) {
	h := newHarness(t)
	now := time.Unix(0, h.now.Load()).Unix()
	rsa := h.iss.RSAKey()
	header := []byte(`{"alg":"RS256","kid":"` + rsa.ID + `","typ":"JWT"}`)
	rawPayload := func(p string) string { return enginetest.SignRaw(t, rsa, header, []byte(p)) }
	base := string(mustJSON(t, h.claims(nil)))
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"exp missing (RFC 7519 §4.1.4; required here)", h.iss.Mint(t, h.claims(map[string]any{"exp": nil})), verify.ErrClaims},
		{"exp as a quoted number (RFC 7519 §2 NumericDate)", h.iss.Mint(t, h.claims(map[string]any{"exp": "9999999999"})), verify.ErrClaims},
		{"iat missing", h.iss.Mint(t, h.claims(map[string]any{"iat": nil})), verify.ErrClaims},
		{"iat not a number", h.iss.Mint(t, h.claims(map[string]any{"iat": true})), verify.ErrClaims},
		{"nbf as a string", h.iss.Mint(t, h.claims(map[string]any{"nbf": "0"})), verify.ErrClaims},
		{"expired beyond the skew (RFC 7519 §4.1.4)", h.iss.Mint(t, h.claims(map[string]any{"iat": now - 600, "nbf": now - 600, "exp": now - 31})), verify.ErrExpired},
		{"not valid yet beyond the skew (RFC 7519 §4.1.5)", h.iss.Mint(t, h.claims(map[string]any{"nbf": now + 60, "exp": now + 600})), verify.ErrExpired},
		{"issued in the future beyond the skew (RFC 7519 §4.1.6)", h.iss.Mint(t, h.claims(map[string]any{"iat": now + 60, "nbf": nil, "exp": now + 600})), verify.ErrClaims},
		{"a lifetime beyond max_token_lifetime", h.iss.Mint(t, h.claims(map[string]any{"exp": now + 3*3600})), verify.ErrClaims},
		{"sub missing (RFC 8725 §3.8)", h.iss.Mint(t, h.claims(map[string]any{"sub": nil})), verify.ErrClaims},
		{"sub empty", h.iss.Mint(t, h.claims(map[string]any{"sub": ""})), verify.ErrClaims},
		{"sub not a string", h.iss.Mint(t, h.claims(map[string]any{"sub": 42})), verify.ErrClaims},
		{"jti empty, though this provider is not one-time-use (RFC 7519 §4.1.7)", h.iss.Mint(t, h.claims(map[string]any{"jti": ""})), verify.ErrClaims},
		{"a duplicate claim (RFC 7519 §4: reject)", rawPayload(strings.TrimSuffix(base, "}") + `,"sub":"project_path:other/p:ref_type:branch:ref:main"}`), verify.ErrClaims},
		{"a duplicate claim differing only in case (go-oidc's encoding/json folds case)", rawPayload(strings.TrimSuffix(base, "}") + `,"SUB":"x"}`), verify.ErrClaims},
		{"a claim that is not valid UTF-8 (RFC 8725 §3.7)", rawPayload(strings.TrimSuffix(base, "}") + ",\"x\":\"\xff\"}"), verify.ErrClaims},
		{"aud absent (RFC 8725 §3.9)", h.iss.Mint(t, h.claims(map[string]any{"aud": nil})), verify.ErrClaims},
		{"aud of another service (RFC 7519 §4.1.3)", h.iss.Mint(t, h.claims(map[string]any{"aud": "https://other.example.com"})), verify.ErrClaims},
		{"aud list without ours", h.iss.Mint(t, h.claims(map[string]any{"aud": []string{"a", "b"}})), verify.ErrClaims},
		{"iss with a trailing slash does not route", h.iss.Mint(t, h.claims(map[string]any{"iss": h.iss.URL() + "/"})), verify.ErrUnknownIssuer},
		{"iss in upper case does not route", h.iss.Mint(t, h.claims(map[string]any{"iss": strings.ToUpper(h.iss.URL())})), verify.ErrUnknownIssuer},
		{"iss with another port does not route", h.iss.Mint(t, h.claims(map[string]any{"iss": strings.Replace(h.iss.URL(), "127.0.0.1:", "127.0.0.1:1", 1)})), verify.ErrUnknownIssuer},
		{"iss missing", h.iss.Mint(t, h.claims(map[string]any{"iss": nil})), verify.ErrUnknownIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := h.verify(tc.raw)
			if v != nil || !errors.Is(err, tc.want) || !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("got %+v, %v; want %v", v, err, tc.want)
			}
		})
	}
	// Within the skew is fine.
	if _, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"iat": now + 10, "nbf": now + 10, "exp": now + 600}))); err != nil {
		t.Fatalf("a token 10s ahead (within the 30s skew) was refused: %v", err)
	}
}

func TestKeysRemovedAtTheIssuerStopVerifyingAfterTheMaxKeyAge(t *testing.T) {
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) {
		c.MaxKeyAge = time.Minute
		c.MinRefreshInterval = time.Second
	})
	raw := h.iss.Mint(t, h.claims(nil))
	if _, err := h.verify(raw); err != nil {
		t.Fatal(err)
	}
	h.iss.Publish(h.iss.ECKey()) // the RSA key is withdrawn
	if _, err := h.verify(raw); err != nil {
		t.Fatalf("within the key age the cached key still verifies: %v", err)
	}
	h.now.Add(int64(time.Minute)) // exactly the max key age: the keys are refetched
	fresh := h.iss.Mint(t, h.claims(nil))
	if _, err := h.verify(fresh); !errors.Is(err, verify.ErrSignature) {
		t.Fatalf("a withdrawn key still verifies after the max key age: %v", err)
	}
}

// jwksOf returns the JWKS the harness's issuer serves.
func jwksOf(t *testing.T, h *harness) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.iss.JWKSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	jwks, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return jwks
}

// Each server below serves keys that would verify the token: only the
// redirect rule and the size cap of the Verifier's client stop them.
func TestKeyFetchesAreNotRedirectedToOtherHostsAndAreSizeCapped(t *testing.T) {
	tests := []struct {
		name string
		// serve returns the provider's JWKS URL for a server that hands out
		// jwks through other, a server on another host.
		serve func(t *testing.T, jwks []byte, other *httptest.Server) string
	}{
		{"a JWKS URL that redirects to another host is not followed", func(t *testing.T, _ []byte, other *httptest.Server) string {
			redirector := httptest.NewServer(http.RedirectHandler(other.URL+"/keys", http.StatusFound))
			t.Cleanup(redirector.Close)
			return redirector.URL + "/jwks"
		}},
		{"a JWKS over 1 MiB is refused, not truncated", func(t *testing.T, jwks []byte, _ *httptest.Server) string {
			huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"pad":"` + strings.Repeat("x", 2<<20) + `",` + string(jwks[1:])))
			}))
			t.Cleanup(huge.Close)
			return huge.URL + "/jwks"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			jwks := jwksOf(t, h)
			var otherHits atomic.Int64
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				otherHits.Add(1)
				_, _ = w.Write(jwks)
			}))
			t.Cleanup(other.Close)
			h.prov.JWKSURL = tc.serve(t, jwks, other)
			if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); !errors.Is(err, verify.ErrKeysUnavailable) {
				t.Fatalf("error %v, want ErrKeysUnavailable", err)
			}
			if n := otherHits.Load(); n != 0 {
				t.Fatalf("%d requests reached the other host", n)
			}
		})
	}
}

func TestDiscoveryMustNameTheSameIssuer(t *testing.T) {
	h := newHarness(t)
	h.iss.SetDiscoveryIssuer("https://evil.example.com")
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); !errors.Is(err, verify.ErrKeysUnavailable) {
		t.Fatalf("error %v, want ErrKeysUnavailable (OpenID Connect Discovery §4.3)", err)
	}
}

func TestAOneTimeUseProviderRefusesATokenWithoutJTI(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.OneTimeUse = true })
	v, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"jti": nil})))
	if v != nil || !errors.Is(err, verify.ErrClaims) || !errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("got %+v, %v; want ErrClaims", v, err)
	}
}
