package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
)

func TestJustInTimeRefusalsMapByDesignSection13(t *testing.T) {
	call := func(err error) error { return &accessError{err: &engine.Error{DecisionID: decisionID, Err: err}} }
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDesc   string
	}{
		{"A bearer token that does not verify is 401 invalid_token.", call(engine.ErrInvalidToken),
			http.StatusUnauthorized, codeInvalidToken, descBadIDToken},
		{"A policy refusal is 403 access_denied.", call(&access.DeniedError{Reasons: []string{"no"}}),
			http.StatusForbidden, codeAccessDenied, descAccessDenied},
		{"An unknown or unreadable request is 404 not_found.", call(access.ErrNotFound),
			http.StatusNotFound, codeNotFound, descAccessNotFound},
		{"A server without just-in-time access is 404 not_found.", call(engine.ErrNoAccess),
			http.StatusNotFound, codeNotFound, descAccessOff},
		{"A state that does not allow the action is 409 conflict.", call(access.ErrConflict),
			http.StatusConflict, codeConflict, descAccessConflict},
		{"A malformed call the engine refuses is 400 invalid_request.", call(fmt.Errorf("%w: reason is required", access.ErrInvalid)),
			http.StatusBadRequest, codeInvalidRequest, descAccessInvalid},
		{"The store down is 503 temporarily_unavailable, never the caller's fault.", call(engine.ErrStateUnavailable),
			http.StatusServiceUnavailable, codeUnavailable, descNoState},
		{"A failed evaluation is 500 server_error.", call(fmt.Errorf("%w: eval", engine.ErrInternal)),
			http.StatusInternalServerError, codeServerError, descServer},
		{"An error no rule knows fails closed as 500.", call(fmt.Errorf("something new")),
			http.StatusInternalServerError, codeServerError, descServer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := toAPIError(tc.err)
			if e.status != tc.wantStatus || e.code != tc.wantCode || e.desc != tc.wantDesc || e.decisionID != decisionID {
				t.Fatalf("got %d %s %q (decision %q), want %d %s %q", e.status, e.code, e.desc, e.decisionID, tc.wantStatus, tc.wantCode, tc.wantDesc)
			}
		})
	}
}
