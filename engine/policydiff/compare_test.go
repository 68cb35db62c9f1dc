package policydiff_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/policydiff"
	"github.com/trustgate/trustgate/policies"
)

// baseData is the policy every case of TestCompare changes: two standing
// identities of one GitLab provider told apart by subject, one
// just-in-time identity approved by people of a generic IdP.
func baseData() map[string]any {
	return map[string]any{"trustgate": map[string]any{
		"providers": map[string]any{
			"gitlab": map[string]any{"issuer": "https://gitlab.com", "platform": "gitlab", "audiences": []any{serverIssuer}, "max_token_lifetime": "2h"},
			"corp":   map[string]any{"issuer": "https://login.example.com", "platform": "generic", "audiences": []any{"trustgate"}, "one_time_use": true},
		},
		"identities": map[string]any{
			"deploy": map[string]any{
				"email": "deploy@workload.example.com", "roles": []any{"deployer"}, "scopes": []any{"read", "write"},
				"audiences": []any{"https://api.example.com", "https://other.example.com"}, "ttl": "15m", "expires_at": "2027-06-30T00:00:00Z",
				"federations": []any{map[string]any{
					"provider": "gitlab",
					"subject":  "project_path:my-group/app:*",
					"claims":   map[string]any{"project_path": "my-group/*", "ref_protected": "true", "pipeline_source": "?ush", "run": "?"},
					"refs":     []any{"branch:main", "tag:v*"},
				}},
			},
			"reader": map[string]any{
				"scopes": []any{"read"}, "audiences": []any{"https://api.example.com"}, "ttl": "5m",
				"federations": []any{map[string]any{"provider": "gitlab", "subject": "project_path:my-group/docs:*"}},
			},
			"breakglass": map[string]any{
				"scopes": []any{"admin"}, "audiences": []any{"https://db.example.com"}, "ttl": "5m", "access": "just-in-time",
				"jit": map[string]any{"max_duration": "1h", "default_duration": "30m", "bind": "ref",
					"approvers": []any{map[string]any{"provider": "corp", "claims": map[string]any{"groups": "prod-approvers"}}}},
				"federations": []any{map[string]any{"provider": "gitlab", "subject": "project_path:my-group/db:*"}},
			},
		},
	}}
}

// readsDescription is a custom rule that reads identities' data.
const readsDescription = baseRego + "\ndeny contains \"unapproved\" if data.trustgate.identities[input.request.identity].description != \"approved\"\n"

const baseRego = `package trustgate.custom

deny contains "forks are refused" if input.token.project_path == "fork/app"
`

