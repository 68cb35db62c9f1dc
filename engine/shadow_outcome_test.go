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

func TestOnlyTheSampledShareOfEvaluatedExchangesIsOfferedToTheShadow(t *testing.T) {
	evaluated := &record{eval: &Evaluation{}}
	tests := []struct {
		name      string
		rate      float64
		loaded    bool
		rec       *record
		wantQueue int
	}{
		{"With no shadow policy, nothing is queued.", 1, false, evaluated, 0},
		{"An exchange refused before evaluation is not queued.", 1, true, &record{}, 0},
		{"At rate 1, every evaluated exchange is queued.", 1, true, evaluated, 100},
		{"At a rate near 0, almost none is.", 1e-9, true, evaluated, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShadow(tt.rate, 100, nil)
			if tt.loaded {
				s.policy.Store(&policy.Policy{})
			}
			for range 100 {
				s.offer(tt.rec)
			}
			if got := len(s.jobs); got != tt.wantQueue {
				t.Fatalf("%d queued, want %d", got, tt.wantQueue)
			}
		})
	}
}
