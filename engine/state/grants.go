package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// activeGrants uses the index on (identity, state, expires_at). A grant
// is active from its start (starts_at, or approval when that is later,
// which expires_at - duration is) until it ends.
const activeGrants = `SELECT id, binding, scopes, audiences, expires_at - duration_seconds * 1000000000, expires_at FROM access_request
WHERE identity = $1 AND state = 'approved' AND expires_at > $2 AND expires_at - duration_seconds * 1000000000 <= $2
ORDER BY expires_at, id`

const grantActive = `SELECT EXISTS (SELECT 1 FROM access_request WHERE id = $1 AND state = 'approved' AND expires_at > $2
AND expires_at - duration_seconds * 1000000000 <= $2)`

// ActiveGrants returns the approved requests for identity whose grant has
// not ended by now, the soonest to end first. It reads the database every
// time, so a revocation on any replica is in force at once.
func (s *Store) ActiveGrants(ctx context.Context, identity string, now time.Time) ([]access.Grant, error) {
	var out []access.Grant
	err := s.op(ctx, "access_grants", func(ctx context.Context) error {
		out = nil
		return eachRow(ctx, s.db, activeGrants, []any{identity, nanos(now)}, func(row scanner) error {
			g := access.Grant{Identity: identity}
			var binding, scopes, audiences string
			var starts, ends int64
			if err := row.Scan(&g.ID, &binding, &scopes, &audiences, &starts, &ends); err != nil {
				return err
			}
			err := errors.Join(json.Unmarshal([]byte(binding), &g.Binding), json.Unmarshal([]byte(scopes), &g.Scopes),
				json.Unmarshal([]byte(audiences), &g.Audiences))
			if err != nil {
				return fmt.Errorf("access request %s: stored grant: %w", g.ID, err)
			}
			g.StartsAt, g.EndsAt = fromNanos(starts), fromNanos(ends)
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GrantActive reports whether request id is approved and its grant has not
// ended by now. An error is never a "yes".
func (s *Store) GrantActive(ctx context.Context, id string, now time.Time) (bool, error) {
	var out bool
	err := s.op(ctx, "access_grant_active", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, grantActive, id, nanos(now)).Scan(&out)
	})
	return out && err == nil, err
}
