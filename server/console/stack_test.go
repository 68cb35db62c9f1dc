package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/server"
	"github.com/trustgate/trustgate/server/console"
)

const (
	clientID     = "trustgate-console"
	clientSecret = "the-console-client-secret-of-the-test"
	cliClientID  = "trustgate-cli"
	ciAudience   = "https://sts.example.com"
	identity     = "prod-db-breakglass"
)

// People the test IdP signs in.
var (
	alice   = map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []any{"prod-approvers"}}
	bob     = map[string]any{"sub": "bob", "email": "bob@example.com", "groups": []any{"prod-approvers"}}
	mallory = map[string]any{"sub": "mallory", "email": "mallory@example.com", "groups": []any{"developers"}}
)

// bundleData is a bundle with a CI provider, the company IdP (whose
// audiences are the console's client id) and one just-in-time identity
// that prod-approvers approve.
const bundleData = `trustgate:
  providers:
    gitlab:
      issuer: {{CI}}
      platform: gitlab
      audiences: [` + ciAudience + `]
    corp:
      issuer: {{PEOPLE}}
      platform: generic
      audiences: ["{{CLIENT}}"]
  identities:
    ` + identity + `:
      roles: [db-admin]
      scopes: [read, write]
      audiences: [https://db.example.com]
      ttl: 15m
      access: just-in-time
      jit:
        max_duration: 4h
        default_duration: 1h
        bind: ref
        pending_ttl: 24h
        approvers:
          - provider: corp
            claims:
              groups: prod-approvers
      federations:
        - provider: gitlab
          claims:
            project_path: demo-group/demo-project
            ref_protected: "true"
          refs: ["branch:main"]
`

// stack is the whole service on loopback: a CI issuer, the company IdP
// (with its authorization code flow), the real engine with the real
// policy and a real state store, and the server with the console mounted.
type stack struct {
	URL    string
	Engine *engine.Engine
	CI     *enginetest.Issuer
	People *enginetest.Issuer
	Logs   *observer.ObservedLogs
	mu     sync.Mutex
	// served is every response the server wrote: headers and body.
	served []string
	store  *state.Store
	log    *zap.Logger
	// skew moves the console's clock (not the engine's) forward.
	skew atomic.Int64
}

// advance moves the console's clock forward by d.
func (st *stack) advance(d time.Duration) { st.skew.Add(int64(d)) }

func (st *stack) now() time.Time { return time.Now().Add(time.Duration(st.skew.Load())) }

// idp is the company IdP a stack's console signs in with.
type idp struct {
	issuer, clientID, secret string
	// scopes are console.scopes; nil: the default.
	scopes []string
	// noCLI configures no client for the CLI (cli_client_id unset).
	noCLI bool
}

func newStack(t testing.TB) *stack {
	t.Helper()
	return newStackWith(t, func(st *stack) idp {
		st.People.Login().AddClient(clientID, clientSecret, st.URL+"/console/callback")
		return idp{issuer: st.People.URL(), clientID: clientID, secret: clientSecret}
	})
}

// newStackWith builds a stack whose console signs in with the IdP that
// setup returns (st.URL is set when it runs).
func newStackWith(t testing.TB, setup func(st *stack) idp) *stack {
	t.Helper()
	st := &stack{CI: enginetest.NewIssuer(t), People: enginetest.NewIssuer(t)}
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	st.Logs = logs
	hs := httptest.NewUnstartedServer(nil)
	st.URL = "http://" + hs.Listener.Addr().String()
	id := setup(st)

	store, err := state.Open(context.Background(), "memory:", state.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc, err := access.New(access.Config{Store: store, Record: engine.AccessRecorder(log.Named("decisions")), Logger: log.Named("access")})
	if err != nil {
		t.Fatal(err)
	}
	st.store, st.log = store, log
	st.Engine = newEngine(t, st.URL, store, svc, log)
	st.loadPolicy(t, id.issuer, id.clientID)

	cli := cliClientID
	if id.noCLI {
		cli = ""
	}
	cons, err := console.New(console.Config{Engine: st.Engine, Issuer: id.issuer, ClientID: id.clientID,
		ClientSecret: id.secret, Scopes: id.scopes, CLIClientID: cli, RedirectURL: st.URL + "/console/callback", SessionKey: make([]byte, console.KeySize),
		Logger: log.Named("console"), Now: st.now})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Exchanger: st.Engine, Inspector: st.Engine, Discovery: st.Engine, Status: st.Engine, Access: st.Engine, Logger: log.Named("http"), Console: cons.Handler(), ConsoleSettings: cons})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = st.recording(srv.Handler())
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() { st.scanForTokens(t) })
	return st
}

