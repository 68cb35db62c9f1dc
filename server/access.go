package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
)

// Access is what the just-in-time API needs of *engine.Engine: each call
// verifies the caller's bearer ID token like a subject token, and the
// policy decides what the caller may see and do (DESIGN §13).
type Access interface {
	RequestAccess(ctx context.Context, c engine.AccessCall, in access.NewRequest) (access.Request, error)
	AccessRequests(ctx context.Context, c engine.AccessCall, f access.Filter) (access.Page, error)
	AccessRequest(ctx context.Context, c engine.AccessCall, id string) (access.Request, error)
	ReviewAccess(ctx context.Context, c engine.AccessCall, id, verdict, reason string) (access.Request, error)
	CancelAccess(ctx context.Context, c engine.AccessCall, id, reason string) (access.Request, error)
	RevokeAccess(ctx context.Context, c engine.AccessCall, id, reason string) (access.Request, error)
}

// *engine.Engine is the Access cmd/trustgate wires in.
var _ Access = (*engine.Engine)(nil)

// Paths of the just-in-time API (DESIGN §13).
const (
	pathAccessRequests = "/v1/access/requests"
	pathAccessRequest  = "/v1/access/requests/{id}"
	pathAccessApprove  = "/v1/access/requests/{id}/approve"
	pathAccessDeny     = "/v1/access/requests/{id}/deny"
	pathAccessCancel   = "/v1/access/requests/{id}/cancel"
	pathAccessRevoke   = "/v1/access/requests/{id}/revoke"
)

// accessRoutes are the just-in-time API's routes; each is rate-limited per
// client like the exchange (the engine adds the per-subject limit).
func (s *Server) accessRoutes() []route {
	get := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	return []route{
		{path: pathAccessRequests, methods: []string{http.MethodGet, http.MethodHead, http.MethodPost}, limited: true, handle: s.accessRequests},
		{path: pathAccessRequest, methods: get, limited: true, handle: s.accessRequest},
		{path: pathAccessApprove, methods: post, limited: true, handle: s.accessReview(access.VerdictApprove)},
		{path: pathAccessDeny, methods: post, limited: true, handle: s.accessReview(access.VerdictDeny)},
		{path: pathAccessCancel, methods: post, limited: true, handle: s.accessEnd(s.access.CancelAccess)},
		{path: pathAccessRevoke, methods: post, limited: true, handle: s.accessEnd(s.access.RevokeAccess)},
	}
}

// accessList is the answer of GET /v1/access/requests: a page, newest
// first, and the cursor of the next page when there is one.
type accessList struct {
	Requests   []access.Request `json:"requests"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// accessRequests is GET (list) and POST (file a request) on
// /v1/access/requests.
func (s *Server) accessRequests(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		return s.fileAccessRequest(w, r)
	}
	f, err := readAccessFilter(r.URL.RawQuery)
	if err != nil {
		return err
	}
	call, err := s.accessCall(r)
	if err != nil {
		return err
	}
	page, err := s.access.AccessRequests(r.Context(), call, f)
	if err != nil {
		return &accessError{err: err}
	}
	if page.Requests == nil {
		page.Requests = []access.Request{}
	}
	return writeJSON(w, http.StatusOK, accessList{Requests: page.Requests, NextCursor: page.Next})
}

// fileAccessRequest is POST /v1/access/requests: parse → RequestAccess →
// 201 with the request and its Location.
func (s *Server) fileAccessRequest(w http.ResponseWriter, r *http.Request) error {
	in, err := readNewAccessRequest(r)
	if err != nil {
		return err
	}
	call, err := s.accessCall(r)
	if err != nil {
		return err
	}
	req, err := s.access.RequestAccess(r.Context(), call, in)
	if err != nil {
		return &accessError{err: err}
	}
	w.Header().Set("Location", pathAccessRequests+"/"+url.PathEscape(req.ID))
	return writeJSON(w, http.StatusCreated, req)
}

// accessRequest is GET /v1/access/requests/{id}.
func (s *Server) accessRequest(w http.ResponseWriter, r *http.Request) error {
	if r.URL.RawQuery != "" {
		return invalidRequest(descQueryNone)
	}
	call, err := s.accessCall(r)
	if err != nil {
		return err
	}
	req, err := s.access.AccessRequest(r.Context(), call, mux.Vars(r)["id"])
	if err != nil {
		return &accessError{err: err}
	}
	return writeJSON(w, http.StatusOK, req)
}

// accessReview is POST .../{id}/approve and .../{id}/deny: {"reason"}
// (required) → ReviewAccess → 200 with the request.
func (s *Server) accessReview(verdict string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		reason, err := readAccessReason(r, true)
		if err != nil {
			return err
		}
		call, err := s.accessCall(r)
		if err != nil {
			return err
		}
		req, err := s.access.ReviewAccess(r.Context(), call, mux.Vars(r)["id"], verdict, reason)
		if err != nil {
			return &accessError{err: err}
		}
		return writeJSON(w, http.StatusOK, req)
	}
}

// accessEnd is POST .../{id}/cancel and .../{id}/revoke: an optional
// {"reason"} (or no body) → the call → 200 with the request.
func (s *Server) accessEnd(end func(context.Context, engine.AccessCall, string, string) (access.Request, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		reason, err := readAccessReason(r, false)
		if err != nil {
			return err
		}
		call, err := s.accessCall(r)
		if err != nil {
			return err
		}
		req, err := end(r.Context(), call, mux.Vars(r)["id"], reason)
		if err != nil {
			return &accessError{err: err}
		}
		return writeJSON(w, http.StatusOK, req)
	}
}

// accessCall is the caller's bearer ID token (RFC 6750 §2.1: the
// Authorization header only) and address. No or a malformed header is 401
// before the engine is asked.
func (s *Server) accessCall(r *http.Request) (engine.AccessCall, error) {
	raw, present := bearerToken(r)
	if raw == "" {
		if !present {
			// RFC 6750 §3.1: no credentials at all, no error code.
			return engine.AccessCall{}, &apiError{status: http.StatusUnauthorized, code: codeInvalidToken, desc: descNoIDToken, challenge: "Bearer"}
		}
		return engine.AccessCall{}, &apiError{status: http.StatusUnauthorized, code: codeInvalidToken, desc: descBadIDToken,
			challenge: `Bearer error="invalid_token"`}
	}
	return engine.AccessCall{Token: raw, ClientIP: s.clientIP(r)}, nil
}

// accessError marks an error of a just-in-time call, which toAPIError maps
// by DESIGN §13: a bearer token that does not verify is 401, a policy
// refusal 403, an unknown or unreadable request 404, a state that does not
// allow the action 409.
type accessError struct{ err error }

func (e *accessError) Error() string { return e.err.Error() }
func (e *accessError) Unwrap() error { return e.err }
