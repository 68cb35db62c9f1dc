package state

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// accessTests are the conformance tests of access.Store; TestConformance
// runs them on every backend.
var accessTests = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"A stored request reads back as it was, and an unknown id is not found", testAccessCreateGet},
	{"Requests list newest first, by state, at most the limit", testAccessList},
	{"The one approval a request needs approves it until approval time plus duration", testAccessApproveOne},
	{"A request needing two approvals stays pending after one and refuses a second review by the same person", testAccessApproveTwo},
	{"A denial denies a request and no review follows", testAccessDeny},
	{"Cancel ends pending requests only and revoke approved ones only", testAccessEnd},
	{"A lapsed request refuses reviews and cancel and an ended grant refuses revoke", testAccessLapsed},
	{"Expiry moves lapsed requests and ended grants to expired once, within the limit", testAccessExpire},
	{"Only approved grants that have not ended are active", testAccessGrants},
	{"A request needing no approval is created approved with its two events", testAccessAutoApproved},
	{"A closed store answers every access call with ErrUnavailable", testAccessClosed},
}

func testAccessCreateGet(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	clk.Advance(123456789 * time.Nanosecond) // times keep their nanoseconds
	r := newRequest("r1", "prod-db", "my-group/api", 1, clk.Now())
	create(t, s, r)
	if got := mustGet(t, s, "r1"); !reflect.DeepEqual(got, r) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, r)
	}
	if err := s.CreateAccessRequest(context.Background(), r, nil); err == nil {
		t.Fatal("a second request with the same id was stored")
	}
	_, err := s.AccessRequest(context.Background(), "nope")
	wantErr(t, "an unknown id", err, access.ErrNotFound)
}

func testAccessList(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		create(t, s, newRequest(id, "prod-db", "g/p", 1, clk.Now()))
		clk.Advance(time.Second)
	}
	if _, _, err := review(s, "c", "bob", access.VerdictDeny); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter access.Filter
		want   []string
	}{
		{"all requests come newest first", access.Filter{}, []string{"e", "d", "c", "b", "a"}},
		{"a state keeps that state only", access.Filter{State: access.StatePending}, []string{"e", "d", "b", "a"}},
		{"the denied one alone", access.Filter{State: access.StateDenied}, []string{"c"}},
		{"a limit keeps the newest", access.Filter{Limit: 2}, []string{"e", "d"}},
		{"a state nobody is in lists nothing", access.Filter{State: access.StateRevoked}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := s.AccessRequests(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Fatalf("listed %v, want %v", ids, tc.want)
			}
		})
	}
	rs, _ := s.AccessRequests(ctx, access.Filter{State: access.StateDenied})
	if len(rs) != 1 || len(rs[0].Reviews) != 1 || len(rs[0].History) != 2 {
		t.Fatalf("a listed request lacks its reviews or history: %+v", rs)
	}
}

func testAccessApproveOne(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	create(t, s, newRequest("r1", "prod-db", "g/p", 1, clk.Now()))
	clk.Advance(10 * time.Minute)
	r, ev, err := review(s, "r1", "bob", access.VerdictApprove)
	if err != nil || ev != access.EventApproved || r.State != access.StateApproved {
		t.Fatalf("the approval: state %s, event %s, err %v", r.State, ev, err)
	}
	if want := clk.Now().UTC().Add(30 * time.Minute); !r.ExpiresAt.Equal(want) {
		t.Fatalf("the grant ends %s, want approval time + 30m = %s", r.ExpiresAt, want)
	}
	got := mustGet(t, s, "r1")
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("stored\n%+v\nreturned\n%+v", got, r)
	}
	if !slices.Equal(events(got), []access.EventType{access.EventRequested, access.EventApproved}) || len(got.Reviews) != 1 ||
		got.Reviews[0].Reviewer != person("bob") || got.History[1].Actor != person("bob") {
		t.Fatalf("history %v, reviews %+v", events(got), got.Reviews)
	}
}

func testAccessApproveTwo(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	r0 := newRequest("r1", "prod-db", "g/p", 2, clk.Now())
	create(t, s, r0)
	r, ev, err := review(s, "r1", "bob", access.VerdictApprove)
	if err != nil || ev != access.EventReviewed || r.State != access.StatePending || !r.ExpiresAt.Equal(r0.ExpiresAt) {
		t.Fatalf("the first of two approvals: state %s, event %s, expires %s, err %v", r.State, ev, r.ExpiresAt, err)
	}
	for _, verdict := range []string{access.VerdictApprove, access.VerdictDeny} {
		_, _, err = review(s, "r1", "bob", verdict)
		wantErr(t, "a second review ("+verdict+") by the same person", err, access.ErrConflict)
	}
	if got := mustGet(t, s, "r1"); len(got.Reviews) != 1 || len(got.History) != 2 {
		t.Fatalf("a refused review was recorded: %d reviews, history %v", len(got.Reviews), events(got))
	}
	clk.Advance(time.Minute)
	r, ev, err = review(s, "r1", "carol", access.VerdictApprove)
	if err != nil || ev != access.EventApproved || r.State != access.StateApproved || r.Approvals() != 2 {
		t.Fatalf("the second approval: state %s, event %s, err %v", r.State, ev, err)
	}
	if want := clk.Now().UTC().Add(30 * time.Minute); !r.ExpiresAt.Equal(want) {
		t.Fatalf("the grant ends %s, want the second approval + 30m = %s", r.ExpiresAt, want)
	}
	want := []access.EventType{access.EventRequested, access.EventReviewed, access.EventApproved}
	if got := mustGet(t, s, "r1"); !slices.Equal(events(got), want) {
		t.Fatalf("history %v, want %v", events(got), want)
	}
}

