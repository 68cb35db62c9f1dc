package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/server/console"
)

// Error codes. RFC 6749 §5.2 and RFC 8693 §2.2.2 for the token endpoints,
// RFC 6750 §3.1 for bearer tokens; slow_down is the registered token
// endpoint code for a client that calls too often (RFC 8628 §3.5);
// not_found and method_not_allowed are plain HTTP, in the same shape.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidScope         = "invalid_scope"
	codeInvalidTarget        = "invalid_target"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeInvalidToken         = "invalid_token"
	codeInvalidClient        = "invalid_client"
	codeSlowDown             = "slow_down"
	codeServerError          = "server_error"
	codeUnavailable          = "temporarily_unavailable"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeAccessDenied         = "access_denied"
	codeConflict             = "conflict"
)

// Client-facing descriptions of the engine's refusals. They are constants:
// they never echo the request, and a refused subject token reads the same
// whatever check refused it (DESIGN §6); the decision id is appended so an
// operator can find the decision log record.
const (
	descRefused     = "request refused"
	descScope       = "a requested scope is not granted"
	descTarget      = "a requested audience is not allowed"
	descRateLimited = "too many requests; retry after the number of seconds in Retry-After"
	descUnavailable = "the subject token cannot be verified right now; retry after the number of seconds in Retry-After"
	descOverloaded  = "the server is busy; retry after the number of seconds in Retry-After"
	descNoIdP       = "the console's identity provider cannot be reached; retry after the number of seconds in Retry-After"
	descNoState     = "the server cannot reach its state store; retry after the number of seconds in Retry-After"
	descServer      = "internal error"
	descInactive    = "the access token is not active"
	descNoToken     = "an access token is required in the Authorization header (Bearer scheme)"
	descClientAuth  = "client authentication failed: introspection needs the client's id and secret (HTTP Basic)"
	descTooLarge    = "the request body is too large"
	descNotFound    = "no such endpoint"
	descMethod      = "method not allowed; see the Allow header"
)

// unavailableRetryAfter is the Retry-After of ErrUnavailable when the
// engine gives none: the verifier refetches an issuer's keys at most every
// 30 s, so retrying sooner finds the same failure.
const unavailableRetryAfter = 30 * time.Second

// stateRetryAfter is the Retry-After of engine.ErrStateUnavailable: a
// database restart or failover takes seconds.
const stateRetryAfter = 5 * time.Second

// maxDescription bounds error_description with revealed reasons.
const maxDescription = 1024

// apiError is an error response before it is written.
type apiError struct {
	status int
	code   string
	// desc is a constant; it never contains request data.
	desc       string
	decisionID string
	// reasons are the policy's deny reasons, revealed only with
	// Config.RevealReasons and only on 4xx.
	reasons    []string
	retryAfter time.Duration
	// challenge is the WWW-Authenticate value of a 401 (RFC 6750 §3).
	challenge string
	// limit names the rate limit that refused the request: "client" (per
	// IP, this package) or "subject" (per token subject, the engine).
	limit string
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

// invalidRequest is a malformed request (RFC 6749 §5.2 invalid_request);
// desc is a constant and names at most one of the API's own parameters.
func invalidRequest(desc string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidRequest, desc: desc}
}

