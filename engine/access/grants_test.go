package access_test

import (
	"context"
	"maps"
	"testing"

	"github.com/trustgate/trustgate/engine/access"
)

// with is p with claim k set to v (a copy: p is unchanged).
func with(p access.Party, k, v string) access.Party {
	p.Claims = maps.Clone(p.Claims)
	p.Claims[k] = v
	return p
}

// fromIssuer is p as another issuer's token.
func fromIssuer(p access.Party, iss string) access.Party {
	p.Issuer = iss
	return p
}

func TestGrantsBindOnlyTheTokensOfTheirBinding(t *testing.T) {
	pol := loadPolicy(t, autoApproving) // every request is approved at once
	gitlab, github := pipeline("my-group/api"), workflow("dave")
	tests := []struct {
		name      string
		identity  string
		requester access.Party
		exchanger access.Party
		binds     bool
	}{
		{"A subject grant binds the same GitLab sub", "subject-db", gitlab, pipeline("my-group/api"), true},
		{"A subject grant does not bind another project's sub", "subject-db", gitlab, pipeline("my-group/web"), false},
		{"A subject grant binds the same GitHub sub whoever the actor", "subject-db", github, workflow("erin"), true},
		{"A project grant binds another ref of the project", "project-db", gitlab, with(gitlab, "ref", "feature"), true},
		{"A project grant does not bind another project", "project-db", gitlab, pipeline("my-group/web"), false},
		{"A GitHub project grant binds another ref of the repository", "project-db", github, with(github, "ref", "refs/heads/x"), true},
		{"A ref grant binds a later pipeline on the same ref", "prod-db", gitlab, with(gitlab, "pipeline_id", "78"), true},
		{"A ref grant does not bind another ref", "prod-db", gitlab, with(gitlab, "ref", "feature"), false},
		{"A ref grant does not bind a tag of the same name", "prod-db", gitlab, with(gitlab, "ref_type", "tag"), false},
		{"A GitHub ref grant binds another run on the ref", "prod-db", github, with(github, "run_id", "10"), true},
		{"A GitHub ref grant does not bind another ref", "prod-db", github, with(github, "ref", "refs/heads/x"), false},
		{"A pipeline grant binds another job of the pipeline", "pipeline-db", gitlab, with(gitlab, "job_id", "5"), true},
		{"A pipeline grant does not bind another pipeline", "pipeline-db", gitlab, with(gitlab, "pipeline_id", "78"), false},
		{"A GitHub pipeline grant does not bind another run", "pipeline-db", github, with(github, "run_id", "10"), false},
		{"A pipeline grant does not bind the same pipeline id of another project", "pipeline-db", gitlab, pipeline("my-group/web"), false},
		{"No grant binds a person's token, which has no project", "project-db", gitlab, approver("bob"), false},
		{"A project grant binds whatever the sub", "project-db", gitlab, with(gitlab, "sub", "x"), true},
		{"A grant does not bind the same claims from another issuer", "project-db", gitlab, fromIssuer(gitlab, "https://gitlab.other.com"), false},
	}
	eachStore(t, func(t *testing.T, f *fixture) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := ask(t, f, pol, tc.requester, tc.identity, "routine")
				t.Cleanup(func() { _, _ = f.svc.Revoke(context.Background(), pol, tc.requester, r.ID, "next case") })
				gs, err := f.svc.Grants(context.Background(), tc.exchanger, tc.identity)
				if err != nil || len(gs) != 1 || gs[0].ID != r.ID {
					t.Fatalf("grants %+v, err %v; want the one just approved", gs, err)
				}
				if gs[0].Binds != tc.binds || !gs[0].EndsAt.Equal(r.ExpiresAt) || gs[0].Binding != r.Binding {
					t.Fatalf("grant %+v; want binds %v, ending %s", gs[0], tc.binds, r.ExpiresAt)
				}
			})
		}
	})
}