func testAccessDeny(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	create(t, s, newRequest("r1", "prod-db", "g/p", 2, clk.Now()))
	r, ev, err := review(s, "r1", "bob", access.VerdictDeny)
	if err != nil || ev != access.EventDenied || r.State != access.StateDenied {
		t.Fatalf("the denial: state %s, event %s, err %v", r.State, ev, err)
	}
	_, _, err = review(s, "r1", "carol", access.VerdictApprove)
	wantErr(t, "an approval after a denial", err, access.ErrConflict)
	_, _, err = review(s, "nope", "carol", access.VerdictApprove)
	wantErr(t, "a review of an unknown request", err, access.ErrNotFound)
	_, _, err = review(s, "r1", "carol", "maybe")
	wantErr(t, "a verdict that is neither approve nor deny", err, access.ErrInvalid)
}

func testAccessEnd(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for _, id := range []string{"p", "a"} {
		create(t, s, newRequest(id, "prod-db", "g/p", 1, clk.Now()))
	}
	if _, _, err := review(s, "a", "bob", access.VerdictApprove); err != nil {
		t.Fatal(err)
	}
	revoke := func(id string) error {
		_, err := end(s, id, access.StateApproved, access.StateRevoked, access.EventRevoked, "bob")
		return err
	}
	cancel := func(id string) error {
		_, err := end(s, id, access.StatePending, access.StateCancelled, access.EventCancelled, "alice")
		return err
	}
	wantErr(t, "revoking a pending request", revoke("p"), access.ErrConflict)
	wantErr(t, "cancelling an approved request", cancel("a"), access.ErrConflict)
	wantErr(t, "cancelling an unknown request", cancel("nope"), access.ErrNotFound)
	if err := cancel("p"); err != nil {
		t.Fatalf("cancelling a pending request: %v", err)
	}
	if err := revoke("a"); err != nil {
		t.Fatalf("revoking an approved request: %v", err)
	}
	wantErr(t, "cancelling twice", cancel("p"), access.ErrConflict)
	wantErr(t, "revoking twice", revoke("a"), access.ErrConflict)
	_, err := end(s, "p", access.StatePending, access.StateApproved, access.EventApproved, "alice")
	wantErr(t, "an end that is neither cancel nor revoke", err, access.ErrInvalid)
	for id, want := range map[string][]access.EventType{
		"p": {access.EventRequested, access.EventCancelled},
		"a": {access.EventRequested, access.EventApproved, access.EventRevoked},
	} {
		if got := mustGet(t, s, id); !slices.Equal(events(got), want) {
			t.Fatalf("%s: history %v, want %v", id, events(got), want)
		}
	}
}

func testAccessLapsed(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for _, id := range []string{"p", "a"} {
		create(t, s, newRequest(id, "prod-db", "g/p", 1, clk.Now()))
	}
	if _, _, err := review(s, "a", "bob", access.VerdictApprove); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour) // p lapses now, a's grant ended 30 minutes ago
	_, _, err := review(s, "p", "bob", access.VerdictApprove)
	wantErr(t, "approving a lapsed request", err, access.ErrConflict)
	_, err = end(s, "p", access.StatePending, access.StateCancelled, access.EventCancelled, "alice")
	wantErr(t, "cancelling a lapsed request", err, access.ErrConflict)
	_, err = end(s, "a", access.StateApproved, access.StateRevoked, access.EventRevoked, "bob")
	wantErr(t, "revoking an ended grant", err, access.ErrConflict)
	if ok, err := s.GrantActive(ctx, "a", clk.Now()); ok || err != nil {
		t.Fatalf("an ended grant: active %v, err %v", ok, err)
	}
	if got := mustGet(t, s, "p"); got.State != access.StatePending || len(got.Reviews) != 0 {
		t.Fatalf("a refused call changed the lapsed request: %+v", got)
	}
}

