package verify

import "errors"

// ErrInvalidToken is wrapped by every refusal of a token: errors.Is(err,
// ErrInvalidToken) holds for each of the more specific sentinels below too.
var ErrInvalidToken = errors.New("invalid subject token")

// Specific refusals; each also matches ErrInvalidToken.
var (
	ErrMalformed     = &refusal{"malformed token"}
	ErrUnknownIssuer = &refusal{"unknown issuer"}
	ErrSignature     = &refusal{"signature not valid"}
	ErrClaims        = &refusal{"claims not acceptable"}
	ErrExpired       = &refusal{"token expired or not yet valid"}
	ErrReplay        = &refusal{"token already used"}
)

// ErrKeysUnavailable means the provider's keys could not be fetched: a
// problem on the server's side, not proof that the token is bad.
var ErrKeysUnavailable = errors.New("issuer keys unavailable")

// ErrReplayUnavailable means a one-time-use token could not be checked
// against the replay store (down, or none configured): a problem on the
// server's side; the token is refused, and was not spent.
var ErrReplayUnavailable = errors.New("replay store unavailable")

// refusal is a sentinel that is also an ErrInvalidToken.
type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrInvalidToken }
