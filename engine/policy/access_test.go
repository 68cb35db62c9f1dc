package policy_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

// accessLibrary is a library whose access rules are the given source.
func accessLibrary(access string) fstest.MapFS {
	fs := library(decision(denyFields))
	fs["trustgate/access.rego"] = &fstest.MapFile{Data: []byte("package trustgate.access\n\n" + access + "\n")}
	return fs
}

// requestIn and reviewIn are inputs of the access queries.
var (
	pipelineParty = policy.Party{Provider: "gitlab", Issuer: "https://gitlab.example.com", Platform: "gitlab",
		Claims: map[string]any{"sub": "project_path:my-group/api:ref_type:branch:ref:main", "project_path": "my-group/api"}}
	requestIn = policy.AccessRequestInput{Who: pipelineParty, Identity: "deploy", Reason: "x", Now: time.Now()}
	reviewIn  = policy.AccessReviewInput{Request: policy.ReviewedRequest{ID: "r1", Identity: "deploy", State: "pending"},
		Who: pipelineParty, Verdict: "approve", Now: time.Now()}
)

func TestAccessDecisionsRefuseAnythingButAWellFormedResult(t *testing.T) {
	const reviewRule = `review := {"allow": true, "person": "email:alice@example.com", "reasons": []}`
	const requestRule = `request := {"allow": true, "risk": "high", "approvals_required": 1, "duration_seconds": 600, "max_duration_seconds": 3600, "scopes": [], "audiences": [], "requester_persons": ["email:dev@example.com"], "reasons": []}`
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
		{name: "A request allow that names no person behind it is an error.", access: `request := {"allow": true, "risk": "high", "approvals_required": 1, "duration_seconds": 600, "requester_persons": [], "reasons": []}` + "\n" + reviewRule},
		{name: "A review allow that names no person is an error.", access: requestRule + "\n" + `review := {"allow": true, "person": "", "reasons": []}`, review: true},
		{name: "A review denial without reasons is an error.", access: requestRule + "\n" + `review := {"allow": false, "reasons": []}`, review: true},
		{name: "A review result with a field of the wrong type is an error.", access: requestRule + "\n" + `review := {"allow": "yes", "reasons": []}`, review: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.Library = accessLibrary(tt.access)
			p := loadTeam(t, opts)
			var err error
			if tt.review {
				_, err = p.AccessReview(context.Background(), reviewIn)
			} else {
				_, err = p.AccessRequest(context.Background(), requestIn)
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
		d, err := p.AccessRequest(context.Background(), requestIn)
		if err != nil || !d.Allow || d.Risk != "high" || d.ApprovalsRequired != 1 || d.DurationSeconds != 600 {
			t.Fatalf("AccessRequest: %+v, %v", d, err)
		}
		if r, err := p.AccessReview(context.Background(), reviewIn); err != nil || !r.Allow || r.Person != "email:alice@example.com" {
			t.Fatalf("AccessReview: %+v, %v", r, err)
		}
	})
}
