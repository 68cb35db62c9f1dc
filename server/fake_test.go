package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/mint"
)

// fakeEngine is the server's Engine for tests of the HTTP layer alone:
// parsing, routing, error mapping. It records what the server asked and
// answers what the test set. The end-to-end tests (e2e_test.go) use the
// real engine.
type fakeEngine struct {
	mu        sync.Mutex
	exchanges []engine.Request
	inspected []string
	revoked   []string

	token      *engine.Token
	exchangeFn func(engine.Request) (*engine.Token, error)
	claims     *mint.Claims
	inspectErr error
	revokeErr  error
	jwks       jose.JSONWebKeySet
	ready      error
	status     engine.PolicyStatus
	issuer     string
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{
		token:  &engine.Token{AccessToken: "issued.access.token", ExpiresIn: 15 * time.Minute, Scopes: []string{"read", "write"}},
		issuer: "https://sts.example.com",
	}
}

func (f *fakeEngine) Exchange(_ context.Context, req engine.Request) (*engine.Token, error) {
	f.mu.Lock()
	f.exchanges = append(f.exchanges, req)
	fn, tok := f.exchangeFn, f.token
	f.mu.Unlock()
	if fn != nil {
		return fn(req)
	}
	return tok, nil
}

func (f *fakeEngine) Inspect(_ context.Context, raw string) (*engine.Introspection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inspected = append(f.inspected, raw)
	if f.inspectErr != nil {
		return nil, f.inspectErr
	}
	if f.claims == nil {
		return nil, engine.ErrInactive
	}
	return &engine.Introspection{Claims: *f.claims}, nil
}

func (f *fakeEngine) Revoke(_ context.Context, raw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, raw)
	return f.revokeErr
}

func (f *fakeEngine) JWKS() jose.JSONWebKeySet          { return f.jwks }
func (f *fakeEngine) Ready() error                      { return f.ready }
func (f *fakeEngine) PolicyStatus() engine.PolicyStatus { return f.status }
func (f *fakeEngine) Issuer() string                    { return f.issuer }

func (f *fakeEngine) calls() (exchanges []engine.Request, inspected, revoked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Request(nil), f.exchanges...), append([]string(nil), f.inspected...), append([]string(nil), f.revoked...)
}

// harness is a Server over a fakeEngine with its logs observed.
type harness struct {
	srv  *Server
	eng  *fakeEngine
	logs *observer.ObservedLogs
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	eng := newFakeEngine()
	cfg := Config{Engine: eng, Logger: zap.New(core)}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{srv: srv, eng: eng, logs: logs}
}

// request is one HTTP request in a table test.
type request struct {
	method      string
	target      string
	contentType string // "" sends none
	body        string
	header      http.Header
	remoteAddr  string // "" is httptest's 192.0.2.1:1234
}

func (h *harness) do(t *testing.T, req request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, newRequest(req))
	return rec
}

func newRequest(req request) *http.Request {
	r := httptest.NewRequest(req.method, req.target, strings.NewReader(req.body))
	if req.remoteAddr != "" {
		r.RemoteAddr = req.remoteAddr
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	for k, vs := range req.header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// decodeError reads an RFC 6749 §5.2 error body, failing on any other shape.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q, want application/json", ct)
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	var e errorBody
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body is not {error, error_description}: %v", err)
	}
	if e.Error == "" || e.Description == "" {
		t.Fatalf("error body %+v lacks error or error_description", e)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("data after the error body")
	}
	return e
}

// accepted sends req to a new harness and requires a 200 with the no-store
// headers after exactly one engine call; it returns the response and the
// request the engine got.
func accepted(t *testing.T, req request) (*httptest.ResponseRecorder, engine.Request) {
	t.Helper()
	h := newHarness(t)
	rec := h.do(t, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	assertNoStore(t, rec)
	calls, _, _ := h.eng.calls()
	if len(calls) != 1 {
		t.Fatalf("engine called %d times", len(calls))
	}
	return rec, calls[0]
}

// assertNoStore checks the headers RFC 6749 §5.1 requires on token and
// error responses.
func assertNoStore(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := rec.Header().Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
}

// assertNotLogged fails if any log entry's message or field holds secret.
func assertNotLogged(t *testing.T, logs *observer.ObservedLogs, secret string) {
	t.Helper()
	for _, e := range logs.All() {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("log entry holds %q: %s", secret, buf.String())
		}
		buf.Free()
	}
}
