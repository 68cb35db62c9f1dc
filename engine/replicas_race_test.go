package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// rounds is how many times each race is run.
const rounds = 10

// Just-in-time access across two replicas (two engines on one PostgreSQL):
// transitions are atomic across them, a grant revoked on one ends the
// tokens of the other, and no token reaches a notification or a log.
func TestJustInTimeAccessAcrossReplicas(t *testing.T) {
	pg := startPostgres(t)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, pg *pgtest.Cluster)
	}{
		{"Two approvers on two replicas racing on a request needing one approval give one approval", testTwoApprovers},
		{"An approval racing a cancel on two replicas has one outcome", testApproveRacingCancel},
		{"A grant revoked on one replica ends the tokens another issued under it at once", testRevokeAcrossReplicas},
		{"No token reaches a notification or a log", testNoTokenInNotificationsOrLogs},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, pg) })
	}
}

// Two approvers on two replicas racing on a request that needs one
// approval: one is approved, the other refused as a conflict, and the
// request has one review, one approved event and one approved notification.
func testTwoApprovers(t *testing.T, pg *pgtest.Cluster) {
	r := newReplicas(t, pg, zap.NewNop(), func(access.EventType) []string { return []string{"audit"} })
	ctx := context.Background()
	ids := map[string]bool{}
	for range rounds {
		req := r.request(t, "incident INC-9")
		ids[req.ID] = true
		ann, carl := r.approver(t, "ann"), r.approver(t, "carl")
		oneWins(t, race(
			func() error { _, err := r.a.ReviewAccess(ctx, ann, req.ID, access.VerdictApprove, "ok"); return err },
			func() error { _, err := r.b.ReviewAccess(ctx, carl, req.ID, access.VerdictApprove, "ok"); return err },
		))
		got, err := r.b.AccessRequest(ctx, ann, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != access.StateApproved || len(got.Reviews) != 1 || historyOf(got)[access.EventApproved] != 1 {
			t.Fatalf("after the race: %s with %d reviews and %d approved events", got.State, len(got.Reviews), historyOf(got)[access.EventApproved])
		}
	}
	approved := map[string]int{}
	for _, n := range claimAll(t, r) {
		if n.Event.Type == access.EventApproved {
			approved[n.Request.ID]++
		}
	}
	for id := range ids {
		if approved[id] != 1 {
			t.Errorf("request %s has %d approved notifications, want 1", id, approved[id])
		}
	}
}

// An approval on one replica racing the requester's cancel on the other
// has one outcome: the loser is a conflict, and the history holds the
// winner's event only.
func testApproveRacingCancel(t *testing.T, pg *pgtest.Cluster) {
	r := newReplicas(t, pg, zap.NewNop(), nil)
	ctx := context.Background()
	outcomes := map[access.State]int{}
	for range rounds {
		req := r.request(t, "incident INC-10")
		ann, job := r.approver(t, "ann"), r.job(t)
		winner := oneWins(t, race(
			func() error { _, err := r.a.ReviewAccess(ctx, ann, req.ID, access.VerdictApprove, "ok"); return err },
			func() error { _, err := r.b.CancelAccess(ctx, job, req.ID, "not needed"); return err },
		))
		got, err := r.a.AccessRequest(ctx, job, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []access.State{access.StateApproved, access.StateCancelled}[winner]
		ev := historyOf(got)
		if got.State != want || ev[access.EventApproved]+ev[access.EventCancelled] != 1 {
			t.Fatalf("the winner made it %s, the request is %s with history %v", want, got.State, ev)
		}
		outcomes[got.State]++
	}
	t.Logf("outcomes over %d races: %v", rounds, outcomes)
}

// A grant revoked on replica A makes the token replica B issued under it
// inactive on B at once (introspection and whoami read the grant from the
// shared database), and B issues no more.
func testRevokeAcrossReplicas(t *testing.T, pg *pgtest.Cluster) {
	r := newReplicas(t, pg, zap.NewNop(), nil)
	ctx := context.Background()
	req := r.request(t, "deploy a hotfix")
	ann := r.approver(t, "ann")
	if _, err := r.b.ReviewAccess(ctx, ann, req.ID, access.VerdictApprove, "ok"); err != nil {
		t.Fatal(err)
	}
	tok, err := r.b.Exchange(ctx, engine.Request{SubjectToken: r.job(t).Token, Identity: "prod-db"})
	if err != nil {
		t.Fatal(err)
	}
	if in, err := r.b.Inspect(ctx, tok.AccessToken); err != nil || in.Claims.Grant != req.ID {
		t.Fatalf("before the revocation: %v, grant claim %v", err, in)
	}
	if _, err := r.a.RevokeAccess(ctx, ann, req.ID, "incident over"); err != nil {
		t.Fatal(err)
	}
	if in, err := r.b.Inspect(ctx, tok.AccessToken); in != nil || !errors.Is(err, engine.ErrInactive) {
		t.Fatalf("B's token after A revoked its grant: %v, %v; want ErrInactive", in, err)
	}
	if tok, err := r.b.Exchange(ctx, engine.Request{SubjectToken: r.job(t).Token, Identity: "prod-db"}); tok != nil || err == nil {
		t.Fatalf("B issued a token after the revocation: %v", err)
	}
}

// claimAll claims every notification in the outbox and reads its notice.
func claimAll(t *testing.T, r *replicas) []access.Notice {
	t.Helper()
	ns, err := r.storeA.DueNotifications(context.Background(), time.Now(), 10000, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]access.Notice, len(ns))
	for i, n := range ns {
		if err := json.Unmarshal(n.Payload, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
