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
	Scopes            []string  `json:"scopes,omitempty"`
	DurationSeconds   int64     `json:"duration_seconds"`
	CreatedAt         time.Time `json:"created_at"`
	// ExpiresAt is when a pending request lapses or, once approved, when
	// its grant ends (approval time + duration).
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
	EndsAt   time.Time
	// Binds is whether the grant's binding is the exchanging token's
	// (set by Service.Grants).
	Binds bool
}
