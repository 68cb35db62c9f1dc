package mint

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signWith signs payload with k as the ring would, but with the given typ:
// a token under the ring's own key that the ring did not issue.
func signWith(t *testing.T, k Key, typ string, payload any) string {
	t.Helper()
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: jose.JSONWebKey{Key: k.Signer, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestVerifyRefusesTokensUnderItsKeyThatItWouldNotIssue(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r, k := newRing(t, ES256)
	claims := map[string]any{"iss": "i", "sub": "s", "aud": []string{"a"}, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Minute).Unix(), "jti": "j1", "client_id": "deploy"}
	with := func(k string, v any) map[string]any {
		c := make(map[string]any, len(claims)+1)
		for name, val := range claims {
			c[name] = val
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	if _, err := r.Verify(signWith(t, k, TokenType, claims), now); err != nil {
		t.Fatalf("the same claims signed as the ring signs: %v", err)
	}
	tests := []struct {
		name string
		raw  string
		// says is the check that refuses it.
		says string
	}{
		{"An ID token (typ JWT) signed with the ring's key is refused (RFC 9068 §2.1, RFC 8725 §3.11).", signWith(t, k, "JWT", claims), "typ is not"},
		{"A token with a claim the ring never writes is refused.", signWith(t, k, TokenType, with("admin", true)), "claims"},
		{"A token without jti is refused: it could never be revoked.", signWith(t, k, TokenType, with("jti", nil)), "no jti"},
		{"A token with an empty jti is refused.", signWith(t, k, TokenType, with("jti", "")), "no jti"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := r.Verify(tc.raw, now); c != nil || !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Verify = %+v, %v; want ErrToken saying %q", c, err, tc.says)
			}
		})
	}
}
