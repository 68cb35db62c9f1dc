package mint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func newRing(t *testing.T, alg string, previous ...Key) (*KeyRing, Key) {
	t.Helper()
	k, err := Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewKeyRing(k, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

func TestSignedTokensVerifyAgainstThePublishedJWKS(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range []string{ES256, EdDSA, RS256} {
		t.Run(alg, func(t *testing.T) {
			r, k := newRing(t, alg)
			raw, jti, err := r.Sign(Claims{Issuer: "https://sts", Subject: "s", Audience: []string{"a"},
				IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Minute).Unix(), ClientID: "id"})
			if err != nil {
				t.Fatal(err)
			}
			obj, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			h := obj.Signatures[0].Header
			if h.KeyID != k.ID || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
				t.Fatalf("header kid=%q typ=%v, want kid %q typ at+jwt", h.KeyID, h.ExtraHeaders[jose.HeaderType], k.ID)
			}
			// A JWKS consumer sees only public keys.
			pub, err := json.Marshal(r.JWKS())
			if err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(pub, &set); err != nil {
				t.Fatal(err)
			}
			keys := set.Key(k.ID)
			if len(keys) != 1 || !keys[0].IsPublic() {
				t.Fatalf("JWKS has %d keys for kid, public=%v", len(keys), len(keys) == 1 && keys[0].IsPublic())
			}
			payload, err := obj.Verify(keys[0])
			if err != nil {
				t.Fatalf("token does not verify against the published key: %v", err)
			}
			var c Claims
			if err := json.Unmarshal(payload, &c); err != nil || c.ID != jti || c.Subject != "s" {
				t.Fatalf("claims %+v (err %v), want jti %q", c, err, jti)
			}
			if got, err := r.Verify(raw, now); err != nil || got.ID != jti {
				t.Fatalf("Verify = %v, %v", got, err)
			}
		})
	}
}

func TestVerifyRefusesWhatTheRingDidNotSignOrIsNoLongerValid(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r, _ := newRing(t, ES256)
	other, _ := newRing(t, ES256)
	claims := Claims{Issuer: "i", Subject: "s", IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Minute).Unix()}
	good, _, _ := r.Sign(claims)
	foreign, _, _ := other.Sign(claims)
	parts := strings.Split(good, ".")
	tests := []struct {
		name string
		raw  string
		at   time.Time
	}{
		{"a token signed by another key is refused", foreign, now},
		{"an expired token is refused", good, now.Add(time.Minute)},
		{"a token before its nbf is refused", good, now.Add(-time.Second)},
		{"a token with a changed payload is refused", parts[0] + "." + parts[1] + "x." + parts[2], now},
		{"a token without signature is refused", parts[0] + "." + parts[1] + ".", now},
		{"garbage is refused", "not a token", now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := r.Verify(tc.raw, tc.at); err == nil {
				t.Fatalf("Verify accepted it: %+v", c)
			}
		})
	}
}

func TestPreviousKeysArePublishedAndStillVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	old, oldKey := newRing(t, ES256)
	raw, _, _ := old.Sign(Claims{Issuer: "i", Subject: "s", IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Minute).Unix()})
	rotated, newKey := newRing(t, ES256, oldKey)
	if rotated.CurrentKeyID() != newKey.ID {
		t.Fatal("the rotated ring does not sign with the new key")
	}
	set := rotated.JWKS()
	if len(set.Key(oldKey.ID)) != 1 || len(set.Key(newKey.ID)) != 1 {
		t.Fatal("the JWKS does not publish both keys")
	}
	if _, err := rotated.Verify(raw, now); err != nil {
		t.Fatalf("a token of the previous key no longer verifies: %v", err)
	}
}

func TestKeyFilesRoundTripWithOwnerOnlyMode(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		t.Run(alg, func(t *testing.T) {
			k, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := WriteKeyFile(path, k); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want 0600", st.Mode().Perm())
			}
			got, err := LoadKeyFile(path, alg)
			if err != nil || got.ID != k.ID {
				t.Fatalf("loaded kid %q (err %v), want %q", got.ID, err, k.ID)
			}
			if err := WriteKeyFile(path, k); err == nil {
				t.Fatal("WriteKeyFile overwrote an existing key")
			}
		})
	}
}

func TestKeysThatDoNotSuitTheAlgorithmAreRefused(t *testing.T) {
	ec, _ := Generate(ES256)
	if _, err := NewKey(RS256, ec.Signer); err == nil {
		t.Fatal("an EC key was accepted for RS256")
	}
	if _, err := ParseKey([]byte("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n"), ES256); err == nil {
		t.Fatal("a non-PKCS#8 PEM block was accepted")
	}
	if _, err := Generate("HS256"); err == nil {
		t.Fatal("HS256 was accepted")
	}
}

func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		b.Run(alg, func(b *testing.B) {
			k, _ := Generate(alg)
			r, _ := NewKeyRing(k)
			c := Claims{Issuer: "https://sts.example.com", Subject: "deploy@workload.example.com", Audience: []string{"https://api.example.com"},
				IssuedAt: 1, NotBefore: 1, Expiry: 2, Scope: "read write", Roles: []string{"r"}, ClientID: "deploy"}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
