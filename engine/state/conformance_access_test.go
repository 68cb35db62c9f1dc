package state

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
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
	{"Requests list newest first, by state, identity and who may see them, at most the limit", testAccessList},
	{"Pages of a list lose and repeat no request while new ones arrive", testAccessListPages},
	{"A grant that starts later is active only from its start, for its whole duration", testAccessStartsLater},
	{"Scopes, audiences and the persons behind a request read back as stored", testAccessGrantBounds},
	{"One person reviews once, whatever provider their review comes through", testAccessOnePersonOneReview},
	{"Migration 00003 gives requests of before it no scopes and finds their requester", testAccessMigrate3},
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

// everyone sees the requests of every identity of the tests.
func everyone(q access.Query) access.Query {
	q.Readable = []string{"prod-db", "staging-db"}
	return q
}

// listIDs lists q's ids.
func listIDs(t *testing.T, s *Store, q access.Query) []string {
	t.Helper()
	rs, err := s.AccessRequests(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testAccessList(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		create(t, s, newRequest(id, "prod-db", "g/p", 1, clk.Now()))
		clk.Advance(time.Second)
	}
	create(t, s, newRequest("f", "staging-db", "g/other", 1, clk.Now()))
	if _, _, err := review(s, "c", "bob", access.VerdictDeny); err != nil {
		t.Fatal(err)
	}
	mine := newRequest("x", "", "g/p", 1, time.Time{}).Requester
	tests := []struct {
		name  string
		query access.Query
		want  []string
	}{
		{"all requests come newest first", everyone(access.Query{}), []string{"f", "e", "d", "c", "b", "a"}},
		{"a state keeps that state only", everyone(access.Query{State: access.StatePending}), []string{"f", "e", "d", "b", "a"}},
		{"the denied one alone", everyone(access.Query{State: access.StateDenied}), []string{"c"}},
		{"an identity keeps its requests only", everyone(access.Query{Identity: "staging-db"}), []string{"f"}},
		{"a limit keeps the newest", everyone(access.Query{Limit: 2}), []string{"f", "e"}},
		{"a state nobody is in lists nothing", everyone(access.Query{State: access.StateRevoked}), []string{}},
		{"a reader of one identity sees its requests only", access.Query{Readable: []string{"staging-db"}}, []string{"f"}},
		{"nobody sees nothing", access.Query{}, []string{}},
		{"a requester sees their own requests", access.Query{RequesterIssuer: mine.Issuer, RequesterSubject: mine.Subject}, []string{"e", "d", "c", "b", "a"}},
		{"the same sub of another issuer sees nothing", access.Query{RequesterIssuer: peopleIssuer, RequesterSubject: mine.Subject}, []string{}},
		{"a requester's own and the readable ones, filtered by state", access.Query{RequesterIssuer: mine.Issuer, RequesterSubject: mine.Subject,
			Readable: []string{"staging-db"}, State: access.StateDenied}, []string{"c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if ids := listIDs(t, s, tc.query); !slices.Equal(ids, tc.want) {
				t.Fatalf("listed %v, want %v", ids, tc.want)
			}
		})
	}
	rs, _ := s.AccessRequests(ctx, everyone(access.Query{State: access.StateDenied}))
	if len(rs) != 1 || len(rs[0].Reviews) != 1 || len(rs[0].History) != 2 {
		t.Fatalf("a listed request lacks its reviews or history: %+v", rs)
	}
}

// testAccessListPages pages through requests three at a time while others
// arrive, some in the very nanosecond of the last one listed: every
// request there was when paging began is listed exactly once, in order.
func testAccessListPages(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	var before []string
	for i := range 10 {
		id := fmt.Sprintf("r%02d", i)
		create(t, s, newRequest(id, "prod-db", "g/p", 1, clk.Now()))
		before = append([]string{id}, before...)
		if i%3 != 0 { // several share a creation time: the id breaks the tie
			clk.Advance(time.Second)
		}
	}
	var seen []string
	var after *access.Position
	for page := 0; ; page++ {
		rs, err := s.AccessRequests(context.Background(), everyone(access.Query{After: after, Limit: 3}))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			seen = append(seen, r.ID)
		}
		if len(rs) < 3 {
			break
		}
		last := rs[len(rs)-1]
		after = &access.Position{CreatedAt: last.CreatedAt, ID: last.ID}
		// Newcomers: one later, one in the same nanosecond as the last
		// request listed but with a greater id.
		clk.Advance(time.Second)
		create(t, s, newRequest(fmt.Sprintf("new%d", page), "prod-db", "g/p", 1, clk.Now()))
		create(t, s, newRequest(last.ID+"z", "prod-db", "g/p", 1, last.CreatedAt))
	}
	if !slices.Equal(seen, orderOf(t, s, before)) || len(seen) != 10 {
		t.Fatalf("paged %v, want each of %v once, newest first", seen, orderOf(t, s, before))
	}
}

