package access

import (
	"encoding/json"
	"maps"
	"time"
)

// State is where a request is in its life.
type State string

// The states of DESIGN §13.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateDenied    State = "denied"
	StateCancelled State = "cancelled"
	StateExpired   State = "expired"
	StateRevoked   State = "revoked"
)

// Verdicts a reviewer gives; VerdictRead and VerdictRevoke are asked of the
// policy too (may this person see the request, end its grant).
const (
	VerdictApprove = "approve"
	VerdictDeny    = "deny"
	VerdictRevoke  = "revoke"
	VerdictRead    = "read"
)

// Event names a transition; every one is kept in the request's history,
// written to the decision log and offered to notifications.
type EventType string

// Events. EventReviewed is an approval that is not yet enough.
const (
	EventRequested EventType = "requested"
	EventReviewed  EventType = "reviewed"
	EventApproved  EventType = "approved"
	EventDenied    EventType = "denied"
	EventCancelled EventType = "cancelled"
	EventExpired   EventType = "expired"
	EventRevoked   EventType = "revoked"
)

// Request is one request for a just-in-time identity, as the API shows it.
type Request struct {
	ID                string    `json:"id"`
	Identity          string    `json:"identity"`
	State             State     `json:"state"`
	Risk              string    `json:"risk"`
	ApprovalsRequired int       `json:"approvals_required"`
	Reviews           []Review  `json:"reviews"`
	Requester         Requester `json:"requester"`
	Binding           Binding   `json:"binding"`
	Reason            string    `json:"reason"`
	Ticket            string    `json:"ticket,omitempty"`
	// Scopes are what a grant of the request carries: the scopes named,
	// or all of the identity's when none were (IdentityScopes: shown so to
	// approvers). Audiences, when named, bound the grant's audiences too.
	Scopes          []string `json:"scopes"`
	IdentityScopes  bool     `json:"identity_scopes,omitempty"`
	Audiences       []string `json:"audiences,omitempty"`
	DurationSeconds int64    `json:"duration_seconds"`
	// StartsAt, when set, is the earliest the grant starts: approved
	// before it, the grant is active only from then.
	StartsAt  *time.Time `json:"starts_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	// ExpiresAt is when a pending request lapses or, once approved, when
	// its grant ends (GrantEnds).
	ExpiresAt time.Time `json:"expires_at"`
	// History is every transition, oldest first.
	History []Event `json:"history"`
}

// Approvals counts the approving reviews.
func (r *Request) Approvals() int {
	n := 0
	for _, rv := range r.Reviews {
		if rv.Verdict == VerdictApprove {
			n++
		}
	}
	return n
}

// GrantStarts is when the grant of r, approved at, starts: then, or
// StartsAt when that is later.
func (r *Request) GrantStarts(at time.Time) time.Time {
	if r.StartsAt != nil && r.StartsAt.After(at) {
		return r.StartsAt.UTC()
	}
	return at.UTC()
}

// GrantEnds is when the grant of r, approved at, ends: its start plus
// the duration approved.
func (r *Request) GrantEnds(at time.Time) time.Time {
	return r.GrantStarts(at).Add(time.Duration(r.DurationSeconds) * time.Second)
}

// GrantAt is r's grant when it is active at now: approved, started (its
// start being its end less its duration) and not ended. The store's
// ActiveGrants selects the same in its query.
func (r *Request) GrantAt(now time.Time) (Grant, bool) {
	starts := r.ExpiresAt.Add(-time.Duration(r.DurationSeconds) * time.Second)
	if r.State != StateApproved || now.Before(starts) || !now.Before(r.ExpiresAt) {
		return Grant{}, false
	}
	return Grant{ID: r.ID, Identity: r.Identity, Binding: r.Binding, Scopes: r.Scopes, Audiences: r.Audiences,
		StartsAt: starts, EndsAt: r.ExpiresAt}, true
}

// Review is one person's verdict on a request.
type Review struct {
	Reviewer Person    `json:"reviewer"`
	Verdict  string    `json:"verdict"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// Person names who acted: a verified token's issuer and sub, and a name to
// show (email or preferred_username when the token has one).
type Person struct {
	Provider string `json:"provider"`
	Issuer   string `json:"issuer"`
	Subject  string `json:"sub"`
	Name     string `json:"name,omitempty"`
	// Key is who the person is as the policy tells people apart
	// (person.rego): set on reviews, which count once per person.
	Key string `json:"-"`
}

// Event is one transition of a request.
type Event struct {
	Type   EventType `json:"event"`
	Actor  Person    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Requester is who asked: the person or pipeline, with the facts of its
// token a reviewer needs (project, ref, pipeline, actor) and nothing else.
type Requester struct {
	Person
	// Facts are allowlisted claims (factNames), as strings.
	Facts map[string]string
	// Persons are the persons behind the request, as the request policy
	// named them (person.rego): none of them may review it. Not shown.
	Persons []string
}

// MarshalJSON writes the requester as DESIGN §13 shows it:
// {"provider", "issuer", "sub", "name"?, ...facts}.
func (r Requester) MarshalJSON() ([]byte, error) {
	out := make(map[string]string, len(r.Facts)+4)
	maps.Copy(out, r.Facts)
	out["provider"], out["issuer"], out["sub"] = r.Provider, r.Issuer, r.Subject
	if r.Name != "" {
		out["name"] = r.Name
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Requester) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	r.Provider, r.Issuer, r.Subject, r.Name = m["provider"], m["issuer"], m["sub"], m["name"]
	for _, k := range []string{"provider", "issuer", "sub", "name"} {
		delete(m, k)
	}
	r.Facts = m
	return nil
}

// Grant is an approved request as an exchange needs it.
type Grant struct {
	ID       string
	Identity string
	Binding  Binding
	// Scopes bound what an exchange under the grant gets; Audiences too,
	// when the request named any.
	Scopes    []string
	Audiences []string
	StartsAt  time.Time
	EndsAt    time.Time
	// Binds is whether the grant's binding is the exchanging token's
	// (set by Service.Grants).
	Binds bool
}