func TestCompare(t *testing.T) {
	deployFed := func(d map[string]any) map[string]any {
		return at(d, "trustgate", "identities", "deploy", "federations", 0)
	}
	claims := func(d map[string]any) map[string]any { return at(deployFed(d), "claims") }
	deploy := func(d map[string]any) map[string]any { return at(d, "trustgate", "identities", "deploy") }
	jit := func(d map[string]any) map[string]any { return at(d, "trustgate", "identities", "breakglass", "jit") }
	gitlab := func(d map[string]any) map[string]any { return at(d, "trustgate", "providers", "gitlab") }
	tests := []struct {
		name   string
		base   func(map[string]any) // changes the base data, when the case needs another
		head   func(map[string]any)
		rego   string // head's custom.rego, when it differs
		regoB  string // base's custom.rego, when it differs
		want   policydiff.Effect
		expect string // in the example or reason of some change, when set
	}{
		{name: "The same policy changes nothing.", head: func(map[string]any) {}, want: policydiff.None},
		{name: "A claim's `*` made `**` widens to subgroups.", head: func(d map[string]any) { claims(d)["project_path"] = "my-group/**" },
			want: policydiff.Widens, expect: "project_path=my-group/x/x"},
		{name: "A claim's `**` made `*` narrows.", base: func(d map[string]any) { claims(d)["project_path"] = "my-group/**" },
			head: func(d map[string]any) { claims(d)["project_path"] = "my-group/*" }, want: policydiff.Narrows},
		{name: "A claim's a/b* made a/* widens.", base: func(d map[string]any) { claims(d)["project_path"] = "my-group/b*" },
			head: func(d map[string]any) { claims(d)["project_path"] = "my-group/*" }, want: policydiff.Widens, expect: "project_path=my-group/x"},
		{name: "A claim's a/* made a/b* narrows.", head: func(d map[string]any) { claims(d)["project_path"] = "my-group/b*" }, want: policydiff.Narrows},
		{name: "An escaped star made a star widens.", base: func(d map[string]any) { claims(d)["project_path"] = `my-group/\*` },
			head: func(d map[string]any) { claims(d)["project_path"] = "my-group/*" }, want: policydiff.Widens},
		{name: "A star made an escaped star narrows.", head: func(d map[string]any) { claims(d)["project_path"] = `my-group/\*` }, want: policydiff.Narrows},
		{name: "An escaped question mark made a question mark widens.", base: func(d map[string]any) { claims(d)["pipeline_source"] = `\?ush` },
			head: func(d map[string]any) { claims(d)["pipeline_source"] = "?ush" }, want: policydiff.Widens, expect: "pipeline_source="},
		{name: "A question mark made a star widens: it also matches none or many.", head: func(d map[string]any) { claims(d)["pipeline_source"] = "*ush" },
			want: policydiff.Widens, expect: "pipeline_source="},
		{name: "A claim moved from exact to list matching with the same pattern changes nothing.",
			head: func(d map[string]any) { claims(d)["project_path"] = []any{"my-group/*"} }, want: policydiff.None},
		{name: "A claim moved to a list with one more pattern widens.",
			head: func(d map[string]any) { claims(d)["project_path"] = []any{"my-group/*", "other/*"} }, want: policydiff.Widens, expect: "project_path=other/x"},
		{name: "A claim's list cut to one pattern narrows.", base: func(d map[string]any) { claims(d)["project_path"] = []any{"my-group/*", "other/*"} },
			head: func(d map[string]any) { claims(d)["project_path"] = "my-group/*" }, want: policydiff.Narrows},
		{name: "Alternatives written as a list change nothing.", base: func(d map[string]any) { claims(d)["project_path"] = "my-group/{app,web}" },
			head: func(d map[string]any) { claims(d)["project_path"] = []any{"my-group/app", "my-group/web"} }, want: policydiff.None},
		{name: "A range written as a set changes nothing.", base: func(d map[string]any) { claims(d)["run"] = "[a-c]" },
			head: func(d map[string]any) { claims(d)["run"] = "[abc]" }, want: policydiff.None},
		{name: "A pattern that is a number's JSON text matches the number, which a question mark does not.",
			head: func(d map[string]any) { claims(d)["run"] = "1" }, want: policydiff.Both, expect: "run=1"},
		{name: "A dropped claim widens.", head: func(d map[string]any) { delete(claims(d), "ref_protected") }, want: policydiff.Widens, expect: "any ref_protected"},
		{name: "An added claim narrows.", head: func(d map[string]any) { claims(d)["environment_protected"] = "true" }, want: policydiff.Narrows},
		{name: "A dropped ref restriction widens.", head: func(d map[string]any) { delete(deployFed(d), "refs") }, want: policydiff.Widens, expect: "any ref"},
		{name: "An added ref restriction narrows.", head: func(d map[string]any) { deployFed(d)["refs"] = []any{"branch:main"} }, want: policydiff.Narrows},
		{name: "Refs tag:v* made tag:** widen across segments.", head: func(d map[string]any) { deployFed(d)["refs"] = []any{"branch:main", "tag:**"} },
			want: policydiff.Widens, expect: "ref tag:"},
		{name: "Refs of branch:main made branch:* widen.", head: func(d map[string]any) { deployFed(d)["refs"] = []any{"branch:*", "tag:v*"} }, want: policydiff.Widens},
		{name: "Refs reordered change nothing.", head: func(d map[string]any) { deployFed(d)["refs"] = []any{"tag:v*", "branch:main"} }, want: policydiff.None},
		{name: "An environment list given where there was none narrows.", head: func(d map[string]any) { deployFed(d)["environments"] = []any{"production"} }, want: policydiff.Narrows},
		{name: "An environment added to the list widens.", base: func(d map[string]any) { deployFed(d)["environments"] = []any{"production"} },
			head: func(d map[string]any) { deployFed(d)["environments"] = []any{"production", "staging"} }, want: policydiff.Widens, expect: "environment=staging"},
		{name: "A subject's `*` made `**` widens.", head: func(d map[string]any) { deployFed(d)["subject"] = "project_path:my-group/app:**" }, want: policydiff.Widens},
		{name: "A dropped subject widens.", head: func(d map[string]any) { delete(deployFed(d), "subject") }, want: policydiff.Widens, expect: "any sub"},
		{name: "A new federation that no base federation covers widens.", head: func(d map[string]any) {
			deploy(d)["federations"] = append(deploy(d)["federations"].([]any), map[string]any{"provider": "gitlab", "subject": "project_path:other/app:*"})
		}, want: policydiff.Widens},
		{name: "A new federation a base federation covers opens nothing.", head: func(d map[string]any) {
			narrower := clone(t, deployFed(d))
			narrower["environments"] = []any{"production"}
			deploy(d)["federations"] = append(deploy(d)["federations"].([]any), narrower)
		}, want: policydiff.None},
		{name: "A new federation of another provider widens.", head: func(d map[string]any) {
			deploy(d)["federations"] = append(deploy(d)["federations"].([]any), map[string]any{"provider": "corp", "claims": map[string]any{"groups": "ops"}})
		}, want: policydiff.Widens},
		{name: "A federation moved to another provider widens and narrows.", head: func(d map[string]any) { deployFed(d)["provider"] = "corp" }, want: policydiff.Both},
		{name: "A federation removed while another keeps its tokens changes nothing.", base: func(d map[string]any) {
			deploy(d)["federations"] = append(deploy(d)["federations"].([]any), clone(t, deployFed(d)))
		}, head: func(d map[string]any) { deploy(d)["federations"] = deploy(d)["federations"].([]any)[:1] }, want: policydiff.None},
		{name: "More scopes widen.", head: func(d map[string]any) { deploy(d)["scopes"] = []any{"read", "write", "admin"} }, want: policydiff.Widens, expect: "admin"},
		{name: "Fewer scopes narrow.", head: func(d map[string]any) { deploy(d)["scopes"] = []any{"read"} }, want: policydiff.Narrows},
		{name: "More roles widen.", head: func(d map[string]any) { deploy(d)["roles"] = []any{"deployer", "admin"} }, want: policydiff.Widens},
		{name: "More audiences widen.", head: func(d map[string]any) {
			deploy(d)["audiences"] = []any{"https://api.example.com", "https://other.example.com", "https://db.example.com"}
		}, want: policydiff.Widens},
		{name: "Another default audience widens.", head: func(d map[string]any) {
			deploy(d)["audiences"] = []any{"https://other.example.com", "https://api.example.com"}
		}, want: policydiff.Widens, expect: "aud=https://other.example.com"},
		{name: "A longer ttl widens.", head: func(d map[string]any) { deploy(d)["ttl"] = "1h" }, want: policydiff.Widens},
		{name: "A shorter ttl narrows.", head: func(d map[string]any) { deploy(d)["ttl"] = "5m" }, want: policydiff.Narrows},
		{name: "A ttl left to the server's default may be either.", head: func(d map[string]any) { delete(deploy(d), "ttl") }, want: policydiff.Both},
		{name: "An extended expires_at widens.", head: func(d map[string]any) { deploy(d)["expires_at"] = "2028-01-01T00:00:00Z" }, want: policydiff.Widens},
		{name: "A removed expires_at widens.", head: func(d map[string]any) { delete(deploy(d), "expires_at") }, want: policydiff.Widens},
		{name: "An earlier expires_at narrows.", head: func(d map[string]any) { deploy(d)["expires_at"] = "2027-01-01T00:00:00Z" }, want: policydiff.Narrows},
		{name: "An email given widens: callers may name the identity by it.", head: func(d map[string]any) {
			at(d, "trustgate", "identities", "reader")["email"] = "reader@workload.example.com"
		}, want: policydiff.Widens},
		{name: "A new identity widens.", head: func(d map[string]any) {
			at(d, "trustgate", "identities")["new"] = map[string]any{"scopes": []any{"read"}, "federations": []any{map[string]any{"provider": "gitlab", "subject": "project_path:new/app:*"}}}
		}, want: policydiff.Widens},
		{name: "A removed identity narrows.", head: func(d map[string]any) { delete(at(d, "trustgate", "identities"), "reader") }, want: policydiff.Narrows},
		{name: "Just-in-time made standing widens.", head: func(d map[string]any) {
			b := at(d, "trustgate", "identities", "breakglass")
			delete(b, "access")
			delete(b, "jit")
		}, want: policydiff.Widens},
		{name: "Standing made just-in-time narrows.", head: func(d map[string]any) {
			r := at(d, "trustgate", "identities", "reader")
			r["access"] = "just-in-time"
			r["jit"] = clone(t, jit(d))
		}, want: policydiff.Narrows},
		{name: "More approvers widen.", head: func(d map[string]any) {
			jit(d)["approvers"] = append(jit(d)["approvers"].([]any), map[string]any{"provider": "corp", "claims": map[string]any{"groups": "everyone"}})
		}, want: policydiff.Widens, expect: "groups=everyone"},
		{name: "Fewer approvals widen.", head: func(d map[string]any) {
			at(d, "trustgate")["risk_levels"] = map[string]any{"low": map[string]any{"approvals": 0}, "high": map[string]any{"approvals": 0}, "critical": map[string]any{"approvals": 2}}
		}, want: policydiff.Widens},
		{name: "More approvals narrow.", head: func(d map[string]any) {
			at(d, "trustgate")["risk_levels"] = map[string]any{"low": map[string]any{"approvals": 0}, "high": map[string]any{"approvals": 2}, "critical": map[string]any{"approvals": 2}}
		}, want: policydiff.Narrows},
		{name: "A longer max_duration widens.", head: func(d map[string]any) { jit(d)["max_duration"] = "4h" }, want: policydiff.Widens},
		{name: "A binding from ref to project widens.", head: func(d map[string]any) { jit(d)["bind"] = "project" }, want: policydiff.Widens},
		{name: "A binding from ref to pipeline narrows.", head: func(d map[string]any) { jit(d)["bind"] = "pipeline" }, want: policydiff.Narrows},
		{name: "A provider audience added widens.", head: func(d map[string]any) { gitlab(d)["audiences"] = []any{serverIssuer, "https://other.example.com"} },
			want: policydiff.Widens, expect: "aud=https://other.example.com"},
		{name: "A provider's issuer changed widens and narrows.", head: func(d map[string]any) { gitlab(d)["issuer"] = "https://gitlab.example.com" }, want: policydiff.Both},
		{name: "A provider algorithm added widens.", head: func(d map[string]any) { gitlab(d)["algorithms"] = []any{"RS256", "ES256"} }, want: policydiff.Widens},
		{name: "A longer max_token_lifetime widens.", head: func(d map[string]any) { gitlab(d)["max_token_lifetime"] = "24h" }, want: policydiff.Widens},
		{name: "one_time_use turned off widens.", head: func(d map[string]any) { at(d, "trustgate", "providers", "corp")["one_time_use"] = false }, want: policydiff.Widens},
		{name: "Data custom rules read, changed, may open access.", head: func(d map[string]any) { at(d, "trustgate")["blocked"] = []any{"fork/app"} }, want: policydiff.Both,
			expect: "replay decides"},
		{name: "A changed custom rule may open access.", head: func(map[string]any) {}, rego: strings.Replace(baseRego, "fork/app", "fork/web", 1), want: policydiff.Both,
			expect: "Rego changed: may open access; replay decides"},
		{name: "A custom rule that only adds a deny narrows.", head: func(map[string]any) {},
			rego: baseRego + "\ndeny contains \"no tags\" if input.token.ref_type == \"tag\"\n", want: policydiff.Narrows, expect: "only deny rules are added"},
		{name: "A custom rule that adds a helper besides a deny may open access.", head: func(map[string]any) {},
			rego: baseRego + "\nis_tag if input.token.ref_type == \"tag\"\n\ndeny contains \"no tags\" if is_tag\n", want: policydiff.Both},
		{name: "A description a custom rule reads may change what it denies.", head: func(d map[string]any) { deploy(d)["description"] = "approved" },
			rego: readsDescription, regoB: readsDescription, want: policydiff.Both, expect: "custom Rego reading identities or providers"},
		{name: "A description no custom rule reads changes nothing.", head: func(d map[string]any) { deploy(d)["description"] = "approved" }, want: policydiff.None},
		{name: "Narrowing an identity whose tokens another identity may also accept widens when no identity is named.",
			base: func(d map[string]any) {
				at(d, "trustgate", "identities", "reader")["federations"] = []any{map[string]any{"provider": "gitlab", "claims": map[string]any{"project_path": "my-group/*"}}}
			},
			head: func(d map[string]any) {
				at(d, "trustgate", "identities", "reader")["federations"] = []any{map[string]any{"provider": "gitlab", "claims": map[string]any{"project_path": "my-group/docs"}}}
			}, want: policydiff.Both, expect: "when the caller names none"},
	}
	baseDir := writeBundle(t, baseData(), map[string]string{"custom.rego": baseRego})
	_, defaultBase := load(t, baseDir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := defaultBase
			data := baseData()
			if tt.base != nil || tt.regoB != "" {
				if tt.base != nil {
					tt.base(data)
				}
				rego := baseRego
				if tt.regoB != "" {
					rego = tt.regoB
				}
				_, base = load(t, writeBundle(t, data, map[string]string{"custom.rego": rego}))
			}
			head := clone(t, data)
			tt.head(head)
			rego := baseRego
			if tt.rego != "" {
				rego = tt.rego
			}
			_, headModel := load(t, writeBundle(t, head, map[string]string{"custom.rego": rego}))
			r := policydiff.Compare(base, headModel)
			var out strings.Builder
			if err := r.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if r.Effect != tt.want {
				t.Fatalf("effect %s, want %s:\n%s", r.Effect, tt.want, out.String())
			}
			if r.NewAccess != (tt.want&policydiff.Widens != 0) {
				t.Fatalf("new access %v with effect %s", r.NewAccess, r.Effect)
			}
			if tt.expect != "" && !strings.Contains(out.String(), tt.expect) {
				t.Fatalf("the report does not say %q:\n%s", tt.expect, out.String())
			}
			if r.NewAccess && !strings.Contains(out.String(), "for example") && !strings.Contains(out.String(), "why:") {
				t.Fatalf("a widening with neither an example nor a reason:\n%s", out.String())
			}
		})
	}
	if len(tests) < 40 {
		t.Fatalf("%d cases, want at least 40", len(tests))
	}
}

