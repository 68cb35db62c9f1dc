package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// The store keeps just-in-time requests (access.Store) in access_request,
// their reviews in access_review, their history in access_event and their
// notifications in notification_outbox; times are Unix nanoseconds.

// requestColumns are access_request's columns in scanRequest's order.
const requestColumns = `id, identity, state, risk, approvals_required, requester, requester_persons, binding, reason, ticket,
scopes, identity_scopes, audiences, duration_seconds, starts_at, created_at, expires_at`

const insertRequest = `INSERT INTO access_request (id, identity, state, risk, approvals_required, requester, requester_persons,
requester_issuer, requester_sub, binding, binding_key, reason, ticket, scopes, identity_scopes, audiences, duration_seconds,
starts_at, created_at, expires_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`

const insertReview = `INSERT INTO access_review (request_id, seq, reviewer_provider, reviewer_issuer, reviewer_sub, reviewer_name,
reviewer_person, verdict, reason, at)
VALUES ($1, (SELECT count(*) + 1 FROM access_review WHERE request_id = $1), $2, $3, $4, $5, $6, $7, $8, $9)`

const insertEvent = `INSERT INTO access_event (request_id, seq, type, actor, reason, at)
VALUES ($1, (SELECT count(*) + 1 FROM access_event WHERE request_id = $1), $2, $3, $4, $5)`

// maxListed caps AccessRequests whatever the query asks (a page and the
// one after it that says there is a next page).
const maxListed = access.MaxList + 1

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// CreateAccessRequest stores r with its reviews and history and, for each
// event, a notification per target notify names, in one transaction.
func (s *Store) CreateAccessRequest(ctx context.Context, r access.Request, notify access.Subscribers) error {
	requester, err := json.Marshal(r.Requester)
	if err != nil {
		return fmt.Errorf("state: access request %s: %w", r.ID, err)
	}
	// Strings only: these never fail.
	binding, _ := json.Marshal(r.Binding)
	scopes, _ := json.Marshal(list(r.Scopes))
	audiences, _ := json.Marshal(list(r.Audiences))
	persons, _ := json.Marshal(list(r.Requester.Persons))
	return s.tx(ctx, "access_create", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertRequest, r.ID, r.Identity, string(r.State), r.Risk, r.ApprovalsRequired,
			string(requester), string(persons), r.Requester.Issuer, r.Requester.Subject, string(binding), r.Binding.Key(),
			r.Reason, r.Ticket, string(scopes), flag(r.IdentityScopes), string(audiences), r.DurationSeconds,
			optionalNanos(r.StartsAt), nanos(r.CreatedAt), nanos(r.ExpiresAt), nanos(r.CreatedAt))
		if err != nil {
			return err
		}
		for _, rv := range r.Reviews {
			if err := addReview(ctx, tx, r.ID, rv); err != nil {
				return err
			}
		}
		for _, e := range r.History {
			if err := addEvent(ctx, tx, r, e, notify); err != nil {
				return err
			}
		}
		return nil
	})
}

