package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
)

// OAuth error codes (RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 6750 §3.1).
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidScope         = "invalid_scope"
	codeInvalidTarget        = "invalid_target"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeServerError          = "server_error"
	codeTemporarily          = "temporarily_unavailable"
	codeInvalidToken         = "invalid_token"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeTooLarge             = "request_too_large"
	codeRateLimited          = "rate_limited"
)

// Client-facing descriptions are constants: they never echo input and never
// say which check failed.
const (
	descRefused     = "the request was refused"
	descBadRequest  = "the request is malformed"
	descScope       = "a requested scope is not granted"
	descTarget      = "a requested audience is not allowed"
	descGrant       = "only urn:ietf:params:oauth:grant-type:token-exchange is supported"
	descServer      = "the server could not complete the request"
	descUnavailable = "the issuer's keys are unavailable; retry later"
	descTooLarge    = "the request body is too large"
	descRateLimited = "too many requests; retry after the time in Retry-After"
	descNotFound    = "no such endpoint"
	descMethod      = "method not allowed"
	descToken       = "the access token is not active"
)

// apiError is an error response before it is written.
type apiError struct {
	status     int
	code       string
	desc       string
	decisionID string
	reasons    []string
	retryAfter int
	cause      error
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

// badRequest is a malformed request: what is wrong goes to the log only.
func badRequest(cause error) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeInvalidRequest, desc: descBadRequest, cause: cause}
}

// errTooLarge marks a body over the limit.
var errTooLarge = errors.New("request body too large")

// toAPIError is the one mapping of errors to HTTP (DESIGN §6).
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	e := &apiError{status: http.StatusInternalServerError, code: codeServerError, desc: descServer, cause: err}
	var ee *engine.Error
	if errors.As(err, &ee) {
		e.decisionID, e.reasons = ee.DecisionID, ee.Reasons
	}
	switch {
	case errors.Is(err, errTooLarge):
		e.status, e.code, e.desc = http.StatusRequestEntityTooLarge, codeTooLarge, descTooLarge
	case errors.Is(err, engine.ErrInvalidScope):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidScope, descScope
	case errors.Is(err, engine.ErrInvalidTarget):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidTarget, descTarget
	case errors.Is(err, engine.ErrInvalidToken), errors.Is(err, engine.ErrDenied):
		e.status, e.code, e.desc = http.StatusBadRequest, codeInvalidRequest, descRefused
	case errors.Is(err, engine.ErrRateLimited):
		e.status, e.code, e.desc = http.StatusTooManyRequests, codeRateLimited, descRateLimited
		e.retryAfter = 1
		if ee != nil && ee.RetryAfter > 0 {
			e.retryAfter = int(math.Ceil(ee.RetryAfter.Seconds()))
		}
	case errors.Is(err, engine.ErrUnavailable):
		e.status, e.code, e.desc = http.StatusServiceUnavailable, codeTemporarily, descUnavailable
		e.retryAfter = 5
	}
	return e
}

// writeError writes err as an OAuth error response and logs it: 4xx at
// Warn, 5xx at Error, with the decision id and never a token.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	desc := e.desc
	if e.decisionID != "" {
		desc = fmt.Sprintf("%s; decision id %s", desc, e.decisionID)
	}
	if s.cfg.RevealReasons && len(e.reasons) > 0 {
		desc += ": " + strings.Join(e.reasons, "; ")
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	fields := []zap.Field{
		zap.String("path", r.URL.Path), zap.Int("status", e.status), zap.String("error", e.code),
		zap.String("decision_id", e.decisionID), zap.String("client_ip", clientIP(r)),
	}
	if e.cause != nil {
		fields = append(fields, zap.NamedError("cause", e.cause))
	}
	if e.status >= 500 {
		s.log.Error("request failed", fields...)
	} else {
		s.log.Warn("request refused", fields...)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": desc})
}