// A library that differs (another binary's) is Rego changed, and may open
// access; the same library twice changes nothing.
func TestCompareSaysALibraryChangeMayOpenAccess(t *testing.T) {
	lib := t.TempDir()
	if err := os.CopyFS(lib, policies.FS()); err != nil {
		t.Fatal(err)
	}
	match := filepath.Join(lib, "trustgate", "match.rego")
	text, err := os.ReadFile(match)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeBundle(t, baseData(), nil)
	load := func(library fs.FS) *policy.Model {
		_, m, err := policy.LoadModel(context.Background(), []string{dir}, policy.Options{ServerIssuer: serverIssuer, Library: library})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	embedded := load(nil)
	if r := policydiff.Compare(embedded, load(os.DirFS(lib))); r.Effect != policydiff.None {
		t.Fatalf("the same library read from a directory: effect %s", r.Effect)
	}
	widened := strings.Replace(string(text), "\tfed.provider == input.provider.name\n\tsubject_matches(fed)\n", "\tfed.provider == input.provider.name\n", 1)
	if widened == string(text) {
		t.Fatal("match.rego no longer reads as this test expects")
	}
	if err := os.WriteFile(match, []byte(widened), 0o600); err != nil {
		t.Fatal(err)
	}
	r := policydiff.Compare(embedded, load(os.DirFS(lib)))
	var out strings.Builder
	_ = r.WriteText(&out)
	if !r.NewAccess || !strings.Contains(out.String(), "Rego library/trustgate/match.rego changed: widens and narrows") {
		t.Fatalf("a library that stops checking subjects:\n%s", out.String())
	}
}
