package verify_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/verify"
)

func TestAOneTimeTokenCannotBeReplayedInTheSkewAfterItsExpiry(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.OneTimeUse = true })
	raw := h.iss.Mint(t, h.claims(map[string]any{"jti": "job-7-attempt-1"}))
	if _, err := h.verify(raw); err != nil {
		t.Fatalf("the first use: %v", err)
	}
	// exp is 300s ahead; 20s past it the token is still valid within the
	// 30s skew, so the store must still remember its jti.
	h.advance(320 * time.Second)
	if v, err := h.verify(raw); v != nil || !errors.Is(err, verify.ErrReplay) {
		t.Fatalf("a replay 20s after exp, within the skew: %+v, %v; want ErrReplay", v, err)
	}
}

func TestAnEmptyAudienceMatchesNothingEvenAProviderListingOne(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.Audiences = []string{"", aud} })
	for _, a := range []any{"", []any{""}, []any{"", "https://other.example"}} {
		if v, err := h.verify(h.iss.Mint(t, h.claims(map[string]any{"aud": a}))); v != nil || !errors.Is(err, verify.ErrClaims) {
			t.Fatalf("aud %v: %+v, %v; want ErrClaims", a, v, err)
		}
	}
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatalf("the provider's real audience: %v", err)
	}
}

// TestCheckClaimsRefusesWhatVerifyWouldRefuse holds CheckClaims, the
// offline check `trustgate explain --provider` runs on a token of any
// issuer, to Verify's claim rules even for claims it is handed directly.
func TestCheckClaimsRefusesWhatVerifyWouldRefuse(t *testing.T) {
	h := newHarness(t)
	now := time.Unix(0, h.now.Load()).Unix()
	num := func(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
	claims := func(patch map[string]any) map[string]any {
		c := map[string]any{"iss": h.prov.Issuer, "sub": "project_path:g/p:ref_type:branch:ref:main", "aud": aud,
			"iat": num(now), "exp": num(now + 300)}
		for k, v := range patch {
			c[k] = v
		}
		return c
	}
	if err := h.v.CheckClaims(h.prov, claims(nil)); err != nil {
		t.Fatalf("valid claims: %v", err)
	}
	tests := []struct {
		name  string
		patch map[string]any
	}{
		{"an iss other than the provider's, as when explain is told the provider", map[string]any{"iss": "https://gitlab.example.com"}},
		{"an aud list holding a non-string beside the provider's audience", map[string]any{"aud": []any{aud, json.Number("1")}}},
		{"an nbf that is a string, not a NumericDate", map[string]any{"nbf": strconv.FormatInt(now+3600, 10)}},
		{"an exp that is a Go number, not a json.Number from the strict parse", map[string]any{"exp": float64(now + 300)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.v.CheckClaims(h.prov, claims(tc.patch)); !errors.Is(err, verify.ErrClaims) {
				t.Fatalf("error %v, want ErrClaims", err)
			}
		})
	}
}
