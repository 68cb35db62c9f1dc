package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// pg is this package's PostgreSQL cluster.
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// oneTimeUseGitHub makes the example bundle's github provider one-time-use;
// gitlab stays a provider that needs no state.
func oneTimeUseGitHub(t *testing.T, o *Options) {
	o.Data = func(data string) string {
		if strings.Count(data, "platform: github\n") != 1 {
			t.Fatal("bundles/example/data.yaml no longer has exactly one github provider")
		}
		return strings.Replace(data, "platform: github\n", "platform: github\n      one_time_use: true\n", 1)
	}
}

func (ts *testServer) introspect(t *testing.T, token string) response {
	t.Helper()
	return ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
}

func (ts *testServer) revoke(t *testing.T, token string) response {
	t.Helper()
	return ts.post(t, "/oauth2/revoke", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
}

// issue exchanges a GitLab token (no state needed) for an access token.
func (ts *testServer) issue(t *testing.T) string {
	t.Helper()
	r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil), "identity", "gitlab-ci-deploy")
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || tok == "" {
		t.Fatalf("a plain exchange: %d %s", r.status, ts.explain(r))
	}
	return tok
}

// wantStateUnavailable: 503 temporarily_unavailable with Retry-After, and
// neither a token nor "active" in the body.
func wantStateUnavailable(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") != "5" {
		t.Fatalf("%s with the store down: %d, Retry-After %q, %s; want 503 temporarily_unavailable, Retry-After 5",
			what, r.status, r.header.Get("Retry-After"), r.raw)
	}
	if _, ok := r.body["access_token"]; ok {
		t.Fatalf("%s with the store down gave a token", what)
	}
	if _, ok := r.body["active"]; ok {
		t.Fatalf("%s with the store down said active: %s", what, r.raw)
	}
}

// checkStoreDown: what needs state fails closed; the rest keeps working.
func checkStoreDown(t *testing.T, ts *testServer, live string) {
	t.Helper()
	ts.issue(t) // plain exchanges keep working
	wantStateUnavailable(t, "a one-time-use exchange",
		ts.exchange(t, githubToken(t, ts.GitHub, map[string]any{"jti": "down-1"}), "identity", "github-release"))
	wantStateUnavailable(t, "introspection", ts.introspect(t, live))
	wantStateUnavailable(t, "whoami", ts.get(t, "/v1/whoami", "Authorization", "Bearer "+live))
	wantStateUnavailable(t, "revocation", ts.revoke(t, live))
	if r := ts.get(t, "/readyz"); r.status != http.StatusOK {
		t.Fatalf("/readyz with the store down: %d, want 200 (a database outage must not empty the load balancer)", r.status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/metrics", nil)
	resp, err := ts.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `trustgate_state_errors_total{operation="replay_use"}`) {
		t.Fatal("/metrics does not count the store's errors")
	}
}

// checkStoreUp: what needs state works again.
func checkStoreUp(t *testing.T, ts *testServer, live string) {
	t.Helper()
	if r := ts.introspect(t, live); r.status != http.StatusOK || r.body["active"] != true {
		t.Fatalf("introspection once the store is back: %d %s", r.status, r.raw)
	}
	r := ts.exchange(t, githubToken(t, ts.GitHub, map[string]any{"jti": "up-1"}), "identity", "github-release")
	if r.status != http.StatusOK {
		t.Fatalf("a one-time-use exchange once the store is back: %d %s", r.status, ts.explain(r))
	}
	if r := ts.revoke(t, live); r.status != http.StatusOK {
		t.Fatalf("revocation once the store is back: %d %s", r.status, r.raw)
	}
	if r := ts.introspect(t, live); r.status != http.StatusOK || r.body["active"] != false {
		t.Fatalf("introspection of the revoked token: %d %s", r.status, r.raw)
	}
}

func TestAClosedStoreGives503WhereStateIsNeededAnd200Elsewhere(t *testing.T) {
	ts := newTestServer(t, func(o *Options) {
		o.StateURL = "sqlite:" + filepath.Join(t.TempDir(), "state.db")
		oneTimeUseGitHub(t, o)
	})
	live := ts.issue(t)
	if err := ts.State.Close(); err != nil {
		t.Fatal(err)
	}
	checkStoreDown(t, ts, live)
}

func TestAStoppedPostgreSQLGives503sAndEverythingRecoversWhenItIsBack(t *testing.T) {
	c := pg.Require(t)
	ts := newTestServer(t, func(o *Options) {
		o.StateURL = c.NewDatabase(t)
		oneTimeUseGitHub(t, o)
	})
	live := ts.issue(t)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	running := false
	t.Cleanup(func() {
		if !running {
			_ = c.Start()
		}
	})
	checkStoreDown(t, ts, live)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	running = true
	// The pool's old connections fail once each; then the store is back.
	for i := 0; ts.introspect(t, live).status != http.StatusOK; i++ {
		if i == 100 {
			t.Fatal("introspection did not recover within 10s of PostgreSQL starting")
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkStoreUp(t, ts, live)
	checkOutageLogged(t, ts, c.Password())
}

// checkOutageLogged: the store's outage is one error line naming the
// backend, without its password, with the first error, and one line when it
// was back; no request it refused is an error line of its own.
func checkOutageLogged(t *testing.T, ts *testServer, password string) {
	t.Helper()
	down := ts.Logs.FilterMessage("state store unreachable").AllUntimed()
	if len(down) != 1 || down[0].Level != zap.ErrorLevel {
		t.Fatalf("%d lines saying the store is unreachable, want one error line: %v", len(down), down)
	}
	f := down[0].ContextMap()
	if f["backend"] != "postgres" || !strings.HasPrefix(fmt.Sprint(f["url"]), "postgres://") || f["error"] == "" {
		t.Errorf("the outage's first line does not name the backend, its URL and the error: %v", f)
	}
	back := ts.Logs.FilterMessage("state store reachable again").AllUntimed()
	if len(back) != 1 || back[0].ContextMap()["outage"] == nil {
		t.Errorf("the end of the outage: %v, want one line with its length", back)
	}
	if n := ts.Logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d error lines for one outage, want 1: %v", n, ts.Logs.FilterLevelExact(zap.ErrorLevel).AllUntimed())
	}
	for _, e := range ts.Logs.AllUntimed() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), password) {
			t.Fatalf("a log line shows the database password: %s %v", e.Message, e.ContextMap())
		}
	}
}
