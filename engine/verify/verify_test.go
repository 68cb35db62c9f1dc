package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/verify"
)

func TestSignaturesThatMustNotVerify(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.Algorithms = []string{"RS256", "ES256"} })
	claims := mustJSON(t, h.claims(nil))
	ec, rsaKey := h.iss.ECKey(), h.iss.RSAKey()
	esHeader := []byte(`{"alg":"ES256","kid":"` + ec.ID + `","typ":"JWT"}`)
	esInput := enc(esHeader) + "." + enc(claims)
	derSig := func() string {
		sum := sha256.Sum256([]byte(esInput))
		der, err := ecdsa.SignASN1(rand.Reader, ec.Signer.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return enc(der)
	}
	rsTok := h.iss.Mint(t, h.claims(nil))
	other := h.iss.Mint(t, h.claims(map[string]any{"ref": "feature"}))
	rs, ot := strings.Split(rsTok, "."), strings.Split(other, ".")
	tests := []struct {
		name string
		raw  string
	}{
		{"ES256 with r = s = 0 (CVE-2022-21449, psychic signatures)", esInput + "." + enc(make([]byte, 64))},
		{"ES256 with r = s = 0 and no kid (CVE-2022-21449)", enc([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + enc(claims) + "." + enc(make([]byte, 64))},
		{"ES256 with r = 0, s = 1 (CVE-2022-21449)", esInput + "." + enc(append(make([]byte, 63), 1)) + ""},
		{"ES256 as ASN.1 DER instead of r||s (RFC 7518 §3.4)", esInput + "." + derSig()},
		{"ES256 of the wrong length (RFC 7518 §3.4)", esInput + "." + enc(make([]byte, 65))},
		{"RS256 whose header names the EC key (RFC 8725 §3.1: key and alg must agree)", enginetest.SignRaw(t, rsaKey, []byte(`{"alg":"RS256","kid":"`+ec.ID+`"}`), claims)},
		{"ES256 whose header names the RSA key (RFC 8725 §3.1)", enginetest.SignRaw(t, ec, []byte(`{"alg":"ES256","kid":"`+rsaKey.ID+`"}`), claims)},
		{"an RS256 signature under an ES256 header (alg confusion)", enc(esHeader) + "." + enc(claims) + "." + rs[2]},
		{"a signature moved from another token (RFC 7515 §5.2)", rs[0] + "." + rs[1] + "." + ot[2]},
		{"a payload moved from another token (RFC 7515 §5.2)", rs[0] + "." + ot[1] + "." + rs[2]},
		{"a signature with one bit flipped (RFC 7515 §5.2)", rs[0] + "." + rs[1] + "." + flip(rs[2])},
		{"an empty-looking RSA signature of zeros", rs[0] + "." + rs[1] + "." + enc(make([]byte, 256))},
		{"no kid and a key nobody published", enginetest.SignRaw(t, enginetest.NewKey(t, jose.RS256), []byte(`{"alg":"RS256"}`), claims)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := h.verify(tc.raw)
			if v != nil || !errors.Is(err, verify.ErrSignature) || !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("got %+v, %v; want ErrSignature and no payload", v, err)
			}
		})
	}
}

// flip changes one bit in the middle of a base64url segment.
func flip(seg string) string {
	b, _ := base64.RawURLEncoding.DecodeString(seg)
	b[len(b)/2] ^= 1
	return enc(b)
}

func TestAnAlgorithmTheProviderDoesNotPinIsRefused(t *testing.T) {
	h := newHarness(t) // RS256 only
	tests := []struct {
		name string
		raw  string
	}{
		{"PS256 by the issuer's own RSA key (go-oidc SupportedSigningAlgs, RFC 8725 §3.1)", enginetest.SignRaw(t, h.iss.RSAKey(), []byte(`{"alg":"PS256"}`), mustJSON(t, h.claims(nil)))},
		{"ES256 by the issuer's own EC key (RFC 8725 §3.1)", h.iss.Mint(t, h.claims(nil), enginetest.ES256())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.iss.Requests()
			if _, err := h.verify(tc.raw); !errors.Is(err, verify.ErrSignature) {
				t.Fatalf("error %v, want ErrSignature", err)
			}
			if h.iss.Requests() != before {
				t.Fatal("an unpinned alg caused a request to the issuer")
			}
		})
	}
}

