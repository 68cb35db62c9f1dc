package policy_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trustgate/trustgate/engine/policy"
)

func loadTeam(t testing.TB, opts policy.Options) *policy.Policy {
	t.Helper()
	p, err := policy.Load(context.Background(), []string{teamBundle}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvaluateWithTheLibrary(t *testing.T) {
	p := loadTeam(t, options())
	tests := []struct {
		name  string
		input ast.Value
		want  policy.Decision
	}{
		{
			name:  "A named identity whose federation matches is granted its roles, scopes, first audience and ttl.",
			input: gitlabInput(t, request{identity: "deploy"}, nil),
			want: policy.Decision{Allow: true, Identity: "deploy", Subject: "deploy@workload.example.com", Roles: []string{"deployer"},
				Scopes: []string{"read", "write"}, Audiences: []string{"https://api.example.com"}, TTLSeconds: 600, Reasons: []string{}},
		},
		{
			name:  "Requested scopes and audiences within the identity's are granted as asked.",
			input: gitlabInput(t, request{identity: "deploy", scopes: []string{"read"}, audiences: []string{"https://other.example.com"}}, nil),
			want: policy.Decision{Allow: true, Identity: "deploy", Subject: "deploy@workload.example.com", Roles: []string{"deployer"},
				Scopes: []string{"read"}, Audiences: []string{"https://other.example.com"}, TTLSeconds: 600, Reasons: []string{}},
		},
		{
			name:  "With no identity named, the one identity that matches is granted, with no ttl of its own.",
			input: gitlabInput(t, request{}, map[string]any{"project_path": "my-group/docs", "sub": "project_path:my-group/docs:ref_type:branch:ref:feature", "ref": "feature"}),
			want: policy.Decision{Allow: true, Identity: "docs-reader", Subject: "docs-reader", Roles: []string{"reader"},
				Scopes: []string{"read"}, Audiences: []string{}, TTLSeconds: 0, Reasons: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := p.Evaluate(context.Background(), tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if !equalDecision(d, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", d, tt.want)
			}
		})
	}
}

func TestEvaluateDeniesWithReasons(t *testing.T) {
	p := loadTeam(t, options())
	tests := []struct {
		name   string
		input  ast.Value
		error  string
		reason string
	}{
		{name: "A ref the federation does not accept is denied.", input: gitlabInput(t, request{identity: "deploy"}, map[string]any{"ref": "feature"}), reason: "ref `branch:feature` is not one of branch:main"},
		{name: "A scope the identity lacks is invalid_scope.", input: gitlabInput(t, request{identity: "deploy", scopes: []string{"admin"}}, nil), error: "invalid_scope", reason: "scope admin is not granted"},
		{name: "An audience the identity lacks is invalid_target.", input: gitlabInput(t, request{identity: "deploy", audiences: []string{"https://evil.example"}}, nil), error: "invalid_target", reason: "audience https://evil.example is not allowed"},
		{name: "A custom rule of the bundle vetoes a matching federation.", input: gitlabInput(t, request{identity: "docs-reader"}, map[string]any{"project_path": "my-group/blocked"}), reason: "project my-group/blocked is blocked"},
		{name: "An unknown identity is denied.", input: gitlabInput(t, request{identity: "nobody"}, nil), reason: "no identity is named nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := p.Evaluate(context.Background(), tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow || d.Error != tt.error || !slices.ContainsFunc(d.Reasons, func(r string) bool { return strings.Contains(r, tt.reason) }) {
				t.Fatalf("decision %+v, want a deny %q saying %q", d, tt.error, tt.reason)
			}
		})
	}
}

// decision renders a decision object for a test library.
func decision(fields string) string {
	return "decision := {" + fields + "}"
}

const (
	denyFields  = `"allow": false, "identity": "", "subject": "", "roles": [], "scopes": [], "audiences": [], "ttl_seconds": 0, "reasons": ["no"]`
	allowFields = `"allow": true, "identity": "deploy", "subject": "deploy@workload.example.com", "roles": ["deployer"], "scopes": ["read"], "audiences": ["https://api.example.com"], "ttl_seconds": 600, "reasons": []`
)

func TestEvaluateRefusesAnythingButAWellFormedDecision(t *testing.T) {
	tests := []struct {
		name    string
		library string
		ok      bool
	}{
		{name: "A well-formed deny is a decision.", library: decision(denyFields), ok: true},
		{name: "A well-formed allow within the identity's data is a decision.", library: decision(allowFields), ok: true},
		{name: "An undefined decision is an error.", library: `decision := {"allow": true} if false`},
		{name: "A decision that is a string is an error.", library: `decision := "allow"`},
		{name: "A decision that is true is an error.", library: `decision := true`},
		{name: "Two conflicting decisions are an error.", library: `decision := {"allow": false} if input.now` + "\n" + `decision := {"allow": true} if input.now`},
		{name: "A decision with an unknown field is an error.", library: decision(denyFields + `, "admin": true`)},
		{name: "A decision with a field in another case is an error.", library: decision(strings.Replace(denyFields, `"allow"`, `"Allow"`, 1))},
		{name: "A decision without allow is an error.", library: decision(strings.Replace(denyFields, `"allow": false, `, "", 1))},
		{name: "A decision without reasons is an error.", library: decision(strings.Replace(denyFields, `, "reasons": ["no"]`, "", 1))},
		{name: "An allow that is the string true is an error.", library: decision(strings.Replace(allowFields, `"allow": true`, `"allow": "true"`, 1))},
		{name: "An allow without an identity is an error.", library: decision(strings.Replace(allowFields, `"identity": "deploy"`, `"identity": ""`, 1))},
		{name: "An allow without a subject is an error.", library: decision(strings.Replace(allowFields, `"subject": "deploy@workload.example.com"`, `"subject": ""`, 1))},
		{name: "An allow with an error is an error.", library: decision(allowFields + `, "error": "invalid_scope"`)},
		{name: "An unknown error code is an error.", library: decision(denyFields + `, "error": "forbidden"`)},
		{name: "Scopes as a set are an error.", library: decision(strings.Replace(allowFields, `"scopes": ["read"]`, `"scopes": {"read"}`, 1))},
		{name: "Scopes as null are an error.", library: decision(strings.Replace(allowFields, `"scopes": ["read"]`, `"scopes": null`, 1))},
		{name: "A scope that is a number is an error.", library: decision(strings.Replace(allowFields, `"scopes": ["read"]`, `"scopes": [1]`, 1))},
		{name: "A reason that is a number is an error, though no grant check reads reasons.", library: decision(strings.Replace(denyFields, `"reasons": ["no"]`, `"reasons": ["no", 7]`, 1))},
		{name: "A decision with a key that is not a string is an error.", library: decision(denyFields + `, 1: true`)},
		{name: "A fractional ttl is an error.", library: decision(strings.Replace(allowFields, `"ttl_seconds": 600`, `"ttl_seconds": 1.5`, 1))},
		{name: "A negative ttl is an error.", library: decision(strings.Replace(denyFields, `"ttl_seconds": 0`, `"ttl_seconds": -1`, 1))},
		{name: "A ttl as a string is an error.", library: decision(strings.Replace(allowFields, `"ttl_seconds": 600`, `"ttl_seconds": "600"`, 1))},
		{name: "An allow of an identity the bundles do not define is an error.", library: decision(strings.Replace(allowFields, `"identity": "deploy"`, `"identity": "root"`, 1))},
		{name: "An allow with another subject is an error.", library: decision(strings.Replace(allowFields, `deploy@workload.example.com`, `admin@workload.example.com`, 1))},
		{name: "An allow of a role the identity lacks is an error.", library: decision(strings.Replace(allowFields, `"roles": ["deployer"]`, `"roles": ["deployer", "admin"]`, 1))},
		{name: "An allow of a scope the identity lacks is an error.", library: decision(strings.Replace(allowFields, `"scopes": ["read"]`, `"scopes": ["admin"]`, 1))},
		{name: "An allow of an audience the identity lacks is an error.", library: decision(strings.Replace(allowFields, `"audiences": ["https://api.example.com"]`, `"audiences": ["https://evil.example"]`, 1))},
		{name: "An allow of a longer ttl than the identity's is an error.", library: decision(strings.Replace(allowFields, `"ttl_seconds": 600`, `"ttl_seconds": 601`, 1))},
		{name: "A builtin error is an error, not an undefined rule.", library: `decision := {"allow": to_number(input.now)}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Library = library(tt.library)
			p := loadTeam(t, opts)
			d, err := p.Evaluate(context.Background(), gitlabInput(t, request{identity: "deploy"}, nil))
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, policy.ErrEvaluation) {
				t.Fatalf("Evaluate = %+v, %v; want ErrEvaluation", d, err)
			}
			if !equalDecision(d, policy.Decision{}) {
				t.Fatalf("an error came with a decision: %+v", d)
			}
			t.Log(err)
		})
	}
}

func TestEvaluateRefusesAnInputThatIsNotAnObject(t *testing.T) {
	p := loadTeam(t, options())
	for _, in := range []ast.Value{nil, ast.String("token"), ast.NewArray()} {
		if _, err := p.Evaluate(context.Background(), in); !errors.Is(err, policy.ErrEvaluation) {
			t.Errorf("input %v: %v", in, err)
		}
	}
}

// slowLibrary never finishes on its own: a million by a million
// iterations, cancellable at every step.
const slowLibrary = `decision := {"allow": false} if {
	some i in numbers.range(1, 1000000)
	some j in numbers.range(1, 1000000)
	i * j < 0
}`

func TestEvaluateStopsAtTheDeadline(t *testing.T) {
	tests := []struct {
		name        string
		evalTimeout time.Duration
		ctxTimeout  time.Duration
	}{
		{name: "Evaluation stops at EvalTimeout.", evalTimeout: 50 * time.Millisecond, ctxTimeout: time.Minute},
		{name: "Evaluation stops at the context's deadline when it comes sooner.", evalTimeout: time.Minute, ctxTimeout: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Library = library(slowLibrary)
			opts.EvalTimeout = tt.evalTimeout
			p := loadTeam(t, opts)
			ctx, cancel := context.WithTimeout(context.Background(), tt.ctxTimeout)
			defer cancel()
			start := time.Now()
			_, err := p.Evaluate(ctx, gitlabInput(t, request{identity: "deploy"}, nil))
			if !errors.Is(err, policy.ErrEvaluation) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Evaluate: %v, want ErrEvaluation and DeadlineExceeded", err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("evaluation took %v", took)
			}
		})
	}
}

func TestEvaluateHasADefaultDeadline(t *testing.T) {
	opts := options()
	opts.Library = library(slowLibrary)
	p := loadTeam(t, opts)
	_, err := p.Evaluate(context.Background(), gitlabInput(t, request{identity: "deploy"}, nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Evaluate: %v", err)
	}
}

func TestExplainSaysWhatMatchedFederationByFederation(t *testing.T) {
	p := loadTeam(t, options())
	ex, err := p.Explain(context.Background(), gitlabInput(t, request{identity: "deploy"}, map[string]any{"ref": "feature"}))
	if err != nil {
		t.Fatal(err)
	}
	id, ok := ex.Identities["deploy"]
	if !ok || len(ex.Identities) != 1 || id.Matched || len(id.Federations) != 1 {
		t.Fatalf("explanation %+v", ex)
	}
	if f := id.Federations[0]; f.Provider != "gitlab" || f.Matched || len(f.Failures) == 0 {
		t.Fatalf("federation %+v", f)
	}
}

func TestExplainRefusesAnythingButAWellFormedExplanation(t *testing.T) {
	tests := []struct {
		name    string
		library string
	}{
		{name: "An undefined explanation is an error.", library: decision(denyFields)},
		{name: "An explanation that is not an object is an error.", library: decision(denyFields) + "\nexplain := []"},
		{name: "An explanation with an unknown field is an error.", library: decision(denyFields) + "\nexplain := {\"identities\": {}, \"debug\": true}"},
		{name: "An explanation without identities is an error.", library: decision(denyFields) + "\nexplain := {}"},
		{name: "An explanation of the wrong shape is an error.", library: decision(denyFields) + "\nexplain := {\"identities\": {\"deploy\": {\"matched\": \"yes\"}}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Library = library(tt.library)
			p := loadTeam(t, opts)
			if _, err := p.Explain(context.Background(), gitlabInput(t, request{identity: "deploy"}, nil)); !errors.Is(err, policy.ErrEvaluation) {
				t.Fatalf("Explain: %v, want ErrEvaluation", err)
			}
		})
	}
}

func equalDecision(a, b policy.Decision) bool {
	return a.Allow == b.Allow && a.Identity == b.Identity && a.Subject == b.Subject && slices.Equal(a.Roles, b.Roles) &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Audiences, b.Audiences) && a.TTLSeconds == b.TTLSeconds &&
		slices.Equal(a.Reasons, b.Reasons) && a.Error == b.Error &&
		(a.Reasons == nil) == (b.Reasons == nil)
}

func TestOutcomeIsTheDecisionWithoutADenialsReasons(t *testing.T) {
	p := loadTeam(t, options())
	tests := []struct {
		name  string
		input ast.Value
	}{
		{name: "A grant is the decision's grant.", input: gitlabInput(t, request{identity: "deploy", scopes: []string{"read"}}, nil)},
		{name: "A grant of the one identity that matches, none named, is the decision's.", input: gitlabInput(t, request{}, map[string]any{"project_path": "my-group/docs", "sub": "project_path:my-group/docs:ref_type:branch:ref:feature", "ref": "feature"})},
		{name: "A ref the federation does not accept is denied, as the decision denies it.", input: gitlabInput(t, request{identity: "deploy"}, map[string]any{"ref": "feature"})},
		{name: "A scope the identity lacks is still invalid_scope.", input: gitlabInput(t, request{identity: "deploy", scopes: []string{"admin"}}, nil)},
		{name: "An audience the identity lacks is still invalid_target.", input: gitlabInput(t, request{identity: "deploy", audiences: []string{"https://evil.example"}}, nil)},
		{name: "A custom veto still denies.", input: gitlabInput(t, request{identity: "docs-reader"}, map[string]any{"project_path": "my-group/blocked"})},
		{name: "An unknown identity is still denied.", input: gitlabInput(t, request{identity: "nobody"}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := p.Evaluate(context.Background(), tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if !want.Allow && len(want.Reasons) == 0 {
				t.Fatalf("the decision %+v is a denial without reasons", want)
			}
			got, err := p.Outcome(context.Background(), tt.input)
			if err != nil {
				t.Fatal(err)
			}
			want.Reasons = nil
			if !equalDecision(got, want) {
				t.Fatalf("outcome  %+v\ndecision %+v (reasons left out)", got, want)
			}
		})
	}
}

func TestOutcomeRefusesWhatEvaluateRefuses(t *testing.T) {
	opts := options()
	opts.Library = library(decision(`"allow": true, "identity": "deploy", "subject": "deploy@workload.example.com", "roles": ["admin"], "scopes": ["read"], "audiences": [], "ttl_seconds": 600, "reasons": []`))
	p := loadTeam(t, opts)
	_, err := p.Outcome(context.Background(), gitlabInput(t, request{identity: "deploy"}, nil))
	if !errors.Is(err, policy.ErrEvaluation) {
		t.Fatalf("got %v, want ErrEvaluation for roles beyond the identity's", err)
	}
}
