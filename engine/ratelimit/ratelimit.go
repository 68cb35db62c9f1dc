// Package ratelimit limits events per key (a client address, a token
// subject) with one token bucket per key. Idle keys are forgotten, so memory
// stays bounded by the keys active in the last few minutes.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Keyed is a set of token buckets, one per key. A nil *Keyed allows
// everything. It is safe for concurrent use.
type Keyed struct {
	limit rate.Limit
	burst int
	now   func() time.Time
	idle  time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New returns a Keyed allowing perSecond events per key with bursts of
// burst. A perSecond of zero or less returns nil: no limit. now may be nil.
func New(perSecond float64, burst int, now func() time.Time) *Keyed {
	if perSecond <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	idle := 10 * time.Minute
	if full := time.Duration(float64(max(burst, 1)) / perSecond * float64(time.Second)); full > idle {
		idle = full // a bucket is only forgotten once it would be full again
	}
	return &Keyed{
		limit:   rate.Limit(perSecond),
		burst:   max(burst, 1),
		now:     now,
		idle:    idle,
		buckets: map[string]*bucket{},
	}
}

// Allow reports whether key may proceed now; when not, it says how long to
// wait before the next event would be allowed.
func (k *Keyed) Allow(key string) (retryAfter time.Duration, ok bool) {
	if k == nil {
		return 0, true
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweep(now)
	b, found := k.buckets[key]
	if !found {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

func (k *Keyed) sweep(now time.Time) {
	if now.Sub(k.swept) < k.idle {
		return
	}
	k.swept = now
	for key, b := range k.buckets {
		if now.Sub(b.seen) > k.idle {
			delete(k.buckets, key)
		}
	}
}
