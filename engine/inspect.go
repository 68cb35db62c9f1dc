package engine

import (
	"context"
	"errors"
	"fmt"
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
		return nil, stateUnavailable(err)
	}
	if revoked {
		return nil, fmt.Errorf("%w: revoked", ErrInactive)
	}
	if err := e.checkGrant(ctx, c.Grant); err != nil {
		return nil, err
	}
	return &Introspection{Claims: *c}, nil
}

// Revoke makes a token this server issued inactive until it would have
// expired. A token that is not live is already inactive: per RFC 7009 §2.2
// that is not an error. A store that cannot answer is ErrStateUnavailable:
// the caller must not be told the token was revoked.
func (e *Engine) Revoke(ctx context.Context, raw string) error {
	in, err := e.Inspect(ctx, raw)
	if errors.Is(err, ErrInactive) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := e.revoked.Revoke(ctx, in.Claims.ID, time.Unix(in.Claims.Expiry, 0)); err != nil {
		return stateUnavailable(err)
	}
	e.log.Info("token revoked")
	return nil
}

// RevocationStore remembers revoked token ids until the tokens would have
// expired; engine/state's Store is the one implementation. Revoked must
// answer from the shared database (or a cache no staler than one second),
// so a revocation on one replica is in force on all; an error is never a
// "not revoked".
type RevocationStore interface {
	Revoke(ctx context.Context, jti string, until time.Time) error
	Revoked(ctx context.Context, jti string) (bool, error)
}

// checkGrant: a token issued under a just-in-time grant is active only
// while the grant is (not revoked, not ended), on every replica.
func (e *Engine) checkGrant(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if e.access == nil {
		return fmt.Errorf("%w: issued under a grant, and just-in-time access is off", ErrInactive)
	}
	active, err := e.access.GrantActive(ctx, id)
	if err != nil {
		return stateUnavailable(err)
	}
	if !active {
		return fmt.Errorf("%w: its grant has ended", ErrInactive)
	}
	return nil
}
