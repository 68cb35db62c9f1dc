package access

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// DefaultList is how many requests a page holds when the caller does not
// say; MaxList is the most it may.
const (
	DefaultList = 50
	MaxList     = 200
)

// List returns a page of the requests who may see, newest first: their
// own, and those for identities the policy lets them read. The filter is
// the store's query, so no request is hidden behind others' on a page,
// and a cursor continues after the last request of the page before: a
// request filed meanwhile is newer and never moves one across pages.
func (s *Service) List(ctx context.Context, pol Policy, who Party, f Filter) (Page, error) {
	q, err := s.query(ctx, pol, who, f)
	if err != nil {
		return Page{}, err
	}
	rs, err := s.store.AccessRequests(ctx, q)
	if err != nil {
		return Page{}, err
	}
	page := Page{Requests: rs}
	if len(rs) == q.Limit {
		page.Requests = rs[:q.Limit-1]
		last := page.Requests[len(page.Requests)-1]
		page.Next = encodeCursor(Position{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return page, nil
}

// query is f as the store runs it for who; it asks one more request than
// the page holds, to know whether there is a next page.
func (s *Service) query(ctx context.Context, pol Policy, who Party, f Filter) (Query, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultList
	}
	if limit > MaxList {
		return Query{}, fmt.Errorf("%w: a page holds at most %d requests", ErrInvalid, MaxList)
	}
	q := Query{State: f.State, Identity: f.Identity, Limit: limit + 1, RequesterIssuer: who.Issuer, RequesterSubject: who.Subject()}
	if f.Cursor != "" {
		p, err := decodeCursor(f.Cursor)
		if err != nil {
			return Query{}, err
		}
		q.After = &p
	}
	readable, err := s.readable(ctx, pol, who)
	q.Readable = readable
	return q, err
}

// readable are the just-in-time identities whose requests the policy
// lets who read (the review policy's "read" verdict).
func (s *Service) readable(ctx context.Context, pol Policy, who Party) ([]string, error) {
	var out []string
	now := s.now()
	for _, name := range pol.JustInTimeIdentities() {
		d, err := pol.AccessReview(ctx, reviewInput(Request{Identity: name}, who, VerdictRead, now))
		if err != nil {
			return nil, err
		}
		if d.Allow {
			out = append(out, name)
		}
	}
	return out, nil
}

// cursor is a Position as a page's next cursor carries it.
type cursor struct {
	CreatedAt int64  `json:"t"`
	ID        string `json:"id"`
}

func encodeCursor(p Position) string {
	b, _ := json.Marshal(cursor{CreatedAt: p.CreatedAt.UnixNano(), ID: p.ID}) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (Position, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" || c.CreatedAt <= 0 {
		return Position{}, fmt.Errorf("%w: the cursor is not one a list gave", ErrInvalid)
	}
	return Position{CreatedAt: time.Unix(0, c.CreatedAt).UTC(), ID: c.ID}, nil
}
