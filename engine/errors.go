package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
)

// Sentinels that classify why an exchange gave no token. The server maps them
// to HTTP in one place; callers use errors.Is.
var (
	// ErrInvalidToken: the subject token is malformed, forged, expired, from
	// an unknown issuer, or otherwise not acceptable.
	ErrInvalidToken = verify.ErrInvalidToken
	// ErrDenied: the token is valid but the policy refused it.
	ErrDenied = errors.New("denied by policy")
	// ErrInvalidScope: a requested scope is not granted to the identity.
	ErrInvalidScope = errors.New("requested scope not granted")
	// ErrInvalidTarget: a requested audience is not allowed for the identity.
	ErrInvalidTarget = errors.New("requested audience not allowed")
	// ErrRateLimited: the subject has made too many exchanges.
	ErrRateLimited = errors.New("rate limited")
	// ErrNoPolicy: no policy has been loaded yet.
	ErrNoPolicy = errors.New("no policy loaded")
	// ErrUnavailable: the issuer's keys cannot be fetched right now. It is
	// verify's own sentinel, so the verifier's error is passed on as it is
	// and says "issuer keys unavailable" once.
	ErrUnavailable = verify.ErrKeysUnavailable
	// ErrOverloaded: every evaluation slot stayed busy for the queue
	// timeout; retry after RetryAfter.
	ErrOverloaded = errors.New("overloaded")
	// ErrStateUnavailable: the state store (replay, revocation) could not
	// answer: what needs it fails closed until it is back; retry later. It
	// is the store's own sentinel (see stateUnavailable).
	ErrStateUnavailable = state.ErrUnavailable
	// ErrInternal: evaluation or signing failed; never an allow.
	ErrInternal = errors.New("internal error")
	// ErrInactive: a token presented to Inspect is not a live token this
	// server issued (bad signature, expired, revoked, malformed).
	ErrInactive = errors.New("token is not active")
)

// Error is what Exchange returns on any refusal. It carries the decision id
// the caller may quote to an operator, and the reasons, which only go to the
// decision log unless the server is configured to reveal them.
type Error struct {
	DecisionID string
	Reasons    []string
	// RetryAfter is set with ErrRateLimited and ErrOverloaded.
	RetryAfter time.Duration
	Err        error
	// errReasons: Err's text holds Reasons already, so Error says them once.
	errReasons bool
}

// Error is Err's text, then the policy's reasons. Reasons Err's text holds
// already (the failure's own text: an invalid token, a failed evaluation;
// an access denial's reasons) are not said again.
func (e *Error) Error() string {
	if e.errReasons || len(e.Reasons) == 0 {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + strings.Join(e.Reasons, "; ")
}

func (e *Error) Unwrap() error { return e.Err }

// stateUnavailable classifies err, a failure of something that reads or
// writes state, as ErrStateUnavailable, saying so once: the store's own
// errors already do.
func stateUnavailable(err error) error {
	if errors.Is(err, ErrStateUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStateUnavailable, err)
}
