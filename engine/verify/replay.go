package verify

import (
	"context"
	"sync"
	"time"
)

// ReplayStore remembers used token ids. Use reports whether key is fresh
// (first use) and remembers it until the given time. Implementations shared
// by replicas make one-time use global.
type ReplayStore interface {
	Use(ctx context.Context, key string, until time.Time) (fresh bool, err error)
}

// MemoryReplayStore is the in-memory ReplayStore of one process. Entries are
// dropped once their time has passed.
type MemoryReplayStore struct {
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time
	swept time.Time
}

// NewMemoryReplayStore returns an empty store.
func NewMemoryReplayStore() *MemoryReplayStore {
	return &MemoryReplayStore{now: time.Now, until: map[string]time.Time{}}
}

// Use implements ReplayStore.
func (s *MemoryReplayStore) Use(_ context.Context, key string, until time.Time) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.swept) > time.Minute {
		for k, u := range s.until {
			if !u.After(now) {
				delete(s.until, k)
			}
		}
		s.swept = now
	}
	if u, seen := s.until[key]; seen && u.After(now) {
		return false, nil
	}
	s.until[key] = until
	return true, nil
}
