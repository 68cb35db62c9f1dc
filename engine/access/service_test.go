package access_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
)

func TestARequestThePolicyAllowsIsPendingWithItsRiskApprovalsAndBinding(t *testing.T) {
	pol := loadPolicy(t, "")
	eachStore(t, func(t *testing.T, f *fixture) {
		r := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "incident 42")
		want := access.Binding{Kind: policy.BindRef, Provider: "gitlab", Issuer: gitlabIssuer, Project: "my-group/api", Ref: "branch:main"}
		if r.State != access.StatePending || r.Risk != "high" || r.ApprovalsRequired != 1 || r.Binding != want ||
			r.DurationSeconds != 3600 || !r.ExpiresAt.Equal(f.clk.Now().Add(policy.DefaultPendingTTL)) {
			t.Fatalf("request %+v", r)
		}
		if r.Requester.Facts["user_login"] != "alice" || r.Requester.Subject != "project_path:my-group/api:ref_type:branch:ref:main" {
			t.Fatalf("requester %+v", r.Requester)
		}
		stored, err := f.svc.Get(context.Background(), pol, pipeline("my-group/api"), r.ID)
		if err != nil || stored.ID != r.ID || stored.State != access.StatePending || len(stored.History) != 1 {
			t.Fatalf("stored %+v, err %v", stored, err)
		}
		if got := f.recorded(); !slices.Equal(got, []access.EventType{access.EventRequested}) {
			t.Fatalf("recorded %v", got)
		}
	})
}

func TestACustomRiskRuleRaisesTheApprovalsARequestNeeds(t *testing.T) {
	pol := loadPolicy(t, "")
	eachStore(t, func(t *testing.T, f *fixture) {
		r := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "weekend deploy")
		if r.Risk != "critical" || r.ApprovalsRequired != 2 {
			t.Fatalf("risk %s with %d approvals, want critical with 2", r.Risk, r.ApprovalsRequired)
		}
		ctx := context.Background()
		if r, err := f.svc.Review(ctx, pol, approver("bob"), r.ID, access.VerdictApprove, "ok"); err != nil || r.State != access.StatePending {
			t.Fatalf("after one of two approvals: %s, err %v", r.State, err)
		}
		f.clk.Advance(time.Minute)
		r, err := f.svc.Review(ctx, pol, approver("carol"), r.ID, access.VerdictApprove, "ok too")
		if err != nil || r.State != access.StateApproved || !r.ExpiresAt.Equal(f.clk.Now().Add(time.Hour)) {
			t.Fatalf("after two approvals: %+v, err %v", r, err)
		}
	})
}

func TestRequestsThePolicyOrTheCallRefusesAreNotStored(t *testing.T) {
	pol := loadPolicy(t, "")
	tests := []struct {
		name string
		who  access.Party
		in   access.NewRequest
		want error
	}{
		{"A project the identity does not federate with is denied", pipeline("other-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x"}, access.ErrDenied},
		{"A duration over max_duration is denied", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x", Duration: 5 * time.Hour}, access.ErrDenied},
		{"A standing identity cannot be requested", pipeline("my-group/api"),
			access.NewRequest{Identity: "standing-db", Reason: "x"}, access.ErrDenied},
		{"An unknown identity is denied", pipeline("my-group/api"),
			access.NewRequest{Identity: "nobody", Reason: "x"}, access.ErrDenied},
		{"A scope the identity lacks is denied", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x", Scopes: []string{"admin"}}, access.ErrDenied},
		{"A person of the company IdP is not a federated requester", approver("bob"),
			access.NewRequest{Identity: "prod-db", Reason: "x"}, access.ErrDenied},
		{"A request without a reason is invalid", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: " "}, access.ErrInvalid},
		{"A duration of a fraction of a second is invalid", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x", Duration: 1500 * time.Millisecond}, access.ErrInvalid},
		{"A negative duration is invalid", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x", Duration: -time.Hour}, access.ErrInvalid},
		{"A reason longer than 1000 bytes is invalid", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: strings.Repeat("x", access.MaxReasonLen+1)}, access.ErrInvalid},
		{"A ticket longer than 200 bytes is invalid", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x", Ticket: strings.Repeat("T", access.MaxTicketLen+1)}, access.ErrInvalid},
		{"A scope that is not a scope token (RFC 6749 §3.3) is invalid, not merely denied", pipeline("my-group/api"),
			access.NewRequest{Identity: "prod-db", Reason: "x", Scopes: []string{`read"`}}, access.ErrInvalid},
	}
	eachStore(t, func(t *testing.T, f *fixture) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Request(context.Background(), pol, tc.who, tc.in)
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				var denied *access.DeniedError
				if errors.Is(tc.want, access.ErrDenied) && (!errors.As(err, &denied) || len(denied.Reasons) == 0) {
					t.Fatalf("a denial without reasons: %v", err)
				}
			})
		}
		if page, err := f.svc.List(context.Background(), pol, approver("bob"), access.Filter{}); len(page.Requests) != 0 || err != nil {
			t.Fatalf("refused requests were stored: %d, err %v", len(page.Requests), err)
		}
	})
}

