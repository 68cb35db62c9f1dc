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

// The fakes below stand in for *engine.Engine in tests of the HTTP layer
// alone (parsing, routing, error mapping), one per interface a handler
// group declares. They record what the server asked and answer what the
// test set. The end-to-end tests (e2e_harness_test.go) use the real engine.

// fakeExchanger is the Exchanger: it answers token, or exchangeFn when set.
type fakeExchanger struct {
	mu         sync.Mutex
	exchanges  []engine.Request
	token      *engine.Token
	exchangeFn func(engine.Request) (*engine.Token, error)
}

func (f *fakeExchanger) Exchange(_ context.Context, req engine.Request) (*engine.Token, error) {
	f.mu.Lock()
	f.exchanges = append(f.exchanges, req)
	fn, tok := f.exchangeFn, f.token
	f.mu.Unlock()
	if fn != nil {
		return fn(req)
	}
	return tok, nil
}

// calls is every request the server passed to Exchange.
func (f *fakeExchanger) calls() []engine.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.Request(nil), f.exchanges...)
}

// fakeInspector is the Inspector: a token is live when claims is set and
// inspectErr is not.
type fakeInspector struct {
	mu         sync.Mutex
	inspected  []string
	revoked    []string
	claims     *mint.Claims
	inspectErr error
	revokeErr  error
}

func (f *fakeInspector) Inspect(_ context.Context, raw string) (*engine.Introspection, error) {
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

func (f *fakeInspector) Revoke(_ context.Context, raw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, raw)
	return f.revokeErr
}

// calls is every token the server passed to Inspect and to Revoke.
func (f *fakeInspector) calls() (inspected, revoked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.inspected...), append([]string(nil), f.revoked...)
}

// fakeDiscovery is the Discovery: fixed values a test may set before New.
type fakeDiscovery struct {
	issuer string
	jwks   jose.JSONWebKeySet
}

func (f *fakeDiscovery) Issuer() string           { return f.issuer }
func (f *fakeDiscovery) JWKS() jose.JSONWebKeySet { return f.jwks }

// fakeStatus is the Status: fixed values a test may set.
type fakeStatus struct {
	ready  error
	status engine.PolicyStatus
}

func (f *fakeStatus) Ready() error                      { return f.ready }
func (f *fakeStatus) PolicyStatus() engine.PolicyStatus { return f.status }

// withFakes returns cfg with new fakes in its four required fields.
func withFakes(cfg Config) Config {
	cfg.Exchanger = &fakeExchanger{token: &engine.Token{AccessToken: "issued.access.token", ExpiresIn: 15 * time.Minute, Scopes: []string{"read", "write"}}}
	cfg.Inspector = &fakeInspector{}
	cfg.Discovery = &fakeDiscovery{issuer: "https://sts.example.com"}
	cfg.Status = &fakeStatus{}
	return cfg
}

// harness is a Server over the fakes with its logs observed.
type harness struct {
	srv       *Server
	exchanger *fakeExchanger
	inspector *fakeInspector
	discovery *fakeDiscovery
	status    *fakeStatus
	logs      *observer.ObservedLogs
}

func newHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := withFakes(Config{Logger: zap.New(core)})
	h := &harness{
		exchanger: cfg.Exchanger.(*fakeExchanger),
		inspector: cfg.Inspector.(*fakeInspector),
		discovery: cfg.Discovery.(*fakeDiscovery),
		status:    cfg.Status.(*fakeStatus),
		logs:      logs,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	return h
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
	h.srv.Handler().ServeHTTP(rec, newRequest(t, req))
	return rec
}

func newRequest(t testing.TB, req request) *http.Request {
	r := httptest.NewRequestWithContext(t.Context(), req.method, req.target, strings.NewReader(req.body))
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
	calls := h.exchanger.calls()
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