// toAPIError is the one place errors become HTTP (DESIGN §6 error mapping):
//
//	a refusal of this package (*apiError)  → as it says (400, 401, 404, 405)
//	the per-client rate limit              → 429 slow_down, Retry-After
//	a body over Config.MaxBodyBytes        → 413 invalid_request
//	introspection without client credentials → 401 invalid_client, Basic challenge
//	engine.ErrNoPolicy, ErrInternal        → 500 server_error
//	engine.ErrUnavailable                  → 503 temporarily_unavailable, Retry-After
//	engine.ErrStateUnavailable             → 503 temporarily_unavailable, Retry-After
//	engine.ErrOverloaded                   → 503 temporarily_unavailable, Retry-After
//	console.ErrIdPUnavailable              → 503 temporarily_unavailable, Retry-After
//	engine.ErrRateLimited                  → 429 slow_down, Retry-After
//	engine.ErrInvalidScope                 → 400 invalid_scope
//	engine.ErrInvalidTarget                → 400 invalid_target
//	engine.ErrInvalidToken, ErrDenied      → 400 invalid_request, the same words for both
//	engine.ErrInactive                     → 401 invalid_token with a Bearer challenge
//	a just-in-time call's refusal (*accessError), by accessStatus:
//	  engine.ErrInvalidToken               → 401 invalid_token with a Bearer challenge
//	  access.ErrDenied                     → 403 access_denied (reasons only with RevealReasons)
//	  access.ErrNotFound, engine.ErrNoAccess → 404 not_found
//	  access.ErrConflict                   → 409 conflict
//	  access.ErrInvalid                    → 400 invalid_request
//	anything else                          → 500 server_error
//
// Server-side classes are tested first, so an error that is both is never
// reported as the caller's fault; anything unknown fails closed as a 500.
func toAPIError(err error) *apiError {
	var (
		ae  *apiError
		cre *clientRateLimitError
		mbe *http.MaxBytesError
		ee  *engine.Error
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &cre):
		return &apiError{status: http.StatusTooManyRequests, code: codeSlowDown, desc: descRateLimited,
			retryAfter: max(cre.retryAfter, time.Second), limit: "client"}
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: codeInvalidRequest, desc: descTooLarge}
	case errors.Is(err, errClientAuth):
		// RFC 6749 §5.2: a 401 names the scheme the client should use.
		return &apiError{status: http.StatusUnauthorized, code: codeInvalidClient, desc: descClientAuth,
			challenge: `Basic realm="trustgate", charset="UTF-8"`}
	}
	e := &apiError{status: http.StatusInternalServerError, code: codeServerError, desc: descServer}
	var wait time.Duration
	if errors.As(err, &ee) {
		e.decisionID, e.reasons, wait = ee.DecisionID, ee.Reasons, ee.RetryAfter
	}
	switch {
	case errors.Is(err, engine.ErrNoPolicy), errors.Is(err, engine.ErrInternal):
		// 500 as set.
	case errors.Is(err, engine.ErrUnavailable):
		e.status, e.code, e.desc = http.StatusServiceUnavailable, codeUnavailable, descUnavailable
		e.retryAfter = wait
		if e.retryAfter <= 0 {
			e.retryAfter = unavailableRetryAfter
		}
	case errors.Is(err, engine.ErrStateUnavailable):
		e.status, e.code, e.desc = http.StatusServiceUnavailable, codeUnavailable, descNoState
		e.retryAfter = stateRetryAfter
	case errors.Is(err, engine.ErrOverloaded):
		e.status, e.code, e.desc = http.StatusServiceUnavailable, codeUnavailable, descOverloaded
		e.retryAfter = max(wait, time.Second)
	case errors.Is(err, console.ErrIdPUnavailable):
		e.status, e.code, e.desc = http.StatusServiceUnavailable, codeUnavailable, descNoIdP
		e.retryAfter = unavailableRetryAfter
	case errors.Is(err, engine.ErrRateLimited):
		e.status, e.code, e.desc, e.limit = http.StatusTooManyRequests, codeSlowDown, descRateLimited, "subject"
		e.retryAfter = max(wait, time.Second)
	case errors.Is(err, engine.ErrInvalidScope):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidScope, descScope
	case errors.Is(err, engine.ErrInvalidTarget):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidTarget, descTarget
	case errors.As(err, new(*accessError)):
		accessStatus(e, err)
	case errors.Is(err, engine.ErrInvalidToken), errors.Is(err, engine.ErrDenied):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidRequest, descRefused
	case errors.Is(err, engine.ErrInactive):
		e.status, e.code, e.desc = http.StatusUnauthorized, codeInvalidToken, descInactive
		e.challenge = `Bearer error="invalid_token"`
	}
	return e
}

