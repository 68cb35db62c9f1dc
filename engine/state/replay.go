package state

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// useReplay records a key until $2 unless a live row holds it: one atomic
// statement, so of many concurrent uses of one key, on one replica or many,
// exactly one changes a row. A row that has expired but is not yet swept is
// taken over, so an expired key is fresh again.
const useReplay = `INSERT INTO replay (key, expires_at) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $3`

const sweepReplay = `DELETE FROM replay WHERE key IN
(SELECT key FROM replay WHERE expires_at <= $1 LIMIT $2)`

// Use reports whether (iss, jti) is used for the first time, and remembers
// it until the given time (the subject token's exp plus the clock skew);
// after that it is fresh again, its token having expired. It implements
// verify.ReplayStore. An error matches ErrUnavailable and is never a
// "fresh".
func (s *Store) Use(ctx context.Context, iss, jti string, until time.Time) (fresh bool, err error) {
	key := replayKey(iss, jti)
	err = s.op(ctx, "replay_use", func(ctx context.Context) error {
		res, err := s.db.ExecContext(ctx, useReplay, key[:], unixCeil(until), s.now().Unix())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		fresh = n == 1
		return err
	})
	return fresh && err == nil, err
}

// replayKey is the SHA-256 of iss and jti, length-prefixed so no two pairs
// share it: a fixed-size key whatever the token carries.
func replayKey(iss, jti string) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(iss)))
	h.Write(n[:])
	h.Write([]byte(iss))
	h.Write([]byte(jti))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