func TestARequestWhoseRiskNeedsNoApprovalIsApprovedAtOnce(t *testing.T) {
	pol := loadPolicy(t, autoApproving)
	eachStore(t, func(t *testing.T, f *fixture) {
		r := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "routine")
		if r.State != access.StateApproved || r.ApprovalsRequired != 0 || !r.ExpiresAt.Equal(f.clk.Now().Add(time.Hour)) {
			t.Fatalf("request %+v", r)
		}
		want := []access.EventType{access.EventRequested, access.EventApproved}
		if got := f.recorded(); !slices.Equal(got, want) {
			t.Fatalf("recorded %v, want %v", got, want)
		}
		if ok, err := f.svc.GrantActive(context.Background(), r.ID); !ok || err != nil {
			t.Fatalf("grant active %v, err %v", ok, err)
		}
		if r = ask(t, f, pol, pipeline("my-group/api"), "prod-db", "weekend"); r.State != access.StatePending {
			t.Fatalf("a critical request needing 2 approvals is %s", r.State)
		}
	})
}

func TestTheRequesterAndApproversSeeARequestAndOthersDoNot(t *testing.T) {
	pol := loadPolicy(t, "")
	ctx := context.Background()
	eachStore(t, func(t *testing.T, f *fixture) {
		mine := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "one")
		f.clk.Advance(time.Second)
		theirs := ask(t, f, pol, workflow("dave"), "prod-db", "two")
		tests := []struct {
			name string
			who  access.Party
			want []string
		}{
			{"The requester sees their own request only", pipeline("my-group/api"), []string{mine.ID}},
			{"An approver sees every request, newest first", approver("bob"), []string{theirs.ID, mine.ID}},
			{"A person who is no approver sees nothing", employee("eve", "developers"), nil},
			{"Another pipeline sees nothing", pipeline("my-group/web"), nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				page, err := f.svc.List(ctx, pol, tc.who, access.Filter{})
				var ids []string
				for _, r := range page.Requests {
					ids = append(ids, r.ID)
				}
				if err != nil || !slices.Equal(ids, tc.want) {
					t.Fatalf("listed %v (err %v), want %v", ids, err, tc.want)
				}
				_, err = f.svc.Get(ctx, pol, tc.who, mine.ID)
				if visible := slices.Contains(tc.want, mine.ID); visible != (err == nil) || !visible && !errors.Is(err, access.ErrNotFound) {
					t.Fatalf("Get: err %v, want visible %v or ErrNotFound", err, visible)
				}
			})
		}
		if _, err := f.svc.Get(ctx, pol, approver("bob"), "no-such-id"); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("an unknown id: %v", err)
		}
	})
}

func TestReviewsThePolicyRefusesChangeNothing(t *testing.T) {
	pol := loadPolicy(t, "")
	ctx := context.Background()
	eachStore(t, func(t *testing.T, f *fixture) {
		r := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "weekend fix") // needs two approvals
		tests := []struct {
			name string
			who  access.Party
			want error
		}{
			{"The person behind the pipeline may not approve it (user_email)", approver("alice"), access.ErrDenied},
			{"A person who is no approver may not approve, and may not even see it", employee("eve", "developers"), access.ErrNotFound},
			{"An approver's groups from another provider do not count", withGroups(pipeline("my-group/web")), access.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := f.svc.Review(ctx, pol, tc.who, r.ID, access.VerdictApprove, "ok"); !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
			})
		}
		for _, reason := range []string{" \t\n", strings.Repeat("x", access.MaxReasonLen+1)} {
			if _, err := f.svc.Review(ctx, pol, approver("bob"), r.ID, access.VerdictApprove, reason); !errors.Is(err, access.ErrInvalid) {
				t.Fatalf("an approval whose reason is %d blank or too many bytes: %v, want ErrInvalid", len(reason), err)
			}
		}
		if _, err := f.svc.Review(ctx, pol, approver("bob"), r.ID, access.VerdictApprove, "ok"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Review(ctx, pol, approver("bob"), r.ID, access.VerdictApprove, "again"); !errors.Is(err, access.ErrDenied) {
			t.Fatalf("a second review by the same approver: %v, want ErrDenied", err)
		}
		if _, err := f.svc.Review(ctx, pol, approver("bob"), r.ID, "maybe", "x"); !errors.Is(err, access.ErrInvalid) {
			t.Fatalf("a verdict that is neither approve nor deny: %v", err)
		}
		got, err := f.svc.Get(ctx, pol, approver("carol"), r.ID)
		if err != nil || got.State != access.StatePending || len(got.Reviews) != 1 {
			t.Fatalf("refused reviews changed the request: %s with %d reviews, err %v", got.State, len(got.Reviews), err)
		}
		if got, err := f.svc.Review(ctx, pol, approver("carol"), r.ID, access.VerdictDeny, "not now"); err != nil || got.State != access.StateDenied {
			t.Fatalf("a denial: %s, err %v", got.State, err)
		}
	})
}