func testAccessExpire(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	start := clk.Now()
	for _, id := range []string{"p1", "p2", "a", "live"} {
		create(t, s, newRequest(id, "prod-db", "g/p", 1, start))
	}
	if _, _, err := review(s, "a", "bob", access.VerdictApprove); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.ExpireAccessRequests(ctx, start.Add(30*time.Minute-time.Nanosecond), 10, subscribed); len(rs) != 0 || err != nil {
		t.Fatalf("expiry before anything ended: %d requests, err %v", len(rs), err)
	}
	clk.Advance(59 * time.Minute)
	create(t, s, newRequest("later", "prod-db", "g/p", 1, clk.Now()))
	var expired []string
	for _, limit := range []int{2, 2, 2} {
		rs, err := s.ExpireAccessRequests(ctx, start.Add(time.Hour), limit, subscribed)
		if err != nil || len(rs) > limit {
			t.Fatalf("expiry with limit %d: %d requests, err %v", limit, len(rs), err)
		}
		for _, r := range rs {
			if r.State != access.StateExpired || r.History[len(r.History)-1].Type != access.EventExpired {
				t.Fatalf("an expired request is %s with history %v", r.State, events(r))
			}
			expired = append(expired, r.ID)
		}
	}
	slices.Sort(expired)
	if want := []string{"a", "live", "p1", "p2"}; !slices.Equal(expired, want) {
		t.Fatalf("expired %v, want %v (each once; later lapses later)", expired, want)
	}
	if got := mustGet(t, s, "later"); got.State != access.StatePending {
		t.Fatalf("a request that has not lapsed is %s", got.State)
	}
	if got := mustGet(t, s, "a"); !slices.Equal(events(got), []access.EventType{access.EventRequested, access.EventApproved, access.EventExpired}) {
		t.Fatalf("an ended grant's history: %v", events(got))
	}
	if _, err := s.ExpireAccessRequests(ctx, start, 0, nil); err == nil {
		t.Fatal("expiry with limit 0 must be refused")
	}
}

func testAccessGrants(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for _, r := range []access.Request{
		newRequest("one", "prod-db", "g/one", 1, clk.Now()),
		newRequest("two", "prod-db", "g/two", 1, clk.Now()),
		newRequest("revoked", "prod-db", "g/one", 1, clk.Now()),
		newRequest("ended", "prod-db", "g/one", 1, clk.Now()),
		newRequest("pending", "prod-db", "g/one", 1, clk.Now()),
		newRequest("other", "staging-db", "g/one", 1, clk.Now()),
	} {
		create(t, s, r)
	}
	approve := func(id string) {
		if _, _, err := review(s, id, "bob", access.VerdictApprove); err != nil {
			t.Fatal(err)
		}
	}
	approve("ended")
	clk.Advance(20 * time.Minute)
	for _, id := range []string{"one", "two", "revoked", "other"} {
		approve(id)
	}
	if _, err := end(s, "revoked", access.StateApproved, access.StateRevoked, access.EventRevoked, "bob"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15 * time.Minute) // "ended" ended 5 minutes ago; the rest end in 15
	gs, err := s.ActiveGrants(ctx, "prod-db", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	one, two := mustGet(t, s, "one"), mustGet(t, s, "two")
	want := []access.Grant{
		{ID: "one", Identity: "prod-db", Binding: one.Binding, EndsAt: one.ExpiresAt},
		{ID: "two", Identity: "prod-db", Binding: two.Binding, EndsAt: two.ExpiresAt},
	}
	if !reflect.DeepEqual(gs, want) {
		t.Fatalf("active grants\n%+v\nwant\n%+v", gs, want)
	}
	for id, want := range map[string]bool{"one": true, "other": true, "revoked": false, "ended": false, "pending": false, "nope": false} {
		if ok, err := s.GrantActive(ctx, id, clk.Now()); ok != want || err != nil {
			t.Fatalf("GrantActive(%s) = %v, err %v; want %v", id, ok, err, want)
		}
	}
	if ok, _ := s.GrantActive(ctx, "one", one.ExpiresAt); ok {
		t.Fatal("a grant is active at the instant it ends")
	}
}

func testAccessAutoApproved(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	r := newRequest("r1", "prod-db", "g/p", 0, clk.Now())
	r.State, r.ExpiresAt = access.StateApproved, clk.Now().UTC().Add(30*time.Minute)
	r.History = append(r.History, access.Event{Type: access.EventApproved, Actor: r.Requester.Person, Reason: "risk low needs no approval", At: clk.Now().UTC()})
	create(t, s, r)
	if got := mustGet(t, s, "r1"); !reflect.DeepEqual(got, r) {
		t.Fatalf("read back %+v", got)
	}
	if n := count(t, s, "notification_outbox", "target = $1", "slack"); n != 2 {
		t.Fatalf("%d notifications to slack, want requested and approved", n)
	}
	if ok, err := s.GrantActive(context.Background(), "r1", clk.Now()); !ok || err != nil {
		t.Fatalf("an auto-approved grant: active %v, err %v", ok, err)
	}
}