func TestAProviderWithoutAlgorithmsOrLifetimeGetsTheDefaults(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.Algorithms, p.MaxTokenLifetime = nil, 0 })
	now := time.Unix(0, h.now.Load()).Unix()
	if _, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"exp": now + 23*3600}))); err != nil {
		t.Fatalf("RS256 with a 23h lifetime under the defaults: %v", err)
	}
	if _, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"exp": now + 25*3600}))); !errors.Is(err, verify.ErrClaims) {
		t.Fatalf("a 25h lifetime under the 24h default (DESIGN §8): %v", err)
	}
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil), enginetest.ES256())); !errors.Is(err, verify.ErrSignature) {
		t.Fatalf("ES256 under the RS256 default (go-oidc's default too): %v", err)
	}
}

func TestTimesAreCheckedAtTheirBoundaries(t *testing.T) {
	h := newHarness(t) // skew 30s, max lifetime 2h
	// A clock on a whole second, so that "exactly the skew" is exact.
	now := time.Unix(0, h.now.Load()).Unix()
	h.now.Store(time.Unix(now, 0).UnixNano())
	tests := []struct {
		name  string
		patch map[string]any
		want  error // nil: accepted
	}{
		{"exp 29s ago is within the skew (RFC 7519 §4.1.4: some small leeway)", map[string]any{"iat": now - 600, "nbf": now - 600, "exp": now - 29}, nil},
		{"exp exactly the skew ago has expired (RFC 7519 §4.1.4)", map[string]any{"iat": now - 600, "nbf": now - 600, "exp": now - 30}, verify.ErrExpired},
		{"nbf 30s ahead is within the skew (RFC 7519 §4.1.5)", map[string]any{"nbf": now + 30}, nil},
		{"nbf 31s ahead is not yet valid (RFC 7519 §4.1.5)", map[string]any{"nbf": now + 31}, verify.ErrExpired},
		{"iat 31s ahead is issued in the future (RFC 7519 §4.1.6; go-oidc does not check iat)", map[string]any{"iat": now + 31, "nbf": nil}, verify.ErrClaims},
		{"a lifetime of exactly max_token_lifetime is accepted", map[string]any{"exp": now + 7200}, nil},
		{"a lifetime one second over max_token_lifetime is refused (DESIGN §8)", map[string]any{"exp": now + 7201}, verify.ErrClaims},
		{"exp equal to iat is refused", map[string]any{"iat": now, "nbf": nil, "exp": now}, verify.ErrClaims},
		{"exp before iat is refused", map[string]any{"iat": now + 20, "nbf": nil, "exp": now + 10}, verify.ErrClaims},
		{"fractional and exponent NumericDates are read as dates, here long past (RFC 7519 §2)", map[string]any{"iat": json.Number("1.5e0"), "exp": json.Number("2e0")}, verify.ErrExpired},
		{"exp far in the future is refused rather than overflowing", map[string]any{"exp": json.Number("1e300")}, verify.ErrClaims},
		{"exp zero is not a date", map[string]any{"exp": 0}, verify.ErrClaims},
		{"a negative iat is not a date", map[string]any{"iat": -1}, verify.ErrClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := h.verify(h.iss.Mint(t, h.claims(tc.patch)))
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil && (v != nil || !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGoOIDCsOwnReadingOfTheClaimsMustAgree(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name  string
		patch map[string]any
	}{
		{"a _claim_names entry whose source is missing (go-oidc: distributed claims)", map[string]any{"_claim_names": map[string]any{"groups": "src1"}}},
		{"a nonce that is not a string (go-oidc decodes it into a string)", map[string]any{"nonce": 1}},
		{"an at_hash that is not a string (go-oidc decodes it into a string)", map[string]any{"at_hash": []any{1}}},
		{"a _claim_sources that is not a mapping (go-oidc decodes it into a map)", map[string]any{"_claim_sources": "src1"}},
		{"a _claim_sources endpoint that is not a string (go-oidc decodes it into a string)", map[string]any{
			"_claim_names": map[string]any{"groups": "src1"}, "_claim_sources": map[string]any{"src1": map[string]any{"endpoint": 7}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := h.verify(h.iss.Mint(t, h.claims(tc.patch))); !errors.Is(err, verify.ErrClaims) {
				t.Fatalf("error %v, want ErrClaims", err)
			}
		})
	}
}

func TestOneTimeUseSpendsAJTIOnlyOnAnAcceptedToken(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.OneTimeUse = true })
	now := time.Unix(0, h.now.Load()).Unix()
	c := h.claims(map[string]any{"jti": "job-302-attempt-1"})
	forged := h.iss.Mint(t, c, enginetest.WithKey(enginetest.NewKey(t, jose.RS256)), enginetest.WithKID(h.iss.RSAKey().ID))
	if _, err := h.verify(forged); !errors.Is(err, verify.ErrSignature) {
		t.Fatalf("forged: %v", err)
	}
	expired := h.iss.Mint(t, h.claims(map[string]any{"jti": "job-302-attempt-1", "iat": now - 900, "nbf": now - 900, "exp": now - 600}))
	if _, err := h.verify(expired); !errors.Is(err, verify.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	wrongAud := h.iss.Mint(t, h.claims(map[string]any{"jti": "job-302-attempt-1", "aud": "https://other.example"}))
	if _, err := h.verify(wrongAud); !errors.Is(err, verify.ErrClaims) {
		t.Fatalf("wrong audience: %v", err)
	}
	// None of them spent the jti.
	genuine := h.iss.Mint(t, c)
	if _, err := h.verify(genuine); err != nil {
		t.Fatalf("the genuine token after refused copies: %v", err)
	}
	// A new token with the same jti is a replay too (RFC 7519 §4.1.7).
	if _, err := h.verify(h.iss.Mint(t, c)); !errors.Is(err, verify.ErrReplay) || !errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("a second token with the jti: %v, want ErrReplay", err)
	}
	if _, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"jti": ""}))); !errors.Is(err, verify.ErrClaims) {
		t.Fatalf("an empty jti: %v, want ErrClaims", err)
	}
}

