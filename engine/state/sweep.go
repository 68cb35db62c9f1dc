package state

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// sweeps are the statements that delete at most $2 rows expired at $1, one
// per table that expires; a table added later adds its own here.
var sweeps = [...]struct{ table, query string }{
	{"replay", sweepReplay},
	{"revocation", sweepRevocation},
}

// sweeper deletes expired rows in the background until stopped.
type sweeper struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startSweeper(s *Store, every time.Duration, batch int) sweeper {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.Sweep(ctx, batch); err != nil && ctx.Err() == nil {
					s.log.Warn("sweeping expired state failed; retrying at the next interval", zap.Error(err))
				}
			}
		}
	}()
	return sweeper{cancel: cancel, done: done}
}

func (w sweeper) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
}

// Sweep deletes every row that has expired, batch rows per statement, so
// no statement holds a lock for long; it returns how many it deleted. The
// background sweeper calls it every SweepInterval.
func (s *Store) Sweep(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		return 0, errors.New("state: sweep batch must be positive")
	}
	var total int64
	now := s.now().Unix()
	for _, sw := range sweeps {
		for ctx.Err() == nil {
			var n int64
			err := s.op(ctx, "sweep", func(ctx context.Context) error {
				res, err := s.db.ExecContext(ctx, sw.query, now, batch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < int64(batch) {
				break
			}
		}
	}
	if total > 0 {
		s.log.Debug("swept expired state", zap.Int64("rows", total))
	}
	return total, ctx.Err()
}
