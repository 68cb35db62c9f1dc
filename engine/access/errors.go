package access

import (
	"errors"
	"strings"
)

// Sentinels that classify why an access call failed; the server maps them
// to HTTP in one place (DESIGN §13: 403, 404, 409).
var (
	// ErrDenied: the policy refused (a *DeniedError says why).
	ErrDenied = errors.New("access denied by policy")
	// ErrNotFound: no such request, or one the caller may not see.
	ErrNotFound = errors.New("no such access request")
	// ErrConflict: the request's state does not allow the action.
	ErrConflict = errors.New("access request state does not allow this")
	// ErrInvalid: the call itself is malformed (an empty reason, a bad
	// duration).
	ErrInvalid = errors.New("invalid access request")
	// ErrUnbindable: the token lacks what the identity's binding needs.
	ErrUnbindable = errors.New("token cannot be bound")
)

// DeniedError is ErrDenied with the policy's reasons, which go to the
// decision log and to the caller only where the server reveals reasons.
type DeniedError struct {
	Reasons []string
}

func (e *DeniedError) Error() string {
	return ErrDenied.Error() + ": " + strings.Join(e.Reasons, "; ")
}

func (e *DeniedError) Unwrap() error { return ErrDenied }
