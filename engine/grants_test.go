package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
)

// TestATokenEndsWithTheGrantItWasIssuedUnder holds grantEnd to its
// contract: a decision naming no grant has no end of its own; one naming a
// grant that binds the token ends with it; one naming a grant the engine
// did not hand the policy, or one that does not bind the token, is
// ErrInternal, never a token.
func TestATokenEndsWithTheGrantItWasIssuedUnder(t *testing.T) {
	end := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	grants := []access.Grant{
		{ID: "g-binds", EndsAt: end, Binds: true},
		{ID: "g-other", EndsAt: end.Add(time.Hour), Binds: false},
	}
	tests := []struct {
		name    string
		grant   string
		want    time.Time
		wantErr error
	}{
		{"A decision naming no grant has no end of its own.", "", time.Time{}, nil},
		{"A decision naming a grant that binds the token ends with it.", "g-binds", end, nil},
		{"A decision naming a grant that does not bind the token is an internal error.", "g-other", time.Time{}, ErrInternal},
		{"A decision naming a grant the engine never handed the policy is an internal error.", "g-unknown", time.Time{}, ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := grantEnd(policy.Decision{Grant: tt.grant}, grants)
			if !got.Equal(tt.want) || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("grantEnd(%q) = %v, %v; want %v, %v", tt.grant, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
