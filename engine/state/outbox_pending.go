package state

import "context"

const countPending = `SELECT count(*) FROM notification_outbox WHERE delivered_at IS NULL`

// PendingNotifications counts the notifications not yet delivered, claimed
// or not: what a notifier's pending gauge shows.
func (s *Store) PendingNotifications(ctx context.Context) (int, error) {
	var n int
	err := s.op(ctx, "outbox_pending", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, countPending).Scan(&n)
	})
	return n, err
}