// orderOf is ids in the list's order: newest first, then by id.
func orderOf(t *testing.T, s *Store, ids []string) []string {
	t.Helper()
	rs := make([]access.Request, len(ids))
	for i, id := range ids {
		rs[i] = mustGet(t, s, id)
	}
	slices.SortFunc(rs, func(a, b access.Request) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testAccessStartsLater(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	starts := clk.Now().UTC().Add(2 * time.Hour)
	r := newRequest("later", "prod-db", "g/p", 1, clk.Now())
	r.StartsAt = &starts
	create(t, s, r)
	if got := mustGet(t, s, "later"); got.StartsAt == nil || !got.StartsAt.Equal(starts) {
		t.Fatalf("starts_at read back as %v, want %s", got.StartsAt, starts)
	}
	got, _, err := review(s, "later", "bob", access.VerdictApprove)
	if err != nil || !got.ExpiresAt.Equal(starts.Add(30*time.Minute)) {
		t.Fatalf("approved before its start: ends %s (err %v), want the start + 30m", got.ExpiresAt, err)
	}
	for _, tc := range []struct {
		at     time.Time
		active bool
	}{
		{clk.Now(), false}, {starts.Add(-time.Nanosecond), false}, {starts, true},
		{starts.Add(30*time.Minute - time.Nanosecond), true}, {starts.Add(30 * time.Minute), false},
	} {
		gs, err := s.ActiveGrants(ctx, "prod-db", tc.at)
		ok, err2 := s.GrantActive(ctx, "later", tc.at)
		if err != nil || err2 != nil || (len(gs) == 1) != tc.active || ok != tc.active {
			t.Fatalf("at %s: grants %+v, active %v (errs %v, %v); want active %v", tc.at, gs, ok, err, err2, tc.active)
		}
		if tc.active && (!gs[0].StartsAt.Equal(starts) || !gs[0].EndsAt.Equal(starts.Add(30*time.Minute))) {
			t.Fatalf("the grant runs %s to %s, want %s for 30m", gs[0].StartsAt, gs[0].EndsAt, starts)
		}
	}
	// Approved after its start, a grant runs from the approval.
	clk.Advance(3 * time.Hour)
	past := newRequest("past", "prod-db", "g/p", 1, clk.Now())
	early := clk.Now().UTC().Add(-time.Hour)
	past.StartsAt = &early
	create(t, s, past)
	if got, _, err := review(s, "past", "bob", access.VerdictApprove); err != nil || !got.ExpiresAt.Equal(clk.Now().UTC().Add(30*time.Minute)) {
		t.Fatalf("approved after its start: ends %s (err %v), want the approval + 30m", got.ExpiresAt, err)
	}
}

func testAccessGrantBounds(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	r := newRequest("r1", "prod-db", "g/p", 0, clk.Now())
	r.State, r.ExpiresAt = access.StateApproved, clk.Now().UTC().Add(30*time.Minute)
	r.Scopes, r.IdentityScopes, r.Audiences = []string{"read", "write"}, true, []string{"https://db.example.com"}
	create(t, s, r)
	if got := mustGet(t, s, "r1"); !reflect.DeepEqual(got, r) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, r)
	}
	none := newRequest("r2", "prod-db", "g/p", 0, clk.Now())
	none.State, none.ExpiresAt, none.Scopes = access.StateApproved, clk.Now().UTC().Add(30*time.Minute), nil
	create(t, s, none)
	gs, err := s.ActiveGrants(ctx, "prod-db", clk.Now())
	if err != nil || len(gs) != 2 {
		t.Fatalf("grants %+v, err %v", gs, err)
	}
	for _, g := range gs {
		want := map[string][]string{"r1": {"read", "write"}, "r2": {}}[g.ID]
		if !slices.Equal(g.Scopes, want) || g.Scopes == nil || g.ID == "r1" && !slices.Equal(g.Audiences, r.Audiences) {
			t.Fatalf("grant %s carries scopes %#v, audiences %v; want scopes %v", g.ID, g.Scopes, g.Audiences, want)
		}
	}
}

