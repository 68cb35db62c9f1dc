package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/mint"
)

// BenchmarkExchange is a whole exchange: pre-check, routing, RS256
// verification with cached keys, strict claims, policy evaluation, ES256
// minting and the decision record.
func BenchmarkExchange(b *testing.B) {
	f := newFixture(b)
	raw := f.token(b, nil)
	req := engine.Request{SubjectToken: raw, Identity: "deploy", ClientIP: "127.0.0.1"}
	if _, err := f.eng.Exchange(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.eng.Exchange(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchangeVsFloor runs whole exchanges and the crypto floor's
// operations interleaved, so both see the same machine, and reports their
// ratio as x-floor: the speed target is x-floor <= 3 (issue 9).
func BenchmarkExchangeVsFloor(b *testing.B) {
	f := newFixture(b)
	raw := f.token(b, nil)
	req := engine.Request{SubjectToken: raw, Identity: "deploy", ClientIP: "127.0.0.1"}
	floor := cryptoFloor(b, f, raw)
	var inExchange, inFloor time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := f.eng.Exchange(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		floor()
		inExchange, inFloor = inExchange+t1.Sub(t0), inFloor+time.Since(t1)
	}
	b.ReportMetric(float64(inExchange)/float64(inFloor), "x-floor")
}

// BenchmarkCryptoFloor is the cryptography an exchange cannot avoid: RS256
// verification of the source token and ES256 signing of the new one. The
// speed target is BenchmarkExchange <= 3 x this, in the same run.
func BenchmarkCryptoFloor(b *testing.B) {
	f := newFixture(b)
	floor := cryptoFloor(b, f, f.token(b, nil))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		floor()
	}
}

// cryptoFloor returns one round of the floor: parse and verify raw with the
// issuer's RSA key, then sign and serialize a small payload with ES256.
func cryptoFloor(b *testing.B, f *fixture, raw string) func() {
	pub := f.issuer.RSAKey().Signer.Public()
	k, err := mint.Generate(mint.ES256)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.Signer}, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": stsIssuer, "sub": "deploy", "exp": 1, "iat": 1})
	return func() {
		obj, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := obj.Verify(pub); err != nil {
			b.Fatal(err)
		}
		sig, err := signer.Sign(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sig.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
}