// AccessRequest returns request id with its reviews and history, read in
// one snapshot; access.ErrNotFound when there is none.
func (s *Store) AccessRequest(ctx context.Context, id string) (access.Request, error) {
	var out []access.Request
	err := s.read(ctx, "access_get", func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = readRequests(ctx, tx, `SELECT `+requestColumns+` FROM access_request WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return access.Request{}, err
	}
	if len(out) == 0 {
		return access.Request{}, access.ErrNotFound
	}
	return out[0], nil
}

// AccessRequests lists the requests q selects, newest first, filtering
// in the query: the caller's own and those of the identities they may
// read, in q.State and for q.Identity when set, after q.After, at most
// q.Limit (never more than maxListed).
func (s *Store) AccessRequests(ctx context.Context, q access.Query) ([]access.Request, error) {
	query, args := listQuery(q)
	var out []access.Request
	err := s.read(ctx, "access_list", func(ctx context.Context, tx *sql.Tx) (err error) {
		out, err = readRequests(ctx, tx, query, args...)
		return err
	})
	return out, err
}

// listQuery is the SELECT of AccessRequests and its arguments.
func listQuery(q access.Query) (string, []any) {
	limit := q.Limit
	if limit <= 0 || limit > maxListed {
		limit = maxListed
	}
	args := []any{q.RequesterIssuer, q.RequesterSubject}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	visible := "(requester_issuer = $1 AND requester_sub = $2"
	if len(q.Readable) > 0 {
		in := make([]string, len(q.Readable))
		for i, name := range q.Readable {
			in[i] = arg(name)
		}
		visible += " OR identity IN (" + strings.Join(in, ", ") + ")"
	}
	where := []string{visible + ")"}
	if q.State != "" {
		where = append(where, "state = "+arg(string(q.State)))
	}
	if q.Identity != "" {
		where = append(where, "identity = "+arg(q.Identity))
	}
	if q.After != nil {
		t, id := arg(nanos(q.After.CreatedAt)), arg(q.After.ID)
		where = append(where, "(created_at < "+t+" OR created_at = "+t+" AND id < "+id+")")
	}
	return `SELECT ` + requestColumns + ` FROM access_request WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit), args
}

// readRequests runs q, which selects requestColumns, and fills in each
// request's reviews and history.
func readRequests(ctx context.Context, q querier, query string, args ...any) ([]access.Request, error) {
	var out []access.Request
	err := eachRow(ctx, q, query, args, func(row scanner) error {
		r, err := scanRequest(row)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, loadChildren(ctx, q, out)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRequest(row scanner) (access.Request, error) {
	var r access.Request
	var st, requester, persons, binding, scopes, audiences string
	var identityScopes int
	var starts, created, expires int64
	err := row.Scan(&r.ID, &r.Identity, &st, &r.Risk, &r.ApprovalsRequired, &requester, &persons, &binding,
		&r.Reason, &r.Ticket, &scopes, &identityScopes, &audiences, &r.DurationSeconds, &starts, &created, &expires)
	if err != nil {
		return access.Request{}, err
	}
	r.State, r.CreatedAt, r.ExpiresAt = access.State(st), fromNanos(created), fromNanos(expires)
	r.IdentityScopes, r.StartsAt = identityScopes != 0, fromOptionalNanos(starts)
	r.Reviews, r.History = []access.Review{}, []access.Event{}
	err = errors.Join(json.Unmarshal([]byte(requester), &r.Requester), json.Unmarshal([]byte(binding), &r.Binding),
		json.Unmarshal([]byte(scopes), &r.Scopes), json.Unmarshal([]byte(audiences), &r.Audiences),
		json.Unmarshal([]byte(persons), &r.Requester.Persons))
	if err != nil {
		return access.Request{}, fmt.Errorf("access request %s: stored JSON: %w", r.ID, err)
	}
	return r, nil
}

// loadChildren reads the reviews and the history of rs, in their order.
func loadChildren(ctx context.Context, q querier, rs []access.Request) error {
	index := make(map[string]int, len(rs))
	ids := make([]any, len(rs))
	for i, r := range rs {
		index[r.ID], ids[i] = i, r.ID
	}
	in := placeholders(len(ids))
	err := eachRow(ctx, q, `SELECT request_id, reviewer_provider, reviewer_issuer, reviewer_sub, reviewer_name, reviewer_person, verdict, reason, at
FROM access_review WHERE request_id IN (`+in+`) ORDER BY request_id, seq`, ids, func(row scanner) error {
		var id string
		var rv access.Review
		var at int64
		p := &rv.Reviewer
		if err := row.Scan(&id, &p.Provider, &p.Issuer, &p.Subject, &p.Name, &p.Key, &rv.Verdict, &rv.Reason, &at); err != nil {
			return err
		}
		rv.At = fromNanos(at)
		rs[index[id]].Reviews = append(rs[index[id]].Reviews, rv)
		return nil
	})
	if err != nil {
		return err
	}
	return eachRow(ctx, q, `SELECT request_id, type, actor, reason, at
FROM access_event WHERE request_id IN (`+in+`) ORDER BY request_id, seq`, ids, func(row scanner) error {
		var id, typ, actor string
		var e access.Event
		var at int64
		if err := row.Scan(&id, &typ, &actor, &e.Reason, &at); err != nil {
			return err
		}
		e.Type, e.At = access.EventType(typ), fromNanos(at)
		if err := json.Unmarshal([]byte(actor), &e.Actor); err != nil {
			return fmt.Errorf("access request %s: stored actor: %w", id, err)
		}
		rs[index[id]].History = append(rs[index[id]].History, e)
		return nil
	})
}

// eachRow runs query and calls f on each row.
func eachRow(ctx context.Context, q querier, query string, args []any, f func(scanner) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := f(rows); err != nil {
			_ = rows.Close()
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

// placeholders is "$1, $2, …, $n".
func placeholders(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
	}
	return b.String()
}

func addReview(ctx context.Context, q querier, id string, rv access.Review) error {
	p := rv.Reviewer
	_, err := q.ExecContext(ctx, insertReview, id, p.Provider, p.Issuer, p.Subject, p.Name, p.Key, rv.Verdict, rv.Reason, nanos(rv.At))
	return err
}

// addEvent appends e to r's history and queues its notifications, r being
// the request as the transition left it.
func addEvent(ctx context.Context, q querier, r access.Request, e access.Event, notify access.Subscribers) error {
	actor, _ := json.Marshal(e.Actor) // strings only: never fails
	if _, err := q.ExecContext(ctx, insertEvent, r.ID, string(e.Type), string(actor), e.Reason, nanos(e.At)); err != nil {
		return err
	}
	return enqueue(ctx, q, r, e, notify)
}

// nanos is t in Unix nanoseconds, as the access tables keep times.
func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// optionalNanos is t in Unix nanoseconds, 0 for none.
func optionalNanos(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return nanos(*t)
}

func fromOptionalNanos(n int64) *time.Time {
	if n == 0 {
		return nil
	}
	t := fromNanos(n)
	return &t
}

// list is ss, or an empty list for none: stored lists are never null.
func list(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// flag is b as the access tables keep booleans.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}
