package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/trustgate/trustgate/engine/mint"
)

// Introspection is what Inspect tells about a live token this server issued.
type Introspection struct {
	Claims mint.Claims
}

// Inspect verifies that raw is a token this server issued, with a current or
// previous key, that has not expired and has not been revoked. Anything else
// is ErrInactive.
func (e *Engine) Inspect(ctx context.Context, raw string) (*Introspection, error) {
	c, err := e.keys.Load().Verify(raw, e.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInactive, err)
	}
	if c.Issuer != e.cfg.Issuer {
		return nil, fmt.Errorf("%w: issued by another issuer", ErrInactive)
	}
	revoked, err := e.revoked.Revoked(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: revocation store: %w", ErrInternal, err)
	}
	if revoked {
		return nil, fmt.Errorf("%w: revoked", ErrInactive)
	}
	return &Introspection{Claims: *c}, nil
}

// Revoke makes a token this server issued inactive until it would have
// expired. A token that is not live is already inactive: per RFC 7009 §2.2
// that is not an error.
func (e *Engine) Revoke(ctx context.Context, raw string) error {
	in, err := e.Inspect(ctx, raw)
	if err != nil {
		return nil
	}
	if err := e.revoked.Revoke(ctx, in.Claims.ID, time.Unix(in.Claims.Expiry, 0)); err != nil {
		return fmt.Errorf("%w: revocation store: %w", ErrInternal, err)
	}
	e.log.Info("token revoked")
	return nil
}

// RevocationStore remembers revoked token ids until the tokens would have
// expired. Implementations shared by many replicas make revocation global.
type RevocationStore interface {
	Revoke(ctx context.Context, jti string, until time.Time) error
	Revoked(ctx context.Context, jti string) (bool, error)
}

// MemoryRevocationStore is the in-memory RevocationStore of one process.
type MemoryRevocationStore struct {
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time
}

// NewMemoryRevocationStore returns an empty store; now may be nil.
func NewMemoryRevocationStore(now func() time.Time) *MemoryRevocationStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryRevocationStore{now: now, until: map[string]time.Time{}}
}

// Revoke records jti as revoked until the given time.
func (s *MemoryRevocationStore) Revoke(_ context.Context, jti string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, u := range s.until { // expired entries can never matter again
		if !u.After(now) {
			delete(s.until, k)
		}
	}
	s.until[jti] = until
	return nil
}

// Revoked reports whether jti is revoked.
func (s *MemoryRevocationStore) Revoked(_ context.Context, jti string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.until[jti]
	return ok && u.After(s.now()), nil
}
