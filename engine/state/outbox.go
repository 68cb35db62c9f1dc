package state

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

const insertNotification = `INSERT INTO notification_outbox (target, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $3)`

// claimDue claims at most $3 notifications due by $1 until $2, picked once
// in a materialized CTE (see expireDue); %s is FOR UPDATE SKIP LOCKED on
// PostgreSQL, so replicas claiming together skip each other's rows; the
// outer conditions re-check what a wait let change. SQLite's statement
// holds the one write lock.
const claimDue = `WITH due AS MATERIALIZED (SELECT id FROM notification_outbox
WHERE delivered_at IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3%s)
UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = $2
WHERE id IN (SELECT id FROM due) AND delivered_at IS NULL AND next_attempt_at <= $1
RETURNING id, target, attempts, payload`

const markDelivered = `UPDATE notification_outbox SET delivered_at = $2 WHERE id = $1`

const markFailed = `UPDATE notification_outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND delivered_at IS NULL`

// maxErrorText bounds the last error kept of a failed delivery.
const maxErrorText = 500

// enqueue writes a notification of e per target notify names for it, with
// r as the transition left it, in the transition's transaction.
func enqueue(ctx context.Context, q querier, r access.Request, e access.Event, notify access.Subscribers) error {
	if notify == nil {
		return nil
	}
	targets := notify(e.Type)
	if len(targets) == 0 {
		return nil
	}
	payload, err := json.Marshal(access.Notice{Event: e, Request: r})
	if err != nil {
		return fmt.Errorf("notification of request %s: %w", r.ID, err)
	}
	for _, t := range targets {
		if _, err := q.ExecContext(ctx, insertNotification, t, string(payload), nanos(e.At)); err != nil {
			return err
		}
	}
	return nil
}

// DueNotifications claims at most limit undelivered notifications due by
// now, oldest first: each counts an attempt and is not due again before
// now + lease, so no two replicas claim one at once. It is what
// engine/access/notify's Outbox needs, with NotificationDelivered and
// NotificationFailed.
func (s *Store) DueNotifications(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]access.Notification, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("%w: claiming notifications needs a positive limit and lease", access.ErrInvalid)
	}
	var out []access.Notification
	err := s.op(ctx, "outbox_claim", func(ctx context.Context) error {
		out = nil
		args := []any{nanos(now), nanos(now.Add(lease)), limit}
		return eachRow(ctx, s.db, fmt.Sprintf(claimDue, s.skipLocked()), args, func(row scanner) error {
			var n access.Notification
			err := row.Scan(&n.ID, &n.Target, &n.Attempts, &n.Payload)
			out = append(out, n)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b access.Notification) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// NotificationDelivered marks notification id delivered: it is never
// claimed again, and swept after NotificationRetention.
func (s *Store) NotificationDelivered(ctx context.Context, id int64) error {
	return s.updateNotification(ctx, "outbox_delivered", markDelivered, id, nanos(s.now()))
}

// NotificationFailed keeps errText (cut to 500 bytes; it must hold no
// secret) as the notification's last error and makes it due at next.
func (s *Store) NotificationFailed(ctx context.Context, id int64, next time.Time, errText string) error {
	if len(errText) > maxErrorText {
		errText = errText[:maxErrorText]
	}
	return s.updateNotification(ctx, "outbox_failed", markFailed, id, nanos(next), strings.ToValidUTF8(errText, ""))
}

// updateNotification runs query on notification id; access.ErrNotFound
// when it changed nothing (no such notification, or already delivered).
func (s *Store) updateNotification(ctx context.Context, name, query string, id int64, args ...any) error {
	var res sql.Result
	err := s.op(ctx, name, func(ctx context.Context) (err error) {
		res, err = s.db.ExecContext(ctx, query, append([]any{id}, args...)...)
		return err
	})
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%w: notification %d (or it was delivered)", access.ErrNotFound, id)
	}
	return nil
}

// skipLocked ends a subquery that picks rows to claim: on PostgreSQL it
// locks them and skips rows another transaction holds; SQLite's one writer
// needs nothing.
func (s *Store) skipLocked() string {
	if s.backend == backendPostgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}
