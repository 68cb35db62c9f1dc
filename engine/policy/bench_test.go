package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/trustgate/trustgate/engine/policy"
)

// manyIdentities writes a bundle of n GitLab identities, each with one
// federation of the shape DESIGN §3 shows, and returns its directory.
func manyIdentities(b *testing.B, n int) string {
	b.Helper()
	ids := make(map[string]any, n)
	for i := range n {
		group := fmt.Sprintf("group-%d", i)
		ids[fmt.Sprintf("id-%d", i)] = map[string]any{
			"email":       fmt.Sprintf("id-%d@workload.example.com", i),
			"description": "benchmark identity",
			"roles":       []string{"deployer"},
			"scopes":      []string{"read", "write"},
			"audiences":   []string{"https://api.example.com"},
			"ttl":         "15m",
			"federations": []any{map[string]any{
				"provider": "gitlab",
				"subject":  "project_path:" + group + "/*:ref_type:branch:ref:main",
				"claims":   map[string]any{"namespace_path": group, "ref_protected": "true"},
				"refs":     []string{"branch:main", "tag:v*"},
			}},
		}
	}
	return gitlabBundle(b, ids)
}

// gitlabBundle writes a bundle of ids with one provider, gitlab.com, and
// returns its directory.
func gitlabBundle(b *testing.B, ids map[string]any) string {
	b.Helper()
	raw, err := json.Marshal(map[string]any{"trustgate": map[string]any{
		"providers":  map[string]any{"gitlab": map[string]any{"issuer": "https://gitlab.com", "platform": "gitlab"}},
		"identities": ids,
	}})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.json"), raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkEvaluate evaluates a named identity's grant with the embedded
// library: the cost must not grow with the number of identities.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("identities=%d", n), func(b *testing.B) {
			dir := manyIdentities(b, n)
			p, err := policy.Load(context.Background(), []string{dir}, options())
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("id-%d", n/2)
			group := fmt.Sprintf("group-%d", n/2)
			in := gitlabInput(b, request{identity: name, scopes: []string{"read"}}, map[string]any{
				"namespace_path": group,
				"project_path":   group + "/app",
				"sub":            "project_path:" + group + "/app:ref_type:branch:ref:main",
			})
			ctx := context.Background()
			d, err := p.Evaluate(ctx, in)
			if err != nil || !d.Allow {
				b.Fatalf("decision %+v, %v", d, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Evaluate(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoad loads, validates and compiles a bundle of 100000 identities:
// the cost of a reload. It also reports live-MB, the heap one loaded policy
// keeps (after a GC), which a reload briefly needs twice.
func BenchmarkLoad(b *testing.B) {
	dir := manyIdentities(b, 100000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var p *policy.Policy
	for b.Loop() {
		var err error
		if p, err = policy.Load(ctx, []string{dir}, options()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	with := liveHeap()
	runtime.KeepAlive(p) // p is dead from here on
	b.ReportMetric(float64(with-liveHeap())/(1<<20), "live-MB")
}

// liveHeap is the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkEvaluateOverhead is Evaluate with a library whose decision is a
// constant: the cost of the deadline, the prepared query, the strict
// decoding and the grant check, without the library's matching.
func BenchmarkEvaluateOverhead(b *testing.B) {
	opts := options()
	opts.Library = library(decision(allowFields))
	p, err := policy.Load(context.Background(), []string{teamBundle}, opts)
	if err != nil {
		b.Fatal(err)
	}
	in := gitlabInput(b, request{identity: "deploy"}, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// minimalLibrary is the least a library can evaluate to grant the team
// bundle's deploy identity: its federation's subject, claims and refs as
// bare globs and the custom deny, with no fail-closed handling, reasons or
// explanation. BenchmarkEvaluateMinimal with it is the evaluator's own cost
// for this decision, the floor under BenchmarkEvaluateLibrary.
const minimalLibrary = `
id := data.trustgate.identities[input.request.identity]

matches(fed) if {
	fed.provider == input.provider.name
	glob.match(fed.subject, ["/"], input.token.sub)
	every name, p in fed.claims {
		glob.match(p, ["/"], input.token[name])
	}
	some r in fed.refs
	glob.match(r, ["/"], concat(":", [input.token.ref_type, input.token.ref]))
}

default vetoes := set()

vetoes := data.trustgate.custom.deny

decision := {
	"allow": true, "identity": input.request.identity, "subject": id.email, "roles": id.roles,
	"scopes": id.scopes, "audiences": [id.audiences[0]], "ttl_seconds": 600, "reasons": [],
} if {
	some fed in id.federations
	matches(fed)
	count(vetoes) == 0
}`

// BenchmarkEvaluateLibrary and BenchmarkEvaluateMinimal grant the same
// identity for the same input, with the embedded library and with
// minimalLibrary.
func BenchmarkEvaluateLibrary(b *testing.B) { benchmarkGrant(b, options()) }

func BenchmarkEvaluateMinimal(b *testing.B) {
	opts := options()
	opts.Library = library(minimalLibrary)
	benchmarkGrant(b, opts)
}

func benchmarkGrant(b *testing.B, opts policy.Options) {
	p, err := policy.Load(context.Background(), []string{teamBundle}, opts)
	if err != nil {
		b.Fatal(err)
	}
	in := gitlabInput(b, request{identity: "deploy"}, nil)
	ctx := context.Background()
	if d, err := p.Evaluate(ctx, in); err != nil || !d.Allow {
		b.Fatalf("decision %+v, %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// perProject writes a bundle of n GitLab identities, one per project, each
// federated on its exact project_path, as a security team with one identity
// per project keeps them, and returns its directory.
func perProject(b *testing.B, n int) string {
	b.Helper()
	ids := make(map[string]any, n)
	for i := range n {
		ids[fmt.Sprintf("project-%d", i)] = map[string]any{
			"roles":     []string{"deployer"},
			"scopes":    []string{"read", "write"},
			"audiences": []string{"https://api.example.com"},
			"ttl":       "15m",
			"federations": []any{map[string]any{
				"provider": "gitlab",
				"claims":   map[string]any{"project_path": fmt.Sprintf("group/project-%d", i), "ref_protected": "true"},
				"refs":     []string{"branch:main", "tag:v*"},
			}},
		}
	}
	return gitlabBundle(b, ids)
}

// BenchmarkEvaluateUnnamed evaluates a token that names no identity against
// one identity per project, granted and denied (an unprotected ref): the
// cost must not grow with the number of identities.
func BenchmarkEvaluateUnnamed(b *testing.B) {
	for _, n := range []int{10, 100000} {
		dir := perProject(b, n)
		p, err := policy.Load(context.Background(), []string{dir}, options())
		if err != nil {
			b.Fatal(err)
		}
		for _, protected := range []string{"true", "false"} {
			b.Run(fmt.Sprintf("identities=%d/ref_protected=%s", n, protected), func(b *testing.B) {
				path := fmt.Sprintf("group/project-%d", n/2)
				in := gitlabInput(b, request{}, map[string]any{
					"namespace_path": "group", "project_path": path, "ref_protected": protected,
					"sub": "project_path:" + path + ":ref_type:branch:ref:main",
				})
				ctx := context.Background()
				if d, err := p.Evaluate(ctx, in); err != nil || d.Allow != (protected == "true") {
					b.Fatalf("decision %+v, %v", d, err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Evaluate(ctx, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
