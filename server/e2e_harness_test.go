package server_test

// The end-to-end harness: newTestServer builds the whole service over real
// HTTP on loopback, like dex's newTestServerWith. Every test of this
// package that needs the real engine starts from it; what a test needs
// differently it says in Options.

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
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
)

// sourceAudience is the `aud` the test bundles' providers accept.
const sourceAudience = "https://sts.example.com"

// Options adjust what newTestServer builds.
type Options struct {
	// Server adjusts the server configuration; Exchanger, Inspector,
	// Discovery, Status, Access, Logger and Registerer are already set.
	Server func(*server.Config)
	// Engine adjusts the engine configuration; Issuer, Verifier, Keys,
	// Logger and Metrics are already set.
	Engine func(*engine.Config)
	// NoPolicy starts the engine without loading the bundle.
	NoPolicy bool
	// NoAccess starts the engine without just-in-time access (the server
	// still routes /v1/access/, and answers 404 there).
	NoAccess bool
	// Quiet keeps only Warn and Error lines in Logs (benchmarks).
	Quiet bool
	// StateURL is the state store's database (default memory:).
	StateURL string
	// Data rewrites the example bundle's data.yaml (after the test
	// issuers' URLs are in it).
	Data func(string) string
	// Bundle, when set, is the data.yaml of a one-file bundle used instead
	// of the example bundle; it may name the test issuers' URLs.
	Bundle func(ts *testServer) string
	// Watch loads the bundle with a policy.Watcher, as `serve` does, so
	// that a test may edit files in ts.Bundle; each load and each refused
	// reload is sent on ts.Loaded or ts.Refused.
	Watch bool
}

// testServer is the whole service over real HTTP on loopback: four real
// OIDC issuers (GitLab.com, a self-hosted GitLab, GitHub Actions, the
// company IdP), the example bundle with their URLs, the real engine with
// real keys and a real state store, and the server's handler in an
// httptest server.
type testServer struct {
	URL        string
	Server     *server.Server
	Engine     *engine.Engine
	GitLab     *enginetest.Issuer // provider gitlab
	GitLabSelf *enginetest.Issuer // provider gitlab-self
	GitHub     *enginetest.Issuer // provider github
	Corp       *enginetest.Issuer // provider corp: people's ID tokens
	Bundle     string
	Logs       *observer.ObservedLogs
	Registry   *prometheus.Registry
	Client     *http.Client
	State      *state.Store  // replay, revocation, just-in-time access
	Loaded     chan struct{} // with Options.Watch: a (re)load took effect
	Refused    chan error    // with Options.Watch: a reload was refused

	jwksOnce sync.Once
	jwks     jose.JSONWebKeySet
}

// newTestServer builds the real stack: opt may adjust it (nil: defaults).
func newTestServer(t testing.TB, opt func(*Options)) *testServer {
	t.Helper()
	var o Options
	if opt != nil {
		opt(&o)
	}
	ts := &testServer{
		GitLab:     enginetest.NewIssuer(t),
		GitLabSelf: enginetest.NewIssuer(t),
		GitHub:     enginetest.NewIssuer(t),
		Corp:       enginetest.NewIssuer(t),
		Bundle:     t.TempDir(),
		Registry:   prometheus.NewRegistry(),
	}
	if o.Bundle != nil {
		mustWrite(t, filepath.Join(ts.Bundle, "data.yaml"), o.Bundle(ts))
	} else {
		ts.writeExampleBundle(t, o.Data)
	}
	level := zapcore.DebugLevel
	if o.Quiet {
		level = zapcore.WarnLevel
	}
	core, logs := observer.New(level)
	log := zap.New(core)
	ts.Logs = logs
	hs := httptest.NewUnstartedServer(nil)
	ts.URL = "http://" + hs.Listener.Addr().String()
	ts.startEngine(t, o, log)
	if o.Watch {
		ts.watchPolicy(t, log)
	} else if !o.NoPolicy {
		p, err := policy.Load(context.Background(), []string{ts.Bundle}, ts.policyOptions(log))
		if err != nil {
			t.Fatal(err)
		}
		ts.Engine.SetPolicy(p)
	}
	ts.startServer(t, hs, o, log)
	return ts
}

