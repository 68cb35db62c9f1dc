package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// ReplayStore remembers used token ids. Use reports whether key is fresh
// (first use) and remembers it until the given time. Implementations shared
// by replicas make one-time use global; an error is a server problem, and
// the token is refused.
type ReplayStore interface {
	Use(ctx context.Context, key string, until time.Time) (fresh bool, err error)
}

// DefaultReplayCapacity is how many live keys a MemoryReplayStore holds
// (about 10 MB).
const DefaultReplayCapacity = 100_000

// ErrReplayStoreFull is returned by a MemoryReplayStore that holds as many
// live keys as it may: it refuses rather than forget a key whose token is
// still valid.
var ErrReplayStoreFull = errors.New("replay store full")

// sweepEvery is how often Use drops expired entries when not pressed for room.
const sweepEvery = time.Minute

// MemoryReplayStore is the in-memory ReplayStore of one process. It keeps a
// SHA-256 of each key (so memory per entry is fixed whatever the key), drops
// entries once their time has passed, and holds at most its capacity.
type MemoryReplayStore struct {
	now      func() time.Time
	capacity int

	mu    sync.Mutex
	until map[[sha256.Size]byte]time.Time
	swept time.Time
}

// NewMemoryReplayStore returns an empty store on the system clock holding
// up to DefaultReplayCapacity keys.
func NewMemoryReplayStore() *MemoryReplayStore {
	return newMemoryReplayStore(time.Now, DefaultReplayCapacity)
}

func newMemoryReplayStore(now func() time.Time, capacity int) *MemoryReplayStore {
	return &MemoryReplayStore{now: now, capacity: capacity, until: map[[sha256.Size]byte]time.Time{}}
}

// Use implements ReplayStore. A key whose time has passed is fresh again:
// its token has expired by then.
func (s *MemoryReplayStore) Use(_ context.Context, key string, until time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) >= sweepEvery {
		s.sweep(now)
	}
	if u, seen := s.until[sum]; seen && u.After(now) {
		return false, nil
	}
	if !until.After(now) {
		return true, nil // already past: nothing to remember
	}
	if len(s.until) >= s.capacity {
		if now.Sub(s.swept) >= time.Second { // a full store sweeps at most once a second
			s.sweep(now)
		}
		if len(s.until) >= s.capacity {
			return false, ErrReplayStoreFull
		}
	}
	s.until[sum] = until
	return true, nil
}

// Len is the number of keys held, expired ones not yet swept included.
func (s *MemoryReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.until)
}

func (s *MemoryReplayStore) sweep(now time.Time) {
	for k, u := range s.until {
		if !u.After(now) {
			delete(s.until, k)
		}
	}
	s.swept = now
}
