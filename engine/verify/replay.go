package verify

import (
	"context"
	"time"
)

// ReplayStore remembers the (iss, jti) of one-time-use subject tokens. Use
// reports whether the pair is used for the first time and remembers it
// until the given time; the check and the record are one atomic step, so
// of concurrent uses (on one replica or many sharing the store) exactly one
// is fresh. An error is a server problem, never a "fresh": the token is
// refused with ErrReplayUnavailable. engine/state's Store is the one
// implementation.
type ReplayStore interface {
	Use(ctx context.Context, iss, jti string, until time.Time) (fresh bool, err error)
}
