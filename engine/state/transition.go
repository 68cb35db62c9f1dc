package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// lockRequest is every transition's first statement: a write that changes
// nothing but takes the lock (SQLite: the database's write lock;
// PostgreSQL: the row's), returning the row as it is now.
const lockRequest = `UPDATE access_request SET updated_at = updated_at WHERE id = $1 RETURNING ` + requestColumns

const setState = `UPDATE access_request SET state = $2, expires_at = $3, updated_at = $4 WHERE id = $1`

// expireDue moves at most $2 requests that lapsed or whose grant ended by
// $1 to expired. The rows are picked once, in a materialized CTE (PostgreSQL
// may run a LIMIT subquery under IN more than once and update more rows);
// %s is FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas expiring together
// neither wait for nor deadlock on each other's rows; the outer conditions
// make a replica that waited for a transition's lock skip what it changed.
const expireDue = `WITH due AS MATERIALIZED (SELECT id FROM access_request
WHERE state IN ('pending', 'approved') AND expires_at <= $1 ORDER BY expires_at LIMIT $2%s)
UPDATE access_request SET state = 'expired', updated_at = $1
WHERE id IN (SELECT id FROM due) AND state IN ('pending', 'approved') AND expires_at <= $1
RETURNING id`

// locked takes request id's lock in tx and reads it with its reviews and
// history; access.ErrNotFound when there is none.
func locked(ctx context.Context, tx *sql.Tx, id string) (access.Request, error) {
	r, err := scanRequest(tx.QueryRowContext(ctx, lockRequest, id))
	if errors.Is(err, sql.ErrNoRows) {
		return access.Request{}, access.ErrNotFound
	}
	if err != nil {
		return access.Request{}, err
	}
	rs := []access.Request{r}
	if err := loadChildren(ctx, tx, rs); err != nil {
		return access.Request{}, err
	}
	return rs[0], nil
}

// ReviewAccessRequest records rv on pending request id, denying it, or
// approving it when rv is the approval that reaches approvals_required
// (its grant then ends at rv.At + its duration), all in one transaction.
// Not pending, lapsed by rv.At, or reviewed by rv's reviewer before:
// access.ErrConflict, and rv is not recorded.
func (s *Store) ReviewAccessRequest(ctx context.Context, id string, rv access.Review, notify access.Subscribers) (access.Request, access.EventType, error) {
	if rv.Verdict != access.VerdictApprove && rv.Verdict != access.VerdictDeny {
		return access.Request{}, "", fmt.Errorf("%w: verdict %q is not approve or deny", access.ErrInvalid, rv.Verdict)
	}
	var out access.Request
	var ev access.EventType
	err := s.tx(ctx, "access_review", func(ctx context.Context, tx *sql.Tx) error {
		r, err := locked(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := reviewable(r, rv); err != nil {
			return err
		}
		r.Reviews = append(r.Reviews, rv)
		switch ev = access.EventReviewed; {
		case rv.Verdict == access.VerdictDeny:
			r.State, ev = access.StateDenied, access.EventDenied
		case r.Approvals() >= r.ApprovalsRequired:
			r.State, ev = access.StateApproved, access.EventApproved
			r.ExpiresAt = r.GrantEnds(rv.At)
		}
		if err := addReview(ctx, tx, id, rv); err != nil {
			return err
		}
		// An event names who acted; the person key is the review's alone.
		actor := rv.Reviewer
		actor.Key = ""
		out, err = transition(ctx, tx, r, access.Event{Type: ev, Actor: actor, Reason: rv.Reason, At: rv.At}, notify)
		return err
	})
	if err != nil {
		return access.Request{}, "", err
	}
	return out, ev, nil
}

// reviewable: r is pending, has not lapsed by rv.At, and rv's reviewer has
// not reviewed it.
func reviewable(r access.Request, rv access.Review) error {
	if r.State != access.StatePending {
		return fmt.Errorf("%w: request %s is %s, not pending", access.ErrConflict, r.ID, r.State)
	}
	if !r.ExpiresAt.After(rv.At) {
		return fmt.Errorf("%w: request %s lapsed at %s", access.ErrConflict, r.ID, r.ExpiresAt.Format(time.RFC3339))
	}
	for _, old := range r.Reviews {
		samePerson := rv.Reviewer.Key != "" && old.Reviewer.Key == rv.Reviewer.Key
		if samePerson || old.Reviewer.Issuer == rv.Reviewer.Issuer && old.Reviewer.Subject == rv.Reviewer.Subject {
			return fmt.Errorf("%w: request %s was already reviewed by this person", access.ErrConflict, r.ID)
		}
	}
	return nil
}

// EndAccessRequest cancels a pending request (from pending, to cancelled)
// or revokes an approved one (from approved, to revoked) in one
// transaction, recording e, while it has not lapsed by e.At. Any other
// state, or a lapsed request or ended grant: access.ErrConflict.
func (s *Store) EndAccessRequest(ctx context.Context, id string, from, to access.State, e access.Event, notify access.Subscribers) (access.Request, error) {
	if !(from == access.StatePending && to == access.StateCancelled || from == access.StateApproved && to == access.StateRevoked) {
		return access.Request{}, fmt.Errorf("%w: a request cannot end from %s to %s", access.ErrInvalid, from, to)
	}
	var out access.Request
	err := s.tx(ctx, "access_end", func(ctx context.Context, tx *sql.Tx) error {
		r, err := locked(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.State != from {
			return fmt.Errorf("%w: request %s is %s, not %s", access.ErrConflict, id, r.State, from)
		}
		if !r.ExpiresAt.After(e.At) {
			return fmt.Errorf("%w: request %s ended at %s", access.ErrConflict, id, r.ExpiresAt.Format(time.RFC3339))
		}
		r.State = to
		out, err = transition(ctx, tx, r, e, notify)
		return err
	})
	if err != nil {
		return access.Request{}, err
	}
	return out, nil
}

// transition writes r's new state and expiry and appends e to its history
// with its notifications; it returns r as it now is.
func transition(ctx context.Context, tx *sql.Tx, r access.Request, e access.Event, notify access.Subscribers) (access.Request, error) {
	if _, err := tx.ExecContext(ctx, setState, r.ID, string(r.State), nanos(r.ExpiresAt), nanos(e.At)); err != nil {
		return access.Request{}, err
	}
	r.History = append(r.History, e)
	return r, addEvent(ctx, tx, r, e, notify)
}

// ExpireAccessRequests moves at most limit pending requests that lapsed by
// now and approved ones whose grant ended by now to expired, each with its
// event and notifications, in one transaction, and returns them.
func (s *Store) ExpireAccessRequests(ctx context.Context, now time.Time, limit int, notify access.Subscribers) ([]access.Request, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: expiry limit must be positive", access.ErrInvalid)
	}
	var out []access.Request
	err := s.tx(ctx, "access_expire", func(ctx context.Context, tx *sql.Tx) error {
		var ids []any
		err := eachRow(ctx, tx, fmt.Sprintf(expireDue, s.skipLocked()), []any{nanos(now), limit}, func(row scanner) error {
			var id string
			err := row.Scan(&id)
			ids = append(ids, id)
			return err
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		rs, err := readRequests(ctx, tx, `SELECT `+requestColumns+` FROM access_request WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
		if err != nil {
			return err
		}
		for i := range rs {
			e := access.Event{Type: access.EventExpired, At: now.UTC()}
			rs[i].History = append(rs[i].History, e)
			if err := addEvent(ctx, tx, rs[i], e, notify); err != nil {
				return err
			}
		}
		out = rs
		return nil
	})
	return out, err
}
