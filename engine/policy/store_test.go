package policy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trustgate/trustgate/engine/policy"
)

// With release's data and part of the index spoilt, every evaluation that
// reads them fails: those that succeed read only the identities they could
// be granted and the index entries that lead to them.
func TestAnExchangeReadsOnlyTheIdentitiesAndIndexEntriesItNeeds(t *testing.T) {
	p := loadTeam(t, options())
	policy.SpoilIdentity(p, "release")
	policy.SpoilIndex(p, "gitlab")
	tests := []struct {
		name     string
		input    ast.Value
		allow    bool
		identity string
		reason   string
	}{
		{name: "A named identity is read alone.", input: gitlabInput(t, request{identity: "deploy"}, nil), allow: true, identity: "deploy"},
		{name: "A token naming no identity reads only its candidates.", input: gitlabInput(t, request{}, nil), allow: true, identity: "deploy"},
		{name: "An email is found in the index, not by reading every identity.", input: gitlabInput(t, request{identity: "deploy@workload.example.com"}, nil), allow: true, identity: "deploy"},
		{name: "A name no identity has reads no identity.", input: gitlabInput(t, request{identity: "nobody"}, nil), reason: "no identity is named nobody or has it as email"},
		{name: "A denial naming no identity reads only its candidates.", input: gitlabInput(t, request{}, map[string]any{"ref_protected": "false"}),
			reason: "identity deploy, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := p.Evaluate(context.Background(), tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow || d.Allow && d.Identity != tt.identity || !d.Allow && !slices.Contains(d.Reasons, tt.reason) {
				t.Fatalf("decision %+v, want allow %v identity %q reason %q", d, tt.allow, tt.identity, tt.reason)
			}
		})
	}
	t.Run("Reading the spoilt identity fails closed.", func(t *testing.T) {
		d, err := p.Evaluate(context.Background(), gitlabInput(t, request{identity: "release"}, nil))
		if !errors.Is(err, policy.ErrEvaluation) || d.Allow {
			t.Fatalf("decision %+v, error %v: want ErrEvaluation", d, err)
		}
	})
	t.Run("Reading the spoilt index entry fails closed.", func(t *testing.T) {
		d, err := p.Evaluate(context.Background(), gitlabInput(t, request{}, map[string]any{"namespace_path": "spoilt"}))
		if !errors.Is(err, policy.ErrEvaluation) || d.Allow {
			t.Fatalf("decision %+v, error %v: want ErrEvaluation", d, err)
		}
	})
	t.Run("An explanation naming no identity reads every identity.", func(t *testing.T) {
		if _, err := p.Explain(context.Background(), gitlabInput(t, request{}, nil)); !errors.Is(err, policy.ErrEvaluation) {
			t.Fatalf("error %v: want ErrEvaluation", err)
		}
	})
}

func TestABundleRuleThatReadsEveryIdentityStillSeesThemAll(t *testing.T) {
	dir := copyDir(t, teamBundle)
	writeFiles(t, dir, map[string]string{"custom.rego": `package trustgate.custom

deny contains sprintf("%d identities, %s", [count(data.trustgate.identities), concat(" ", emails)]) if {
	input.token.project_path == "my-group/probe"
	emails := sort([id.email | some id in data.trustgate.identities; id.email])
}
`})
	p, err := policy.Load(context.Background(), []string{dir}, options())
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.Evaluate(context.Background(), gitlabInput(t, request{identity: "deploy"}, map[string]any{"project_path": "my-group/probe"}))
	if err != nil {
		t.Fatal(err)
	}
	want := "3 identities, deploy@workload.example.com release@workload.example.com"
	if d.Allow || !slices.Contains(d.Reasons, want) {
		t.Fatalf("decision %+v, want a denial saying %q", d, want)
	}
}

func TestAnExplanationNamingNoIdentityExplainsEveryIdentity(t *testing.T) {
	p := loadTeam(t, options())
	ex, err := p.Explain(context.Background(), gitlabInput(t, request{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range ex.Identities {
		names = append(names, name)
	}
	slices.Sort(names)
	if got := strings.Join(names, " "); got != "deploy docs-reader release" {
		t.Fatalf("explained %s, want deploy docs-reader release", got)
	}
}

// Run with -race: evaluations share the identities the store keeps as AST.
func TestConcurrentEvaluationsShareTheIdentitiesTheStoreKeeps(t *testing.T) {
	p := loadTeam(t, options())
	inputs := []ast.Value{
		gitlabInput(t, request{identity: "deploy"}, nil),
		gitlabInput(t, request{}, nil),
		gitlabInput(t, request{identity: "docs-reader"}, map[string]any{"project_path": "my-group/docs"}),
		gitlabInput(t, request{}, map[string]any{"ref_protected": "false"}),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(inputs))
	for range 8 {
		for i, in := range inputs {
			wg.Go(func() {
				d, err := p.Evaluate(context.Background(), in)
				if err == nil && d.Allow != (i < 3) {
					err = fmt.Errorf("input %d: decision %+v", i, d)
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
