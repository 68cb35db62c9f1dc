package policy_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/trustgate/trustgate/engine/policy"
)

// accessLibrary is a library whose access rules are the given source.
func accessLibrary(access string) fstest.MapFS {
	fs := library(decision(denyFields))
	fs["trustgate/access.rego"] = &fstest.MapFile{Data: []byte("package trustgate.access\n\n" + access + "\n")}
	return fs
}

func TestAccessDecisionsRefuseAnythingButAWellFormedResult(t *testing.T) {
	const reviewRule = `review := {"allow": true, "reasons": []}`
	const requestRule = `request := {"allow": true, "risk": "high", "approvals_required": 1, "duration_seconds": 600, "max_duration_seconds": 3600, "reasons": []}`
	tests := []struct {
		name   string
		access string
		review bool
	}{
		{name: "A request result that is not an object is an error.", access: "request := []\n" + reviewRule},
		{name: "A request result with an unknown field is an error.", access: `request := {"allow": false, "reasons": ["no"], "debug": true}` + "\n" + reviewRule},
		{name: "A request allow without a risk is an error.", access: `request := {"allow": true, "approvals_required": 1, "duration_seconds": 600, "reasons": []}` + "\n" + reviewRule},
		{name: "A request allow without a duration is an error.", access: `request := {"allow": true, "risk": "high", "approvals_required": 1, "reasons": []}` + "\n" + reviewRule},
		{name: "A request allow with negative approvals is an error.", access: `request := {"allow": true, "risk": "high", "approvals_required": -1, "duration_seconds": 600, "reasons": []}` + "\n" + reviewRule},
		{name: "A request denial without reasons is an error.", access: `request := {"allow": false, "reasons": []}` + "\n" + reviewRule},
		{name: "A review denial without reasons is an error.", access: requestRule + "\n" + `review := {"allow": false, "reasons": []}`, review: true},
		{name: "A review result with a field of the wrong type is an error.", access: requestRule + "\n" + `review := {"allow": "yes", "reasons": []}`, review: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Library = accessLibrary(tt.access)
			p := loadTeam(t, opts)
			input := gitlabInput(t, request{identity: "deploy"}, nil)
			var err error
			if tt.review {
				_, err = p.AccessReview(context.Background(), input)
			} else {
				_, err = p.AccessRequest(context.Background(), input)
			}
			if !errors.Is(err, policy.ErrEvaluation) {
				t.Fatalf("got %v, want ErrEvaluation", err)
			}
		})
	}
	t.Run("A well-formed request and review are accepted.", func(t *testing.T) {
		opts := options()
		opts.Library = accessLibrary(requestRule + "\n" + reviewRule)
		p := loadTeam(t, opts)
		input := gitlabInput(t, request{identity: "deploy"}, nil)
		d, err := p.AccessRequest(context.Background(), input)
		if err != nil || !d.Allow || d.Risk != "high" || d.ApprovalsRequired != 1 || d.DurationSeconds != 600 {
			t.Fatalf("AccessRequest: %+v, %v", d, err)
		}
		if r, err := p.AccessReview(context.Background(), input); err != nil || !r.Allow {
			t.Fatalf("AccessReview: %+v, %v", r, err)
		}
	})
}
