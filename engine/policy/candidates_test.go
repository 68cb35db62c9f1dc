package policy

import (
	"reflect"
	"testing"
)

func TestTheCandidateIndexLeadsEachPinnedValueToItsIdentitiesKeepsTheRestAndListsEachEmailsIdentities(t *testing.T) {
	fed := func(provider string, claims map[string]any) map[string]any {
		return map[string]any{"provider": provider, "claims": claims}
	}
	ids := map[string]any{
		"app":     map[string]any{"email": "app@example.com", "federations": []any{fed("gitlab", map[string]any{"project_path": "g/app", "ref_protected": "true"})}},
		"docs":    map[string]any{"federations": []any{fed("gitlab", map[string]any{"project_path": []any{"g/docs", "g/handbook"}})}},
		"twice":   map[string]any{"federations": []any{fed("gitlab", map[string]any{"project_path": "g/app"}), fed("gitlab", map[string]any{"project_path": "g/app"})}},
		"glob":    map[string]any{"federations": []any{fed("gitlab", map[string]any{"project_path": "g/*"})}},
		"mixed":   map[string]any{"federations": []any{fed("gitlab", map[string]any{"project_path": "g/x"}), fed("gitlab", nil)}},
		"escaped": map[string]any{"federations": []any{fed("gitlab", map[string]any{"project_path": `g/\*`})}},
		"comma":   map[string]any{"federations": []any{fed("gitlab", map[string]any{"project_path": "g/a,b"})}},
		"github":  map[string]any{"email": "svc@example.com", "federations": []any{fed("github", map[string]any{"repository": "acme/svc"})}},
	}
	want := map[string]any{"built": true, "emails": map[string]any{
		"app@example.com": []string{"app"}, "svc@example.com": []string{"github"},
	}, "providers": map[string]any{
		"gitlab": map[string]any{
			"claim": "project_path",
			"by": map[string]any{
				"g/app": []string{"app", "twice"}, "g/docs": []string{"docs"}, "g/handbook": []string{"docs"},
			},
			"rest": []string{"comma", "escaped", "glob", "mixed"},
		},
		"github": map[string]any{
			"claim": "repository",
			"by":    map[string]any{"acme/svc": []string{"github"}},
			"rest":  []string{},
		},
	}}
	if got := candidateIndex(ids, sortedKeys(ids)); !reflect.DeepEqual(got, want) {
		t.Fatalf("candidateIndex =\n%v\nwant\n%v", got, want)
	}
}

func TestAProviderWhoseFederationsPinNothingHasEveryIdentityInRest(t *testing.T) {
	ids := map[string]any{
		"a": map[string]any{"federations": []any{map[string]any{"provider": "corp", "claims": map[string]any{"groups": "ops-*"}}}},
		"b": map[string]any{"federations": []any{map[string]any{"provider": "corp"}}},
		"c": map[string]any{"federations": []any{map[string]any{"claims": map[string]any{"groups": "ops"}}}},
	}
	want := map[string]any{"built": true, "emails": map[string]any{}, "providers": map[string]any{
		"corp": map[string]any{"claim": "", "by": map[string]any{}, "rest": []string{"a", "b"}},
	}}
	if got := candidateIndex(ids, sortedKeys(ids)); !reflect.DeepEqual(got, want) {
		t.Fatalf("candidateIndex =\n%v\nwant\n%v", got, want)
	}
}
