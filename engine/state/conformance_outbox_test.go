package state

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// outboxTests are the conformance tests of the outbox, of races on one
// request and of the sweep of finished requests.
var outboxTests = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"Each transition writes one notification per subscribed target with the event and the request", testOutboxWritten},
	{"A notification is claimed once per lease until it is delivered", testOutboxClaim},
	{"Of twenty approvers racing on a request needing one approval exactly one wins", testRaceApprove},
	{"Of twenty approvers racing on two Stores of one database exactly one wins", testRaceApproveTwoStores},
	{"An approval racing a cancel has exactly one outcome", testRaceApproveCancel},
	{"Finished requests and delivered notifications are swept after their retention", testAccessSweep},
	{"Two Stores expiring and claiming together take each request and notification once", testTwoStoresDrain},
}

func testOutboxWritten(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	create(t, s, newRequest("r1", "prod-db", "g/p", 2, clk.Now()))
	if _, _, err := review(s, "r1", "bob", access.VerdictApprove); err != nil { // reviewed: nobody subscribes
		t.Fatal(err)
	}
	if _, _, err := review(s, "r1", "bob", access.VerdictApprove); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("a second review: %v", err)
	}
	if _, _, err := review(s, "r1", "carol", access.VerdictApprove); err != nil {
		t.Fatal(err)
	}
	ns, err := s.DueNotifications(context.Background(), clk.Now(), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ns {
		var notice access.Notice
		if err := json.Unmarshal(n.Payload, &notice); err != nil {
			t.Fatalf("payload %s: %v", n.Payload, err)
		}
		if notice.Request.ID != "r1" || n.Attempts != 1 {
			t.Fatalf("notification %+v tells of request %s", n, notice.Request.ID)
		}
		got = append(got, n.Target+" "+string(notice.Event.Type)+" "+string(notice.Request.State))
	}
	want := []string{"slack requested pending", "audit requested pending", "slack approved approved", "audit approved approved"}
	if len(got) != len(want) {
		t.Fatalf("notifications %v, want %v (none for reviewed, none for the refused review)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("notifications %v, want %v", got, want)
		}
	}
}

func testOutboxClaim(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	create(t, s, newRequest("r1", "prod-db", "g/p", 1, clk.Now())) // slack and audit
	claim := func(what string, want int) []access.Notification {
		t.Helper()
		ns, err := s.DueNotifications(ctx, clk.Now(), 10, time.Minute)
		if err != nil || len(ns) != want {
			t.Fatalf("%s: claimed %d, err %v; want %d", what, len(ns), err, want)
		}
		return ns
	}
	claim("the first claim", 2)
	claim("a claim within the lease", 0)
	clk.Advance(time.Minute)
	ns := claim("a claim after the lease", 2)
	if ns[0].Attempts != 2 {
		t.Fatalf("the second claim counts %d attempts, want 2", ns[0].Attempts)
	}
	if err := s.NotificationDelivered(ctx, ns[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.NotificationFailed(ctx, ns[1].ID, clk.Now().Add(10*time.Minute), "HTTP 500 from the receiver"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(5 * time.Minute)
	claim("a claim before the retry time", 0)
	clk.Advance(5 * time.Minute)
	if ns2 := claim("a claim at the retry time", 1); ns2[0].ID != ns[1].ID || ns2[0].Attempts != 3 {
		t.Fatalf("claimed %+v, want the failed one on its third attempt", ns2[0])
	}
	if n := count(t, s, "notification_outbox", "last_error = $1", "HTTP 500 from the receiver"); n != 1 {
		t.Fatalf("%d rows keep the last error, want 1", n)
	}
	wantErr(t, "a failure of a delivered notification", s.NotificationFailed(ctx, ns[0].ID, clk.Now(), "x"), access.ErrNotFound)
	wantErr(t, "delivering an unknown notification", s.NotificationDelivered(ctx, 1<<40), access.ErrNotFound)
	if _, err := s.DueNotifications(ctx, clk.Now(), 0, time.Minute); !errors.Is(err, access.ErrInvalid) {
		t.Fatalf("a claim of 0 notifications: %v", err)
	}
}

// raceApprovers approves request id from n goroutines, each a different
// reviewer, spread over stores, and returns how many succeeded; any error
// but ErrConflict fails the test.
func raceApprovers(t *testing.T, id string, n int, stores ...*Store) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, _, errs[i] = review(stores[i%len(stores)], id, "approver-"+strconv.Itoa(i), access.VerdictApprove)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, access.ErrConflict):
			t.Fatalf("a racing approval failed: %v", err)
		}
	}
	return won
}

