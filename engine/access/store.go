package access

import (
	"context"
	"time"
)

// Store keeps requests, reviews, grants, history and the notification
// outbox; engine/state implements it on SQLite, PostgreSQL and memory.
// Every method that changes a request is one transaction: two replicas
// racing on one request get one outcome, and the loser ErrConflict. Every
// failure to reach the database matches state.ErrUnavailable.
type Store interface {
	// CreateAccessRequest stores a new request with its history (requested,
	// and approved when it needed no approval) and, for each event, an
	// outbox entry per target that notify names.
	CreateAccessRequest(ctx context.Context, r Request, notify Subscribers) error
	// AccessRequest returns a request with its reviews and history;
	// ErrNotFound when there is none.
	AccessRequest(ctx context.Context, id string) (Request, error)
	// AccessRequests lists the requests f selects, newest first (by
	// created_at, then id), at most f.Limit, filtering in the query.
	AccessRequests(ctx context.Context, q Query) ([]Request, error)
	// ReviewAccessRequest records rv on a pending request that has not
	// lapsed by rv.At and that rv's reviewer has not reviewed; a denial
	// denies it, and the approval that reaches approvals_required approves
	// it, its grant ending rv.At + its duration. It returns the request
	// after the review and the event it caused (reviewed, approved or
	// denied). Not pending, lapsed or reviewed by the same person before:
	// ErrConflict; no such request: ErrNotFound.
	ReviewAccessRequest(ctx context.Context, id string, rv Review, notify Subscribers) (Request, EventType, error)
	// EndAccessRequest moves a request in state from to state to (cancel:
	// pending → cancelled; revoke: approved → revoked), only while it has
	// not lapsed by e.At, recording e. Any other state: ErrConflict.
	EndAccessRequest(ctx context.Context, id string, from, to State, e Event, notify Subscribers) (Request, error)
	// ExpireAccessRequests moves requests whose expires_at has passed by
	// now (pending ones, and approved ones whose grant ended) to expired,
	// at most limit of them, and returns them.
	ExpireAccessRequests(ctx context.Context, now time.Time, limit int, notify Subscribers) ([]Request, error)
	// ActiveGrants returns the approved requests for identity whose grant
	// has not ended by now.
	ActiveGrants(ctx context.Context, identity string, now time.Time) ([]Grant, error)
	// GrantActive reports whether the request id is approved and its
	// grant has not ended by now.
	GrantActive(ctx context.Context, id string, now time.Time) (bool, error)
}

// Filter selects requests to list.
type Filter struct {
	// State, when set, keeps requests in that state only; Identity, when
	// set, requests for that identity only.
	State    State
	Identity string
	// Cursor continues a list where an earlier page ended (Page.Next);
	// "" starts from the newest. Opaque to callers.
	Cursor string
	// Limit bounds the page (at most MaxList).
	Limit int
}

// Page is one page of a list, newest first; Next, when set, is the Cursor
// of the page after it.
type Page struct {
	Requests []Request
	Next     string
}

// Query is a Filter as the store runs it: who may see what, and where the
// page starts.
type Query struct {
	State    State
	Identity string
	// After, when set, keeps requests older than it (newest first).
	After *Position
	Limit int
	// The caller sees requests whose requester is RequesterIssuer and
	// RequesterSubject, and requests for Readable identities.
	RequesterIssuer, RequesterSubject string
	Readable                          []string
}

// Position is a request's place in the list: its creation and its id.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// Subscribers names the notification targets of each event type; nil: none.
type Subscribers func(EventType) []string