func testAccessOnePersonOneReview(t *testing.T, b backend) {
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	create(t, s, newRequest("r1", "prod-db", "g/p", 2, clk.Now()))
	if _, _, err := review(s, "r1", "bob", access.VerdictApprove); err != nil {
		t.Fatal(err)
	}
	// Bob again, through another provider: another issuer and sub, the
	// same person.
	again := person("bob")
	again.Provider, again.Issuer, again.Subject = "corp2", "https://login.other.example.com", "00u-bob"
	rv := access.Review{Reviewer: again, Verdict: access.VerdictApprove, Reason: "again", At: clk.Now().UTC()}
	_, _, err := s.ReviewAccessRequest(context.Background(), "r1", rv, subscribed)
	wantErr(t, "a second review by the same person through another provider", err, access.ErrConflict)
	// The same account whose person changed is still the same reviewer.
	renamed := person("bob")
	renamed.Key = "email:robert@example.com"
	rv = access.Review{Reviewer: renamed, Verdict: access.VerdictApprove, Reason: "renamed", At: clk.Now().UTC()}
	_, _, err = s.ReviewAccessRequest(context.Background(), "r1", rv, subscribed)
	wantErr(t, "a second review by the same account under another person", err, access.ErrConflict)
	if got := mustGet(t, s, "r1"); got.State != access.StatePending || len(got.Reviews) != 1 || got.Reviews[0].Reviewer.Key != "email:bob@example.com" {
		t.Fatalf("after refused reviews: %s with reviews %+v", got.State, got.Reviews)
	}
	if got, _, err := review(s, "r1", "carol", access.VerdictApprove); err != nil || got.State != access.StateApproved {
		t.Fatalf("another person's approval: %s, %v", got.State, err)
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
		got.Reviews[0].Reviewer != person("bob") || got.History[1].Actor != actor("bob") {
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
	approved := one.ExpiresAt.Add(-30 * time.Minute)
	want := []access.Grant{
		{ID: "one", Identity: "prod-db", Binding: one.Binding, Scopes: []string{"read"}, Audiences: []string{}, StartsAt: approved, EndsAt: one.ExpiresAt},
		{ID: "two", Identity: "prod-db", Binding: two.Binding, Scopes: []string{"read"}, Audiences: []string{}, StartsAt: approved, EndsAt: two.ExpiresAt},
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

// testAccessMigrate3 migrates a database at version 2 holding a request
// of before 00003 (no scopes named: null; no requester columns): its
// scopes become none, never all of the identity's, and its requester is
// found by the list's query.
func testAccessMigrate3(t *testing.T, b backend) {
	needShared(t, b)
	ctx := context.Background()
	url := b.fresh(t)
	c, err := connect(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	_, err = c.db.ExecContext(ctx, `INSERT INTO access_request (id, identity, state, risk, approvals_required, requester, binding,
binding_key, reason, ticket, scopes, duration_seconds, created_at, expires_at, updated_at)
VALUES ('old', 'prod-db', 'approved', 'high', 1, '{"provider":"gitlab","issuer":"https://gitlab.example.com","sub":"project_path:g/p"}',
'{"kind":"ref"}', '[]', 'r', '', 'null', 1800, 1, 4000000000000000000, 1)`)
	if err != nil {
		t.Fatal(err)
	}
	if c.unlock != nil {
		c.unlock()
	}
	_ = c.db.Close()
	s := open(t, url, nil)
	old := mustGet(t, s, "old")
	if old.Scopes == nil || len(old.Scopes) != 0 || old.IdentityScopes || old.StartsAt != nil {
		t.Fatalf("a request of before 00003 reads back with scopes %#v, identity scopes %v, start %v", old.Scopes, old.IdentityScopes, old.StartsAt)
	}
	q := access.Query{RequesterIssuer: "https://gitlab.example.com", RequesterSubject: "project_path:g/p"}
	if ids := listIDs(t, s, q); !slices.Equal(ids, []string{"old"}) {
		t.Fatalf("its requester lists %v", ids)
	}
	gs, err := s.ActiveGrants(ctx, "prod-db", time.Unix(0, 4000000000000000000-1000000000))
	if err != nil || len(gs) != 1 || gs[0].Scopes == nil || len(gs[0].Scopes) != 0 {
		t.Fatalf("its grant: %+v, %v; want one carrying no scope", gs, err)
	}
}
