package engine

import (
	"errors"
	"testing"

	"github.com/trustgate/trustgate/engine/policy"
)

func TestAShadowDecisionIsComparedWithTheLiveOneAsADenyWhenLiveFailed(t *testing.T) {
	allow := policy.Decision{Allow: true, Identity: "deploy", Scopes: []string{"read"}, TTLSeconds: 600}
	deny := policy.Decision{Reasons: []string{"no identity matches"}}
	more := allow
	more.Scopes = []string{"read", "write"}
	evalErr := errors.New("conflicting rules")
	tests := []struct {
		name   string
		live   *policy.Decision
		shadow policy.Decision
		err    error
		want   string
	}{
		{"The same allow is the same.", &allow, allow, nil, ShadowSame},
		{"The same deny is the same.", &deny, deny, nil, ShadowSame},
		{"An allow where live denied is newly allowed.", &deny, allow, nil, ShadowNewlyAllowed},
		{"A deny where live allowed is newly denied.", &allow, deny, nil, ShadowNewlyDenied},
		{"An allow with another scope is changed.", &allow, more, nil, ShadowChanged},
		{"A shadow that fails is an error, whatever live did.", &allow, policy.Decision{}, evalErr, ShadowError},
		{"An allow where live failed is newly allowed.", nil, allow, nil, ShadowNewlyAllowed},
		{"A deny where live failed is the same.", nil, deny, nil, ShadowSame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shadowOutcome(tt.live, tt.shadow, tt.err); got != tt.want {
				t.Fatalf("shadowOutcome = %q, want %q", got, tt.want)
			}
		})
	}
}
