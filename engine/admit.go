package engine

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// overloadRetryAfter is the Retry-After of ErrOverloaded: a queue that was
// full for QueueTimeout drains within about a second.
const overloadRetryAfter = time.Second

// slots bound how many policy evaluations run at once. Evaluation is CPU
// work under a deadline: when every request evaluates at once on a few
// cores, each slows down until deadlines pass and all fail with 500s.
// Bounded, the excess waits its turn (at most the queue timeout, then 503
// with Retry-After) and whatever runs finishes in its usual time. Only
// evaluation is bounded: a request waiting for an issuer's keys holds no
// slot, so a hanging JWKS endpoint cannot starve other providers.
type slots struct {
	ch      chan struct{}
	timeout time.Duration
	waiting atomic.Int64 // callers blocked in acquire
}

func newSlots(n int, timeout time.Duration) *slots {
	return &slots{ch: make(chan struct{}, n), timeout: timeout}
}

// acquire takes a slot, waiting at most the queue timeout and while ctx
// lives. It reports how long it waited; release gives the slot back.
func (s *slots) acquire(ctx context.Context) (waited time.Duration, err error) {
	select {
	case s.ch <- struct{}{}:
		return 0, nil
	default:
	}
	start := time.Now()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.ch <- struct{}{}:
		return time.Since(start), nil
	case <-t.C:
		return time.Since(start), fmt.Errorf("%w: no evaluation slot within %s", ErrOverloaded, s.timeout)
	case <-ctx.Done():
		return time.Since(start), fmt.Errorf("%w: %w", ErrOverloaded, ctx.Err())
	}
}

func (s *slots) release() { <-s.ch }