// startEngine opens the state store and builds the engine on it with a
// new signing key.
func (ts *testServer) startEngine(t testing.TB, o Options, log *zap.Logger) {
	t.Helper()
	ring, err := mint.NewKeyRing(mustGenerate(t))
	if err != nil {
		t.Fatal(err)
	}
	metrics := engine.NewMetrics(ts.Registry)
	ts.State, err = state.Open(context.Background(), cmp.Or(o.StateURL, "memory:"), state.Options{Registerer: ts.Registry, Logger: log.Named("state")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.State.Close() })
	ecfg := engine.Config{
		Issuer:      ts.URL,
		Verifier:    verify.New(verify.Config{AllowInsecureIssuers: true, Logger: log.Named("verify"), Observer: metrics, Replay: ts.State}),
		Keys:        ring,
		Revocations: ts.State,
		Logger:      log.Named("engine"),
		Metrics:     metrics,
	}
	if o.Engine != nil {
		o.Engine(&ecfg)
	}
	if ecfg.Access == nil && !o.NoAccess {
		ecfg.Access, err = access.New(access.Config{Store: ts.State, Record: engine.AccessRecorder(log.Named("decisions")),
			Logger: log.Named("access"), Now: ecfg.Now})
		if err != nil {
			t.Fatal(err)
		}
	}
	ts.Engine, err = engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
}

func mustGenerate(t testing.TB) mint.Key {
	t.Helper()
	key, err := mint.Generate(mint.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// policyOptions are the options `serve` would load ts.Bundle with. The
// evaluation deadline is the production guard against a runaway policy; on
// a loaded 2-core machine under -race a healthy evaluation can take longer
// than its 100ms default, and these tests are about HTTP, not CPU
// starvation.
func (ts *testServer) policyOptions(log *zap.Logger) policy.Options {
	return policy.Options{ServerIssuer: ts.URL, AllowInsecureIssuers: true, Logger: log.Named("policy"), EvalTimeout: 10 * time.Second}
}

// watchPolicy runs a policy.Watcher on ts.Bundle until the test ends and
// waits for its first load.
func (ts *testServer) watchPolicy(t testing.TB, log *zap.Logger) {
	t.Helper()
	ts.Loaded, ts.Refused = make(chan struct{}, 100), make(chan error, 100)
	w, err := policy.NewWatcher([]string{ts.Bundle}, ts.policyOptions(log),
		func(p *policy.Policy) { ts.Engine.SetPolicy(p); ts.Loaded <- struct{}{} },
		func(err error) { ts.Engine.PolicyFailed(err); ts.Refused <- err })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select { // Run loads once at start
	case <-ts.Loaded:
	case err := <-ts.Refused:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher's first load was not seen")
	}
}

// startServer builds the server on the engine and starts hs with it.
func (ts *testServer) startServer(t testing.TB, hs *httptest.Server, o Options, log *zap.Logger) {
	t.Helper()
	scfg := server.Config{Exchanger: ts.Engine, Inspector: ts.Engine, Discovery: ts.Engine, Status: ts.Engine,
		Access: ts.Engine, Logger: log.Named("http"), Registerer: ts.Registry}
	if o.Server != nil {
		o.Server(&scfg)
	}
	var err error
	ts.Server, err = server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config = ts.Server.HTTPServer("")
	hs.Start()
	t.Cleanup(hs.Close)
	ts.Client = hs.Client()
}

// writeExampleBundle copies bundles/example into ts.Bundle with the test
// issuers in place of gitlab.com, gitlab.example.com, GitHub's issuer and
// the company IdP, then rewritten by patch (nil: none).
func (ts *testServer) writeExampleBundle(t testing.TB, patch func(string) string) {
	t.Helper()
	data := readRepoFile(t, "bundles/example/data.yaml")
	for _, r := range []struct{ old, new string }{
		{"issuer: https://gitlab.com\n", "issuer: " + ts.GitLab.URL() + "\n"},
		{"issuer: https://gitlab.example.com\n", "issuer: " + ts.GitLabSelf.URL() + "\n"},
		{"jwks_url: https://gitlab.example.com/oauth/discovery/keys\n", "jwks_url: " + ts.GitLabSelf.JWKSURL() + "\n"},
		{"issuer: https://token.actions.githubusercontent.com\n", "issuer: " + ts.GitHub.URL() + "\n"},
		{"issuer: https://login.example.com\n", "issuer: " + ts.Corp.URL() + "\n"},
	} {
		if strings.Count(data, r.old) != 1 {
			t.Fatalf("bundles/example/data.yaml no longer has exactly one %q", strings.TrimSpace(r.old))
		}
		data = strings.Replace(data, r.old, r.new, 1)
	}
	if patch != nil {
		data = patch(data)
	}
	mustWrite(t, filepath.Join(ts.Bundle, "data.yaml"), data)
	mustWrite(t, filepath.Join(ts.Bundle, "custom.rego"), readRepoFile(t, "bundles/example/custom.rego"))
}

func readRepoFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