// withGroups gives a pipeline token the approvers' groups claim.
func withGroups(p access.Party) access.Party {
	p.Claims["groups"] = []any{"prod-approvers"}
	return p
}

func TestOnlyTheRequesterCancelsAndRequesterOrApproverRevokes(t *testing.T) {
	pol := loadPolicy(t, "")
	ctx := context.Background()
	eachStore(t, func(t *testing.T, f *fixture) {
		req := pipeline("my-group/api")
		a := ask(t, f, pol, req, "prod-db", "one")
		if _, err := f.svc.Cancel(ctx, pol, approver("bob"), a.ID, "no"); !errors.Is(err, access.ErrDenied) {
			t.Fatalf("a cancel by an approver: %v, want ErrDenied", err)
		}
		if _, err := f.svc.Cancel(ctx, pol, employee("eve"), a.ID, "no"); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("a cancel by a stranger: %v, want ErrNotFound", err)
		}
		if got, err := f.svc.Cancel(ctx, pol, req, a.ID, "not needed"); err != nil || got.State != access.StateCancelled {
			t.Fatalf("a cancel by the requester: %s, %v", got.State, err)
		}
		for _, revoker := range []access.Party{req, approver("carol")} {
			r := ask(t, f, pol, req, "prod-db", "again")
			if _, err := f.svc.Review(ctx, pol, approver("bob"), r.ID, access.VerdictApprove, "ok"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Cancel(ctx, pol, req, r.ID, "too late"); !errors.Is(err, access.ErrConflict) {
				t.Fatalf("a cancel after approval: %v, want ErrConflict", err)
			}
			if _, err := f.svc.Revoke(ctx, pol, employee("eve"), r.ID, "x"); !errors.Is(err, access.ErrNotFound) {
				t.Fatalf("a revoke by a stranger: %v, want ErrNotFound", err)
			}
			got, err := f.svc.Revoke(ctx, pol, revoker, r.ID, "done")
			if err != nil || got.State != access.StateRevoked {
				t.Fatalf("a revoke by %s: %s, %v", revoker.Provider, got.State, err)
			}
			if ok, err := f.svc.GrantActive(ctx, r.ID); ok || err != nil {
				t.Fatalf("a revoked grant: active %v, err %v", ok, err)
			}
		}
	})
}

func TestExpireDueEndsLapsedRequestsAndEndedGrants(t *testing.T) {
	pol := loadPolicy(t, "")
	ctx := context.Background()
	eachStore(t, func(t *testing.T, f *fixture) {
		p := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "one")
		a := ask(t, f, pol, pipeline("my-group/api"), "prod-db", "two")
		if _, err := f.svc.Review(ctx, pol, approver("bob"), a.ID, access.VerdictApprove, "ok"); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.ExpireDue(ctx); n != 0 || err != nil {
			t.Fatalf("expired %d, err %v, before anything ended", n, err)
		}
		f.clk.Advance(policy.DefaultPendingTTL)
		if n, err := f.svc.ExpireDue(ctx); n != 2 || err != nil {
			t.Fatalf("expired %d, err %v; want the lapsed request and the ended grant", n, err)
		}
		for _, id := range []string{p.ID, a.ID} {
			if got, _ := f.svc.Get(ctx, pol, approver("bob"), id); got.State != access.StateExpired {
				t.Fatalf("%s is %s", id, got.State)
			}
		}
		if got := f.recorded(); !reflect.DeepEqual(got[len(got)-2:], []access.EventType{access.EventExpired, access.EventExpired}) {
			t.Fatalf("recorded %v", got)
		}
	})
}
