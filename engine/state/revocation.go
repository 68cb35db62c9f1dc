package state

import (
	"context"
	"time"
)

// revoke records a jti until $2, keeping the later time if it is there.
const revoke = `INSERT INTO revocation (jti, expires_at) VALUES ($1, $2)
ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE revocation.expires_at < excluded.expires_at`

const revoked = `SELECT EXISTS (SELECT 1 FROM revocation WHERE jti = $1 AND expires_at > $2)`

const sweepRevocation = `DELETE FROM revocation WHERE jti IN
(SELECT jti FROM revocation WHERE expires_at <= $1 LIMIT $2)`

// Revoke records jti as revoked until the given time (the token's exp). It
// implements engine.RevocationStore; every replica on the database sees it
// on its next Revoked.
func (s *Store) Revoke(ctx context.Context, jti string, until time.Time) error {
	return s.op(ctx, "revoke", func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, revoke, jti, unixCeil(until))
		return err
	})
}

// Revoked reports whether jti is revoked. It reads the database every time
// (no cache), so a revocation made by any replica is in force at once. An
// error matches ErrUnavailable and is never a "not revoked".
func (s *Store) Revoked(ctx context.Context, jti string) (bool, error) {
	var out bool
	err := s.op(ctx, "revoked", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, revoked, jti, s.now().Unix()).Scan(&out)
	})
	return out && err == nil, err
}
