package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/trustgate/trustgate/engine/policy"
)

// standingDeploy is a standing identity beside jitData's breakglass.
const standingDeploy = `    deploy:
      roles: [deployer]
      federations:
        - provider: gitlab
          claims: {project_path: my-group/api}
`

func TestEvaluateRefusesAnAllowThatMixesUpStandingAndJustInTimeAccess(t *testing.T) {
	const breakglass = `"allow": true, "identity": "breakglass", "subject": "breakglass", "roles": ["db-admin"], "scopes": ["read"], "audiences": ["https://db.example.com"], "ttl_seconds": 0, "reasons": []`
	const deploy = `"allow": true, "identity": "deploy", "subject": "deploy", "roles": ["deployer"], "scopes": [], "audiences": [], "ttl_seconds": 0, "reasons": []`
	tests := []struct {
		name    string
		library string
		ok      bool
		// grant is the grant an allowed decision carries.
		grant string
	}{
		{name: "An allow of a just-in-time identity through a grant is a decision.", library: decision(breakglass + `, "grant": "g1"`), ok: true, grant: "g1"},
		{name: "An allow of a just-in-time identity without a grant is an error.", library: decision(breakglass)},
		{name: "An allow of a standing identity without a grant is a decision.", library: decision(deploy), ok: true},
		{name: "An allow of a standing identity through a grant is an error.", library: decision(deploy + `, "grant": "g1"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Library = library(tt.library)
			p, err := policy.Load(context.Background(), []string{bundleDir(t, jitData(goodJIT, standingDeploy))}, opts)
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Evaluate(context.Background(), gitlabInput(t, request{}, map[string]any{"project_path": "my-group/api"}))
			if tt.ok && (err != nil || !d.Allow || d.Grant != tt.grant) {
				t.Fatalf("Evaluate = %+v, %v; want an allow under grant %q", d, err, tt.grant)
			}
			if !tt.ok && (!errors.Is(err, policy.ErrEvaluation) || d.Allow) {
				t.Fatalf("Evaluate = %+v, %v; want ErrEvaluation", d, err)
			}
		})
	}
}
