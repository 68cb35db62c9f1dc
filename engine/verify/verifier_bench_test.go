package verify_test

import (
	"context"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/verify"
)

// providers is a fixed issuer index for tests.
type providers map[string]*verify.Provider

func (p providers) ProviderByIssuer(iss string) (*verify.Provider, bool) {
	v, ok := p[iss]
	return v, ok
}

// BenchmarkVerify is the verify stage with cached keys: pre-check, strict
// parse, routing, go-oidc with RS256, claim checks.
func BenchmarkVerify(b *testing.B) {
	iss := enginetest.NewIssuer(b)
	ps := providers{iss.URL(): {Name: "ci", Issuer: iss.URL(), Platform: "gitlab", Audiences: []string{"https://sts.example.com"},
		Algorithms: []string{"RS256"}, MaxTokenLifetime: 24 * 3600 * 1e9}}
	v := verify.New(verify.Config{AllowInsecureIssuers: true})
	raw := iss.Mint(b, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com"))
	if _, err := v.Verify(context.Background(), raw, ps); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), raw, ps); err != nil {
			b.Fatal(err)
		}
	}
}
