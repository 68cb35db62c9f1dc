package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// serverError is a refusal the server answered with an OAuth error body
// (RFC 6749 §5.2): printed as one line with the code.
type serverError struct {
	Status      int
	Code        string
	Description string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *serverError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Description, e.Status)
}

// newServerError reads what a refusal says, without control characters
// (printable: it is printed to a terminal or a job's log); a body without
// an error code is a server_error.
func newServerError(resp *http.Response, code, desc string) *serverError {
	if code == "" {
		code = "server_error"
	}
	e := &serverError{Status: resp.StatusCode, Code: printable(code), Description: printable(desc)}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// retryable: the server asks the caller to come back later (rate limit,
// store or issuer keys unavailable).
func retryable(err error) (time.Duration, bool) {
	var se *serverError
	if errors.As(err, &se) && (se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable) {
		return se.RetryAfter, true
	}
	return 0, false
}

// accessClient calls the just-in-time API (/v1/access/requests) with the
// caller's ID token as bearer, read afresh for every call (GitHub Actions
// hands out a new one each time). It never prints or logs the token.
type accessClient struct {
	src    *tokenSource
	http   *http.Client
	stdio  stdio
	prefix string // the base URL + /v1/access/requests
}

func newAccessClient(src *tokenSource, io stdio) *accessClient {
	return &accessClient{src: src, http: newClient(), stdio: io,
		prefix: strings.TrimRight(src.url, "/") + "/v1/access/requests"}
}

// do sends one call: path under /v1/access/requests ("" for the
// collection, "/ID/approve" …), body marshalled as JSON when not nil, the
// answer decoded into out.
func (c *accessClient) do(ctx context.Context, method, path string, body, out any) error {
	tok, err := c.src.idToken(ctx, c.http, c.stdio)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.prefix+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return redactURLError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("HTTP %d with an unreadable body", resp.StatusCode)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(raw, &e)
		return newServerError(resp, e.Error, e.Description)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("HTTP %d with a body that is not what the API answers: %w", resp.StatusCode, err)
	}
	return nil
}

// reasonBody is the body of a review, cancel or revoke.
type reasonBody struct {
	Reason string `json:"reason,omitempty"`
}

// newRequestBody is the body of POST /v1/access/requests.
type newRequestBody struct {
	Identity  string   `json:"identity"`
	Duration  string   `json:"duration,omitempty"`
	Reason    string   `json:"reason"`
	Ticket    string   `json:"ticket,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
	StartsAt  string   `json:"starts_at,omitempty"`
}

func (c *accessClient) create(ctx context.Context, in newRequestBody) (access.Request, error) {
	var r access.Request
	return r, c.do(ctx, http.MethodPost, "", in, &r)
}

func (c *accessClient) get(ctx context.Context, id string) (access.Request, error) {
	var r access.Request
	return r, c.do(ctx, http.MethodGet, "/"+url.PathEscape(id), nil, &r)
}

// listPage is one page of GET /v1/access/requests.
type listPage struct {
	Requests   []access.Request `json:"requests"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// list asks for one page: state, identity and cursor when set.
func (c *accessClient) list(ctx context.Context, state, identity, cursor string) (listPage, error) {
	var out listPage
	q := url.Values{}
	for k, v := range map[string]string{"state": state, "identity": identity, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	path := ""
	if len(q) > 0 {
		path = "?" + q.Encode()
	}
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// act posts an action (approve, deny, cancel, revoke) on request id.
func (c *accessClient) act(ctx context.Context, id, action, reason string) (access.Request, error) {
	var r access.Request
	return r, c.do(ctx, http.MethodPost, "/"+url.PathEscape(id)+"/"+action, reasonBody{Reason: reason}, &r)
}
