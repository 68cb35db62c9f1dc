package access_test

import (
	"errors"
	"maps"
	"testing"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
)

// without is p without claim k (a copy: p is unchanged).
func without(p access.Party, k string) access.Party {
	p.Claims = maps.Clone(p.Claims)
	delete(p.Claims, k)
	return p
}

func TestATokenLackingWhatItsBindingNeedsCannotBeBound(t *testing.T) {
	gitlab, github := pipeline("my-group/api"), workflow("dave")
	tests := []struct {
		name string
		kind string
		who  access.Party
	}{
		{"A person's token has no project to bind a project grant to", policy.BindProject, approver("bob")},
		{"A GitLab token without project_path has no project to bind to", policy.BindProject, without(gitlab, "project_path")},
		{"A GitLab token without ref_type has no ref to bind to", policy.BindRef, without(gitlab, "ref_type")},
		{"A GitLab token without ref has no ref to bind to", policy.BindRef, without(gitlab, "ref")},
		{"A GitHub token without ref has no ref to bind to", policy.BindRef, without(github, "ref")},
		{"A GitLab token without pipeline_id has no pipeline to bind to", policy.BindPipeline, without(gitlab, "pipeline_id")},
		{"A GitHub token without run_id has no pipeline to bind to", policy.BindPipeline, without(github, "run_id")},
		{"A binding kind the policy does not know binds nothing", "job", gitlab},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := access.BindingFor(tc.kind, tc.who)
			if !errors.Is(err, access.ErrUnbindable) || b != (access.Binding{}) {
				t.Fatalf("got %+v, %v; want ErrUnbindable and no binding", b, err)
			}
		})
	}
	if b, err := access.BindingFor(policy.BindRef, gitlab); err != nil || b.Ref != "branch:main" || b.Project != "my-group/api" {
		t.Fatalf("the whole GitLab token: %+v, %v", b, err)
	}
}