// brokenStore is a ReplayStore whose backend is down.
type brokenStore struct{}

func (brokenStore) Use(context.Context, string, string, time.Time) (bool, error) {
	return false, errors.New("replay backend unreachable")
}

func TestAFailingReplayStoreIsAServerErrorNotAnAcceptance(t *testing.T) {
	h := newHarness(t, func(c *verify.Config, p *verify.Provider) {
		c.Replay = brokenStore{}
		p.OneTimeUse = true
	})
	v, err := h.verify(h.iss.Mint(t, h.claims(nil)))
	if v != nil || !errors.Is(err, verify.ErrReplayUnavailable) || errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("got %+v, %v; want ErrReplayUnavailable, a server error", v, err)
	}
	// No store at all fails the same way.
	h2 := newHarness(t, func(c *verify.Config, p *verify.Provider) {
		c.Replay = nil
		p.OneTimeUse = true
	})
	if v, err := h2.verify(h2.iss.Mint(t, h2.claims(nil))); v != nil || !errors.Is(err, verify.ErrReplayUnavailable) {
		t.Fatalf("no replay store: %+v, %v; want ErrReplayUnavailable", v, err)
	}
	// Providers that are not one-time-use never ask the store.
	h.prov.OneTimeUse = false
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
}

func TestNoErrorOrLogLineHoldsAnyPartOfTheToken(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	h := newHarness(t, func(c *verify.Config, p *verify.Provider) {
		c.Logger = zap.New(core)
		c.MinRefreshInterval = time.Second
		p.OneTimeUse = true
	})
	secretSub := "project_path:secret-group/secret-project:ref_type:branch:ref:main"
	good := h.iss.Mint(t, h.claims(map[string]any{"sub": secretSub}))
	parts := strings.Split(good, ".")
	rsaKey := h.iss.RSAKey()
	refusals := []string{
		good[:len(good)-1],
		parts[0] + "." + parts[1],
		enc([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		enginetest.SignRaw(t, rsaKey, []byte(`{"alg":"RS256","jku":"`+secretSub+`"}`), []byte(`{}`)),
		enginetest.SignRaw(t, rsaKey, []byte(`{"alg":"RS256","`+secretSub+`":"x"}`), []byte(`{}`)),
		enginetest.SignRaw(t, rsaKey, []byte(`{"alg":"RS256"}`), []byte(`{"`+secretSub+`":1,"`+secretSub+`":2}`)),
		enginetest.SignRaw(t, rsaKey, []byte(`{"alg":"RS256"}`), []byte(`{"iss":"`+secretSub+`"}`)),
		h.iss.Mint(t, h.claims(map[string]any{"sub": secretSub, "aud": secretSub})),
		h.iss.Mint(t, h.claims(map[string]any{"sub": secretSub, "exp": 1})),
		h.iss.Mint(t, h.claims(map[string]any{"sub": secretSub}), enginetest.WithKID(secretSub)),
	}
	if _, err := h.verify(good); err != nil {
		t.Fatal(err)
	}
	refusals = append(refusals, good) // a replay
	h.iss.ServeJWKS([]byte(secretSub))
	h.advance(10 * time.Minute) // keys expired: the failing refetch is logged
	refusals = append(refusals, h.iss.Mint(t, h.claims(map[string]any{"sub": secretSub, "aud": "https://other.example"})))
	for i, raw := range refusals {
		v, err := h.verify(raw)
		if v != nil || err == nil {
			t.Fatalf("refusal %d was accepted", i)
		}
		for _, piece := range append(strings.Split(raw, "."), secretSub) {
			if len(piece) >= 8 && strings.Contains(err.Error(), piece) {
				t.Fatalf("refusal %d: error %q holds part of the token", i, err)
			}
		}
	}
	waitFor(t, func() bool { return logs.Len() > 0 })
	for _, entry := range logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += " " + k + "=" + strings.ReplaceAll(strings.ReplaceAll(toString(v), "\n", " "), "\t", " ")
		}
		for _, raw := range refusals {
			for _, piece := range strings.Split(raw, ".") {
				if len(piece) >= 8 && strings.Contains(line, piece) {
					t.Fatalf("log line %q holds part of a token", line)
				}
			}
		}
		if strings.Contains(line, secretSub) {
			t.Fatalf("log line %q holds a claim value", line)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAnUnknownIssuerIsRefusedWithoutAnyRequest(t *testing.T) {
	h := newHarness(t)
	other := enginetest.NewIssuer(t)
	u := h.iss.URL()
	for _, tc := range []struct{ name, iss string }{
		{"a real issuer nobody configured", other.URL()},
		{"the issuer with a trailing slash", u + "/"},
		{"the issuer in upper case", strings.ToUpper(u)},
		{"the issuer with https for http", strings.Replace(u, "http://", "https://", 1)},
		{"the issuer under another name for its host", strings.Replace(u, "127.0.0.1", "localhost", 1)},
		{"the issuer on another port", strings.Replace(u, "127.0.0.1:", "127.0.0.1:1", 1)},
		{"the issuer's discovery URL", u + "/.well-known/openid-configuration"},
		{"the issuer with an empty fragment", u + "#"},
		{"the issuer after a space", " " + u},
	} {
		t.Run(tc.name+" does not route (RFC 8725 §3.8: the exact issuer)", func(t *testing.T) {
			iss := tc.iss
			before, otherBefore := h.iss.Requests(), other.Requests()
			v, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"iss": iss})))
			if v != nil || !errors.Is(err, verify.ErrUnknownIssuer) || !errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("got %+v, %v; want ErrUnknownIssuer", v, err)
			}
			if h.iss.Requests() != before || other.Requests() != otherBefore {
				t.Fatal("an unknown issuer caused a request")
			}
		})
	}
}

func TestUnverifiedClaimsArePrecheckedAndStrictlyParsed(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	raw := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), aud))
	claims, err := verify.UnverifiedClaims(raw)
	if err != nil || claims["iss"] != iss.URL() || claims["namespace_path"] != "demo-group" {
		t.Fatalf("a good token: claims %v, error %v", claims, err)
	}
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	for name, tc := range map[string]struct {
		raw  string
		want error
	}{
		"alg none, as the server's pre-check refuses it (RFC 8725 §3.1)": {
			base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", verify.ErrMalformed},
		"a payload in padded base64 (RFC 7515 §2: base64url without padding)": {
			parts[0] + "." + base64.URLEncoding.EncodeToString(payload) + "." + parts[2], verify.ErrMalformed},
		"a payload with a quoted exp (RFC 7519 §2 NumericDate)": {
			parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x","exp":"1"}`)) + "." + parts[2], verify.ErrClaims},
		"two segments": {parts[0] + "." + parts[1], verify.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := verify.UnverifiedClaims(tc.raw); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}