// checkOneApproval: request id holds one review and one approved event.
func checkOneApproval(t *testing.T, s *Store, id string) {
	t.Helper()
	r := mustGet(t, s, id)
	if r.State != access.StateApproved || len(r.Reviews) != 1 || count(t, s, "access_event", "type = 'approved' AND request_id = $1", id) != 1 {
		t.Fatalf("after the race: %s, %d reviews, history %v; want approved, 1 review, 1 approved event", r.State, len(r.Reviews), events(r))
	}
	if n := count(t, s, "notification_outbox", "target = $1", "slack"); n != 2 {
		t.Fatalf("%d notifications to slack after the race, want requested and one approved", n)
	}
}

func testRaceApprove(t *testing.T, b backend) {
	s := open(t, b.fresh(t), nil)
	create(t, s, newRequest("r1", "prod-db", "g/p", 1, time.Now()))
	if won := raceApprovers(t, "r1", 20, s); won != 1 {
		t.Fatalf("%d of 20 racing approvals succeeded, want 1", won)
	}
	checkOneApproval(t, s, "r1")
}

func testRaceApproveTwoStores(t *testing.T, b backend) {
	needShared(t, b)
	url := b.fresh(t)
	s1, s2 := open(t, url, nil), open(t, url, nil)
	create(t, s1, newRequest("r1", "prod-db", "g/p", 1, time.Now()))
	if won := raceApprovers(t, "r1", 20, s1, s2); won != 1 {
		t.Fatalf("%d of 20 racing approvals on two Stores succeeded, want 1", won)
	}
	checkOneApproval(t, s2, "r1")
}

func testRaceApproveCancel(t *testing.T, b backend) {
	url := b.fresh(t)
	s1, s2 := open(t, url, nil), (*Store)(nil)
	if s2 = s1; b.shared {
		s2 = open(t, url, nil)
	}
	for i := range 10 {
		id := "r" + strconv.Itoa(i)
		create(t, s1, newRequest(id, "prod-db", "g/p", 1, time.Now()))
		var approveErr, cancelErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; _, _, approveErr = review(s1, id, "bob", access.VerdictApprove) })
		wg.Go(func() {
			<-start
			_, cancelErr = end(s2, id, access.StatePending, access.StateCancelled, access.EventCancelled, "alice")
		})
		close(start)
		wg.Wait()
		if (approveErr == nil) == (cancelErr == nil) {
			t.Fatalf("%s: approve %v, cancel %v; want exactly one to succeed", id, approveErr, cancelErr)
		}
		for _, err := range []error{approveErr, cancelErr} {
			if err != nil && !errors.Is(err, access.ErrConflict) {
				t.Fatalf("%s: the loser failed with %v, want ErrConflict", id, err)
			}
		}
		r := mustGet(t, s1, id)
		if wantState := map[bool]access.State{true: access.StateApproved, false: access.StateCancelled}[approveErr == nil]; r.State != wantState || len(r.History) != 2 {
			t.Fatalf("%s: %s with history %v, want %s after one transition", id, r.State, events(r), wantState)
		}
	}
}

