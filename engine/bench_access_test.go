package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
)

// benchJITBundle is bundleData plus a people provider (corp) and a just-in-time
// identity the same pipelines may ask for, which corp's prod-approvers
// approve.
func benchJITBundle(issuer, corp string) string {
	const providers = "trustgate:\n  providers:\n"
	data := bundleData(issuer)
	data = providers + "    corp: {issuer: " + corp + ", platform: generic, audiences: [trustgate]}\n" + strings.TrimPrefix(data, providers)
	return data + `    breakglass:
      roles: [db-admin]
      scopes: [read, write]
      audiences: [https://db.example.com]
      ttl: 10m
      access: just-in-time
      jit:
        max_duration: 4h
        default_duration: 1h
        bind: ref
        approvers:
          - provider: corp
            claims: {groups: prod-approvers}
      federations:
        - provider: test
          claims:
            namespace_path: my-group
            ref_protected: "true"
          refs: ["branch:main"]
`
}

// newJITFixture is newFixture with just-in-time access on a state store at
// url, and an approved request for breakglass that binds f.token's ref.
func newJITFixture(b *testing.B, url string) *fixture {
	iss, corp := enginetest.NewIssuer(b), enginetest.NewIssuer(b)
	st, err := state.Open(context.Background(), url, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	svc, err := access.New(access.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Issuer: stsIssuer, Verifier: verify.New(verify.Config{AllowInsecureIssuers: true, Replay: st}),
		Keys: newRing(b), Revocations: st, Access: svc, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{eng: eng, issuer: iss, bundle: b.TempDir(), store: st}
	f.reload(b, map[string]string{"data.yaml": benchJITBundle(iss.URL(), corp.URL())})
	ctx := context.Background()
	r, err := eng.RequestAccess(ctx, engine.AccessCall{Token: f.token(b, nil)}, access.NewRequest{Identity: "breakglass", Reason: "benchmark"})
	if err != nil {
		b.Fatal(err)
	}
	approver := corp.Mint(b, enginetest.PersonClaims(corp.URL(), "trustgate", "alice", "prod-approvers"))
	if _, err := eng.ReviewAccess(ctx, engine.AccessCall{Token: approver}, r.ID, access.VerdictApprove, "benchmark"); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkExchangeJustInTime is a whole exchange for a just-in-time
// identity with an active grant (the grants read from the store, the
// grant in the policy input and the claim), next to a standing identity's
// exchange on the same engine, on the in-memory and the SQLite store.
func BenchmarkExchangeJustInTime(b *testing.B) {
	for _, backend := range []struct{ name, url string }{
		{"memory", "memory:"},
		{"sqlite", "sqlite:" + filepath.Join(b.TempDir(), "state.db")},
	} {
		f := newJITFixture(b, backend.url)
		raw := f.token(b, nil)
		for _, identity := range []string{"breakglass", "deploy"} {
			b.Run(backend.name+"/"+identity, func(b *testing.B) {
				req := engine.Request{SubjectToken: raw, Identity: identity, ClientIP: "127.0.0.1"}
				b.ReportAllocs()
				for b.Loop() {
					tok, err := f.eng.Exchange(context.Background(), req)
					if err != nil {
						b.Fatal(err)
					}
					if tok.Identity != identity {
						b.Fatalf("granted %s", tok.Identity)
					}
				}
			})
		}
	}
}