// loadPolicy makes bundleData, with the company IdP at people, the
// engine's policy.
func (st *stack) loadPolicy(t testing.TB, people, clientID string) {
	t.Helper()
	dir := t.TempDir()
	data := strings.NewReplacer("{{CI}}", st.CI.URL(), "{{PEOPLE}}", people, "{{CLIENT}}", clientID).Replace(bundleData)
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(context.Background(), []string{dir}, policy.Options{ServerIssuer: st.URL,
		AllowInsecureIssuers: true, Logger: st.log.Named("policy"), EvalTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st.Engine.SetPolicy(p)
}

func newEngine(t testing.TB, issuer string, store *state.Store, svc *access.Service, log *zap.Logger) *engine.Engine {
	t.Helper()
	key, err := mint.Generate(mint.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := mint.NewKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		Issuer:      issuer,
		Verifier:    verify.New(verify.Config{AllowInsecureIssuers: true, Logger: log.Named("verify"), Replay: store}),
		Keys:        ring,
		Revocations: store,
		Access:      svc,
		Logger:      log.Named("engine"),
		DecisionLog: log.Named("decisions"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// ciToken is a GitLab CI token of demo-group/demo-project on protected
// main: one the identity federates with.
func (st *stack) ciToken(t testing.TB) string {
	t.Helper()
	return st.CI.Mint(t, enginetest.GitLabClaims(st.CI.URL(), ciAudience))
}

// personToken is an ID token of the company IdP, as a login yields.
func (st *stack) personToken(t testing.TB, person map[string]any) string {
	t.Helper()
	c := map[string]any{"iss": st.People.URL(), "aud": clientID, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range person {
		c[k] = v
	}
	return st.People.Mint(t, c)
}

// request files a pending request from the pipeline through the JSON API
// (POST /v1/access/requests with the CI token as the bearer).
func (st *stack) request(t testing.TB) access.Request {
	t.Helper()
	body := `{"identity": "` + identity + `", "duration": "1h", "reason": "migrate the orders table", "ticket": "OPS-1234"}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, st.URL+"/v1/access/requests", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+st.ciToken(t))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r access.Request
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusCreated || r.State != access.StatePending {
		t.Fatalf("POST /v1/access/requests: %d, %s (%v)", resp.StatusCode, r.State, err)
	}
	return r
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each step can be checked.
func browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// tokenShaped finds anything shaped like a part of a JWT: base64url that
// opens a JSON object (eyJ, a header or payload), or a long base64url run
// (a signature). The console's own values cannot match: CSRF tokens are
// upper-case base32, request ids lower-case base32.
var tokenShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{16,}|[A-Za-z0-9_-]{200,}`)

func cookieJar() (http.CookieJar, error) { return cookiejar.New(nil) }

// state reads a request's state as the pipeline that asked sees it.
func (st *stack) state(t testing.TB, id string) access.State {
	t.Helper()
	r, err := st.Engine.AccessRequest(context.Background(), engine.AccessCall{Token: st.ciToken(t)}, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

// recording keeps every response next writes (its headers, Set-Cookie
// aside, and its body) for scanForTokens.
func (st *stack) recording(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		h := rec.Header().Clone()
		h.Del("Set-Cookie") // the sealed session: opaque, and meant to be long
		st.mu.Lock()
		defer st.mu.Unlock()
		st.served = append(st.served, fmt.Sprint(h), rec.Body.String())
	})
}

// scanForTokens fails the test when any page, header or log line holds
// something shaped like a token: the console's ID tokens and the
// pipelines' never leave the session cookie and the engine.
func (st *stack) scanForTokens(t testing.TB) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.served) == 0 {
		t.Error("scanForTokens: nothing was served, so nothing was scanned")
	}
	for _, s := range st.served {
		if m := tokenShaped.FindString(s); m != "" {
			t.Errorf("a response holds a token-shaped string %.40q…", m)
		}
	}
	for _, e := range st.Logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		if m := tokenShaped.FindString(line); m != "" {
			t.Errorf("log line %q holds a token-shaped string %.40q…", e.Message, m)
		}
	}
}