// accessStatus sets e for a refused just-in-time call (DESIGN §13); a
// cause it does not know leaves e a 500.
func accessStatus(e *apiError, err error) {
	switch {
	case errors.Is(err, engine.ErrInvalidToken):
		e.status, e.code, e.desc = http.StatusUnauthorized, codeInvalidToken, descBadIDToken
		e.challenge = `Bearer error="invalid_token"`
	case errors.Is(err, access.ErrDenied):
		e.status, e.code, e.desc = http.StatusForbidden, codeAccessDenied, descAccessDenied
	case errors.Is(err, access.ErrNotFound):
		e.status, e.code, e.desc = http.StatusNotFound, codeNotFound, descAccessNotFound
	case errors.Is(err, engine.ErrNoAccess):
		e.status, e.code, e.desc = http.StatusNotFound, codeNotFound, descAccessOff
	case errors.Is(err, access.ErrConflict):
		e.status, e.code, e.desc = http.StatusConflict, codeConflict, descAccessConflict
	case errors.Is(err, access.ErrInvalid):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidRequest, descAccessInvalid
	}
}

// errorBody is the RFC 6749 §5.2 error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeError writes err as an error response and logs it: 4xx at Warn, 5xx
// at Error (a dependency's outage at Debug: it has its own log), with the endpoint, the client IP and the decision id; never a
// token, a parameter value or the URL path.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	endpoint := s.endpointLabel(r)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.retryAfter), 10))
	}
	if e.challenge != "" {
		h.Set("WWW-Authenticate", e.challenge)
	}
	if e.limit != "" {
		s.metrics.rateLimited.WithLabelValues(endpoint, e.limit).Inc()
	}
	s.logError(r, endpoint, e, err)
	_ = writeJSON(w, e.status, errorBody{Error: e.code, Description: s.description(e)})
}

// description is e's constant description, its decision id, and with
// RevealReasons the deny reasons of a 4xx, restricted to the characters
// RFC 6749 §5.2 allows in error_description.
func (s *Server) description(e *apiError) string {
	d := e.desc
	if e.decisionID != "" {
		d += "; decision id " + e.decisionID
	}
	if s.reveal && e.status < http.StatusInternalServerError && len(e.reasons) > 0 {
		d += "; reasons: " + strings.Join(e.reasons, "; ")
		d = strings.Map(descriptionRune, d)
		if len(d) > maxDescription {
			d = d[:maxDescription]
		}
	}
	return d
}

// descriptionRune keeps the characters of RFC 6749 §5.2's error_description
// grammar (%x20-21 / %x23-5B / %x5D-7E) and replaces the others.
func descriptionRune(r rune) rune {
	switch {
	case r == '"':
		return '\''
	case r == '\\':
		return '/'
	case r < 0x20 || r > 0x7e:
		return '?'
	}
	return r
}

func (s *Server) logError(r *http.Request, endpoint string, e *apiError, err error) {
	fields := []zap.Field{
		zap.String("endpoint", endpoint),
		zap.String("method", r.Method),
		zap.Int("status", e.status),
		zap.String("error_code", e.code),
		zap.String("client_ip", s.clientIP(r)),
	}
	if e.decisionID != "" {
		fields = append(fields, zap.String("decision_id", e.decisionID))
	}
	var ee *engine.Error
	switch {
	case e.status < http.StatusInternalServerError:
		fields = append(fields, zap.String("description", e.desc))
		s.log.Warn("request refused", fields...)
	case dependencyDown(err):
		// Its outage is logged once where it happens (engine/outage); each
		// refusal is in the decision log and the metrics.
		s.log.Debug("request refused: a dependency is down", fields...)
	case r.Context().Err() != nil:
		s.log.Warn("request ended by the client", fields...)
	case errors.As(err, &ee):
		// The decision log record under decision_id has the cause.
		s.log.Error("request failed", fields...)
	default:
		// Server-side causes (revocation store, encoding) carry no request data.
		s.log.Error("request failed", append(fields, zap.Error(err))...)
	}
}

// dependencyDown: err is a refusal because the state store or an issuer's
// keys cannot be reached, an outage with a log of its own.
func dependencyDown(err error) bool {
	return errors.Is(err, engine.ErrStateUnavailable) || errors.Is(err, engine.ErrUnavailable)
}

// retryAfterSeconds is a Retry-After value (RFC 9110 §10.2.3): whole
// seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	return max(1, int64(math.Ceil(d.Seconds())))
}