func testAccessSweep(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for _, id := range []string{"denied", "cancelled", "approved", "pending"} {
		create(t, s, newRequest(id, "prod-db", "g/p", 1, clk.Now()))
	}
	if _, _, err := review(s, "denied", "bob", access.VerdictDeny); err != nil {
		t.Fatal(err)
	}
	if _, err := end(s, "cancelled", access.StatePending, access.StateCancelled, access.EventCancelled, "alice"); err != nil {
		t.Fatal(err)
	}
	ns, err := s.DueNotifications(ctx, clk.Now(), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if err := s.NotificationDelivered(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(DefaultNotificationRetention)
	if _, err := s.Sweep(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "notification_outbox", "delivered_at IS NOT NULL OR target = $1", "slack"); n != 0 {
		t.Fatalf("%d delivered notifications outlived their retention", n)
	}
	if n := count(t, s, "access_request", "id <> $1", ""); n != 4 {
		t.Fatalf("%d requests left after a week, want all 4", n)
	}
	clk.Advance(DefaultRequestRetention - DefaultNotificationRetention)
	if _, err := s.Sweep(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// The pending one lapsed long ago but expiry, not the sweep, ends it.
	for table, want := range map[string]int{"access_request": 2, "access_review": 0, "access_event": 2} {
		if n := count(t, s, table, "1 = 1 OR $1 = ''", ""); n != want {
			t.Fatalf("%s holds %d rows after the retention, want %d (the unfinished requests' only)", table, n, want)
		}
	}
}

func testAccessClosed(t *testing.T, b backend) {
	ctx := context.Background()
	s, err := Open(ctx, b.fresh(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	now := time.Now()
	calls := map[string]error{
		"CreateAccessRequest": s.CreateAccessRequest(ctx, newRequest("r", "i", "g/p", 1, now), nil),
	}
	_, calls["AccessRequest"] = s.AccessRequest(ctx, "r")
	_, calls["AccessRequests"] = s.AccessRequests(ctx, access.Query{})
	_, _, calls["ReviewAccessRequest"] = review(s, "r", "bob", access.VerdictApprove)
	_, calls["EndAccessRequest"] = end(s, "r", access.StatePending, access.StateCancelled, access.EventCancelled, "a")
	_, calls["ExpireAccessRequests"] = s.ExpireAccessRequests(ctx, now, 1, nil)
	_, calls["ActiveGrants"] = s.ActiveGrants(ctx, "i", now)
	_, calls["DueNotifications"] = s.DueNotifications(ctx, now, 1, time.Minute)
	calls["NotificationDelivered"] = s.NotificationDelivered(ctx, 1)
	calls["NotificationFailed"] = s.NotificationFailed(ctx, 1, now, "x")
	for name, err := range calls {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s on a closed store: %v, want ErrUnavailable", name, err)
		}
	}
	if ok, err := s.GrantActive(ctx, "r", now); ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("GrantActive on a closed store: %v, %v", ok, err)
	}
}

// drain calls take from both stores at once until both get nothing, and
// returns everything they took; an error or more than limit rows at once
// fails the test.
func drain[T any](t *testing.T, stores []*Store, limit int, take func(s *Store) ([]T, error)) []T {
	t.Helper()
	var mu sync.Mutex
	var all []T
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for {
				got, err := take(s)
				if err != nil || len(got) > limit {
					t.Errorf("a concurrent call took %d (limit %d), err %v", len(got), limit, err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				all = append(all, got...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return all
}

func testTwoStoresDrain(t *testing.T, b backend) {
	needShared(t, b)
	ctx := context.Background()
	url := b.fresh(t)
	clk := newClock()
	stores := []*Store{open(t, url, clk), open(t, url, clk)}
	for i := range 30 {
		create(t, stores[0], newRequest("r"+strconv.Itoa(i), "prod-db", "g/p", 1, clk.Now()))
	}
	clk.Advance(time.Hour)
	expired := drain(t, stores, 4, func(s *Store) ([]access.Request, error) {
		return s.ExpireAccessRequests(ctx, clk.Now(), 4, subscribed)
	})
	seen := map[string]bool{}
	for _, r := range expired {
		if seen[r.ID] {
			t.Fatalf("%s was expired twice", r.ID)
		}
		seen[r.ID] = true
	}
	if len(seen) != 30 || count(t, stores[0], "access_event", "type = $1", "expired") != 30 {
		t.Fatalf("%d of 30 requests expired", len(seen))
	}
	claimed := drain(t, stores, 7, func(s *Store) ([]access.Notification, error) {
		return s.DueNotifications(ctx, clk.Now(), 7, time.Hour)
	})
	ids := map[int64]bool{}
	for _, n := range claimed {
		if ids[n.ID] || n.Attempts != 1 {
			t.Fatalf("notification %d claimed twice (attempts %d)", n.ID, n.Attempts)
		}
		ids[n.ID] = true
	}
	if len(ids) != 120 { // 30 requests x (requested, expired) x (slack, audit)
		t.Fatalf("%d notifications claimed, want 120", len(ids))
	}
}
