package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// The access conformance tests' helpers: requests, people, subscribers.

const (
	peopleIssuer = "https://login.example.com"
	ciIssuer     = "https://gitlab.example.com"
)

// person is someone of the company IdP, told apart by their email.
func person(sub string) access.Person {
	return access.Person{Provider: "corp", Issuer: peopleIssuer, Subject: sub, Name: sub + "@example.com", Key: "email:" + sub + "@example.com"}
}

// actor is the person as an event names them: without the person key,
// which is a review's.
func actor(sub string) access.Person {
	p := person(sub)
	p.Key = ""
	return p
}

// newRequest is a pending request for identity filed now by a pipeline of
// project, needing approvals, lapsing in an hour, granting 30 minutes.
func newRequest(id, identity, project string, approvals int, now time.Time) access.Request {
	now = now.UTC()
	who := access.Person{Provider: "gitlab", Issuer: ciIssuer, Subject: "project_path:" + project + ":ref_type:branch:ref:main"}
	return access.Request{
		ID: id, Identity: identity, State: access.StatePending, Risk: "high", ApprovalsRequired: approvals,
		Reviews: []access.Review{},
		Requester: access.Requester{Person: who, Facts: map[string]string{
			"project_path": project, "ref": "main", "ref_type": "branch", "user_login": "alice",
		}, Persons: []string{"email:alice@example.com", `sub:["` + ciIssuer + `","` + who.Subject + `"]`}},
		Binding:         access.Binding{Kind: "ref", Provider: "gitlab", Issuer: ciIssuer, Project: project, Ref: "branch:main"},
		Reason:          "incident 42",
		Ticket:          "INC-42",
		Scopes:          []string{"read"},
		Audiences:       []string{},
		DurationSeconds: 1800,
		CreatedAt:       now,
		ExpiresAt:       now.Add(time.Hour),
		History:         []access.Event{{Type: access.EventRequested, Actor: who, Reason: "incident 42", At: now}},
	}
}

// subscribed notifies two targets of every event but reviewed.
func subscribed(ev access.EventType) []string {
	if ev == access.EventReviewed {
		return nil
	}
	return []string{"slack", "audit"}
}

// create stores r, failing the test on an error.
func create(t *testing.T, s *Store, r access.Request) {
	t.Helper()
	if err := s.CreateAccessRequest(context.Background(), r, subscribed); err != nil {
		t.Fatalf("create %s: %v", r.ID, err)
	}
}

// review gives verdict on id by sub at the store's clock.
func review(s *Store, id, sub, verdict string) (access.Request, access.EventType, error) {
	rv := access.Review{Reviewer: person(sub), Verdict: verdict, Reason: verdict + " by " + sub, At: s.now().UTC()}
	return s.ReviewAccessRequest(context.Background(), id, rv, subscribed)
}

// end cancels (from pending) or revokes (from approved) id by sub now.
func end(s *Store, id string, from, to access.State, ev access.EventType, sub string) (access.Request, error) {
	e := access.Event{Type: ev, Actor: person(sub), Reason: string(ev), At: s.now().UTC()}
	return s.EndAccessRequest(context.Background(), id, from, to, e, subscribed)
}

// mustGet reads id.
func mustGet(t *testing.T, s *Store, id string) access.Request {
	t.Helper()
	r, err := s.AccessRequest(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return r
}

// count is the number of rows of table matching where (SQL, $1 = arg).
func count(t *testing.T, s *Store, table, where string, arg any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table+" WHERE "+where, arg).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// events lists the types of r's history.
func events(r access.Request) []access.EventType {
	out := make([]access.EventType, len(r.History))
	for i, e := range r.History {
		out[i] = e.Type
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err %v, want %v", what, err, want)
	}
}
