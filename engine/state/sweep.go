package state

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// retention is how long finished requests, delivered notifications and
// decisions are kept, and how many decisions at most.
type retention struct {
	requests, notifications, history time.Duration
	historyRows                      int64
}

// sweeps are the statements that delete at most $2 rows that expired by
// the cutoff $1, one per table, in order: a request's reviews and history
// go before the request. A table added later adds its own here.
var sweeps = [...]struct {
	table, query string
	cutoff       func(now time.Time, keep retention) int64
}{
	{"replay", sweepReplay, unixNow},
	{"revocation", sweepRevocation, unixNow},
	{"access_review", sweepReviews, requestCutoff},
	{"access_event", sweepEvents, requestCutoff},
	{"access_request", sweepRequests, requestCutoff},
	{"notification_outbox", sweepNotifications, func(now time.Time, keep retention) int64 {
		return nanos(now.Add(-keep.notifications))
	}},
	{"decision_history", sweepHistory, historyCutoff},
	{"decision_history", trimHistory, func(_ time.Time, keep retention) int64 { return keep.historyRows }},
}

func unixNow(now time.Time, _ retention) int64 { return now.Unix() }

func requestCutoff(now time.Time, keep retention) int64 { return nanos(now.Add(-keep.requests)) }

// finishedBefore selects the requests that finished (denied, cancelled,
// expired, revoked) by $1.
const finishedBefore = `SELECT id FROM access_request WHERE state IN ('denied', 'cancelled', 'expired', 'revoked') AND updated_at <= $1`

const sweepReviews = `DELETE FROM access_review WHERE (request_id, seq) IN
(SELECT request_id, seq FROM access_review WHERE request_id IN (` + finishedBefore + `) LIMIT $2)`

const sweepEvents = `DELETE FROM access_event WHERE (request_id, seq) IN
(SELECT request_id, seq FROM access_event WHERE request_id IN (` + finishedBefore + `) LIMIT $2)`

const sweepRequests = `DELETE FROM access_request WHERE id IN (` + finishedBefore + ` LIMIT $2)`

const sweepNotifications = `DELETE FROM notification_outbox WHERE id IN
(SELECT id FROM notification_outbox WHERE delivered_at IS NOT NULL AND delivered_at <= $1 LIMIT $2)`

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
				// A failure is the database's: the outage log has it.
				if _, err := s.Sweep(ctx, batch); err != nil && ctx.Err() == nil {
					s.log.Debug("sweeping expired state failed; retrying at the next interval", zap.Error(err))
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

// Sweep deletes every row that has expired (finished requests and
// delivered notifications once their retention has passed), batch rows per statement, so
// no statement holds a lock for long; it returns how many it deleted. The
// background sweeper calls it every SweepInterval.
func (s *Store) Sweep(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		return 0, errors.New("state: sweep batch must be positive")
	}
	var total int64
	now := s.now()
	for _, sw := range sweeps {
		cutoff := sw.cutoff(now, s.retention)
		for ctx.Err() == nil {
			var n int64
			err := s.op(ctx, "sweep", func(ctx context.Context) error {
				res, err := s.db.ExecContext(ctx, sw.query, cutoff, batch)
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
