package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// accessStack is serve with just-in-time access: a pipeline issuer
// (provider ci) and a people issuer (provider corp), and a just-in-time
// identity breakglass that prod-approvers approve.
type accessStack struct {
	url      string
	ci, corp *enginetest.Issuer
}

func startAccessStack(t *testing.T) *accessStack {
	t.Helper()
	return startAccessStackWith(t, stackOptions{})
}

// stackOptions adjust startAccessStackWith.
type stackOptions struct {
	extra      string // lines of serve config
	pendingTTL string // the identity's pending_ttl (default 24h)
	oneTimeUse bool   // provider ci accepts each token once
	// cliClient mounts the console with corp as its IdP and names client
	// "trustgate" (corp's audience, a public client there) for `trustgate
	// login`.
	cliClient bool
}

func startAccessStackWith(t *testing.T, o stackOptions) *accessStack {
	t.Helper()
	if o.pendingTTL == "" {
		o.pendingTTL = "24h"
	}
	s := &accessStack{ci: enginetest.NewIssuer(t), corp: enginetest.NewIssuer(t)}
	dir := t.TempDir()
	data := strings.NewReplacer("CI", s.ci.URL(), "CORP", s.corp.URL(), "PENDING", o.pendingTTL,
		"ONCE", fmt.Sprint(o.oneTimeUse)).Replace(`trustgate:
  providers:
    ci: {issuer: CI, platform: gitlab, audiences: [https://sts.example.com], one_time_use: ONCE}
    corp: {issuer: CORP, platform: generic, audiences: [trustgate]}
  identities:
    breakglass:
      roles: [db-admin]
      scopes: [read, write]
      audiences: [https://db.example.com]
      access: just-in-time
      jit:
        max_duration: 4h
        default_duration: 1h
        bind: ref
        pending_ttl: PENDING
        approvers:
          - provider: corp
            claims: {groups: prod-approvers}
      federations:
        - provider: ci
          claims: {ref_protected: "true"}
          refs: ["branch:main"]
`)
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.cliClient {
		s.corp.Login().AddPublicClient("trustgate")
		o.extra += fmt.Sprintf("\nconsole: {issuer: %s, client_id: trustgate-console, client_secret_file: %s, cli_client_id: trustgate}\n",
			s.corp.URL(), secretFile(t, "the-console-client-secret\n"))
	}
	addr := freeAddr(t)
	s.url, _ = startServeConfig(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nshutdown_grace: 5s\nlog: {level: error}\n%s",
		addr, addr, dir, o.extra))
	return s
}

// env holds a pipeline's and two people's ID tokens, as a job and a
// shell would.
func (s *accessStack) env(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"TRUSTGATE_URL": s.url,
		"CI_ID_TOKEN":   s.ci.Mint(t, enginetest.GitLabClaims(s.ci.URL(), "https://sts.example.com")),
		"ALICE_TOKEN":   s.corp.Mint(t, enginetest.PersonClaims(s.corp.URL(), "trustgate", "alice", "prod-approvers")),
		"MALLORY_TOKEN": s.corp.Mint(t, enginetest.PersonClaims(s.corp.URL(), "trustgate", "mallory", "sre")),
	}
}

var requestID = regexp.MustCompile(`request ([a-z2-7]{26}) for breakglass`)

// waitForPending returns the id of the request the approver sees pending.
func waitForPending(t *testing.T, env map[string]string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, out, errOut := runCLI(t, env, "access", "list", "--state", "pending", "--token-env", "ALICE_TOKEN")
		if code != exitOK {
			t.Fatalf("list: %d %s", code, errOut)
		}
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) == 2 {
			return strings.Fields(lines[1])[0]
		}
	}
	t.Fatal("no pending request appeared")
	return ""
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func runAsync(t *testing.T, env map[string]string, args ...string) <-chan cliResult {
	done := make(chan cliResult, 1)
	go func() {
		code, out, errOut := runCLI(t, env, args...)
		done <- cliResult{code, out, errOut}
	}()
	return done
}

func TestAccessRequestWaitsForApprovalThenPrintsTheTokenLikeExchange(t *testing.T) {
	s := startAccessStack(t)
	env := s.env(t)
	done := runAsync(t, env, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass",
		"--duration", "30m", "--reason", "incident 42", "--ticket", "INC-42", "--wait", "--poll", "1s", "--format", "env")
	id := waitForPending(t, env)

	code, out, errOut := runCLI(t, env, "access", "show", id, "--token-env", "ALICE_TOKEN")
	if code != exitOK || !regexp.MustCompile(`reason: +incident 42`).MatchString(out) || !strings.Contains(out, "requested by project_path:") {
		t.Fatalf("show: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "access", "approve", id, "--reason", "checked with on-call", "--token-env", "ALICE_TOKEN")
	if code != exitOK || !strings.HasPrefix(out, "request "+id+" for breakglass: approved") {
		t.Fatalf("approve: %d %s%s", code, out, errOut)
	}

	r := <-done
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "export TRUSTGATE_TOKEN=ey") {
		t.Fatalf("request --wait: %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	tok := strings.TrimPrefix(strings.SplitN(r.stdout, "\n", 2)[0], "export TRUSTGATE_TOKEN=")
	if !introspect(t, s.url, tok) {
		t.Fatal("the token printed is not active")
	}
	if m := requestID.FindStringSubmatch(r.stderr); m == nil || m[1] != id {
		t.Fatalf("stderr does not name request %s: %s", id, r.stderr)
	}
	for _, secret := range []string{env["CI_ID_TOKEN"], env["ALICE_TOKEN"]} {
		for _, part := range strings.Split(secret, ".") {
			if strings.Contains(r.stdout+r.stderr+out+errOut, part) {
				t.Fatal("a command printed part of an ID token")
			}
		}
	}

	code, out, errOut = runCLI(t, env, "access", "revoke", id, "--reason", "incident over", "--token-env", "ALICE_TOKEN")
	if code != exitOK || !strings.Contains(out, ": revoked") || introspect(t, s.url, tok) {
		t.Fatalf("revoke: %d %s%s", code, out, errOut)
	}
}

func TestAccessRequestThatIsDeniedIsOneLineAndExit1(t *testing.T) {
	s := startAccessStack(t)
	env := s.env(t)
	done := runAsync(t, env, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass",
		"--reason", "incident 42", "--wait", "--poll", "1s")
	id := waitForPending(t, env)
	if code, out, errOut := runCLI(t, env, "access", "deny", id, "--reason", "not now", "--token-env", "ALICE_TOKEN"); code != exitOK {
		t.Fatalf("deny: %d %s%s", code, out, errOut)
	}
	r := <-done
	want := fmt.Sprintf("trustgate access request: request %s is denied\n", id)
	if r.code != exitFail || r.stdout != "" || !strings.HasSuffix(r.stderr, want) {
		t.Fatalf("denied: %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestAccessRequestThatTimesOutIsCancelled(t *testing.T) {
	s := startAccessStack(t)
	env := s.env(t)
	code, out, errOut := runCLI(t, env, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass",
		"--reason", "incident 42", "--wait", "--poll", "1s", "--timeout", "2s")
	if code != exitFail || out != "" || !strings.Contains(errOut, "stopped waiting") {
		t.Fatalf("timed out: %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	m := requestID.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("no request id in %q", errOut)
	}
	if code, out, errOut := runCLI(t, env, "access", "show", m[1], "--token-env", "CI_ID_TOKEN", "--format", "json"); code != exitOK || !strings.Contains(out, `"state": "cancelled"`) {
		t.Fatalf("the request after the timeout: %d %s%s", code, out, errOut)
	}
}

func TestAccessCommandsRefuseWithTheOAuthErrorCode(t *testing.T) {
	s := startAccessStack(t)
	env := s.env(t)
	code, out, _ := runCLI(t, env, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass", "--reason", "x")
	if code != exitOK || len(strings.TrimSpace(out)) != 26 {
		t.Fatalf("request: %d %q", code, out)
	}
	id := strings.TrimSpace(out)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"A non-approver's approval is not_found: the request is not theirs to see.",
			[]string{"approve", id, "--reason", "ok", "--token-env", "MALLORY_TOKEN"}, exitFail, "trustgate access approve: not_found: no such access request; decision id "},
		{"A duration over max_duration is access_denied.",
			[]string{"request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass", "--reason", "x", "--duration", "5h"}, exitFail, "trustgate access request: access_denied: refused by policy; decision id "},
		{"A pipeline may not approve its own request.",
			[]string{"approve", id, "--reason", "ok", "--token-env", "CI_ID_TOKEN"}, exitFail, "trustgate access approve: "},
		{"An empty token variable is named.",
			[]string{"list", "--token-env", "NO_SUCH_VAR"}, exitFail, "environment variable NO_SUCH_VAR is empty or not set"},
		{"Approving without a reason is a usage error.",
			[]string{"approve", id, "--token-env", "ALICE_TOKEN"}, exitUsage, "trustgate access approve: --reason is required\n"},
		{"Showing a request in an unknown format is a usage error.",
			[]string{"show", id, "--format", "xml", "--token-env", "ALICE_TOKEN"}, exitUsage, "trustgate access show: --format must be text or json, not \"xml\"\n"},
		{"A verdict without an id is a usage error.",
			[]string{"deny", "--reason", "no", "--token-env", "ALICE_TOKEN"}, exitUsage, "a request id is required"},
		{"A request without a reason is a usage error.",
			[]string{"request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass"}, exitUsage, "--reason is required"},
		{"An unknown subcommand is a usage error.", []string{"grant"}, exitUsage, `unknown command "grant"`},
		{"A --url with user info is a usage error.",
			[]string{"list", "--url", "https://u:pw@sts.example.com", "--token-env", "ALICE_TOKEN"}, exitUsage, "--url: must not carry user info"},
		{"A plain http --url to another host is a usage error.",
			[]string{"list", "--url", "http://sts.example.com", "--token-env", "ALICE_TOKEN"}, exitUsage, "--url: http is allowed only on a loopback host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, env, append([]string{"access"}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tc.code, tc.want)
			}
			if tc.code == exitFail && strings.Count(errOut, "\n") != 1 {
				t.Fatalf("want one line, got %q", errOut)
			}
		})
	}
}

func TestServeNotifiesTheTargetsOfAJustInTimeEvent(t *testing.T) {
	got := make(chan string, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	t.Cleanup(receiver.Close)
	urlFile := filepath.Join(t.TempDir(), "slack-url")
	if err := os.WriteFile(urlFile, []byte(receiver.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startAccessStackWith(t, stackOptions{extra: "notifications: [{url_file: " + urlFile + ", format: slack, events: [requested]}]\n"})
	env := s.env(t)
	code, out, errOut := runCLI(t, env, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass", "--reason", "incident 42")
	if code != exitOK {
		t.Fatalf("request: %d %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	select {
	case body := <-got:
		if !strings.Contains(body, id) || !strings.Contains(body, "breakglass") {
			t.Fatalf("the webhook body does not name request %s: %s", id, body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no notification within 20s of the request")
	}
}

func TestServeExpiresALapsedRequestInTheBackground(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{pendingTTL: "1s"})
	env := s.env(t)
	code, out, errOut := runCLI(t, env, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass", "--reason", "incident 42")
	if code != exitOK {
		t.Fatalf("request: %d %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	for deadline := time.Now().Add(4 * expiryInterval); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, out, errOut := runCLI(t, env, "access", "show", id, "--token-env", "ALICE_TOKEN")
		if code != exitOK {
			t.Fatalf("show: %d %s", code, errOut)
		}
		if regexp.MustCompile(`(?m)^state: +expired$`).MatchString(out) && regexp.MustCompile(`expired by trustgate`).MatchString(out) {
			return
		}
	}
	t.Fatalf("request %s was not expired within %s of lapsing", id, 4*expiryInterval)
}

func TestAccessRequestOnGitHubActionsFetchesAFreshIDTokenForEveryCall(t *testing.T) {
	// One-time use: a token read once and reused for the polls and the
	// exchange would be refused as a replay.
	s := startAccessStackWith(t, stackOptions{oneTimeUse: true})
	var fetched atomic.Int64
	actions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		if r.Header.Get("Authorization") != "bearer request-secret" || r.URL.Query().Get("audience") != "https://sts.example.com" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": s.ci.Mint(t, enginetest.GitLabClaims(s.ci.URL(), "https://sts.example.com"))})
	}))
	t.Cleanup(actions.Close)
	env := s.env(t)
	env["ACTIONS_ID_TOKEN_REQUEST_URL"] = actions.URL + "/token?api-version=2.0"
	env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "request-secret"
	done := runAsync(t, env, "access", "request", "--github-audience", "https://sts.example.com", "--identity", "breakglass",
		"--reason", "incident 42", "--wait", "--poll", "1s")
	id := waitForPending(t, env)
	if code, out, errOut := runCLI(t, env, "access", "approve", id, "--reason", "ok", "--token-env", "ALICE_TOKEN"); code != exitOK {
		t.Fatalf("approve: %d %s%s", code, out, errOut)
	}
	r := <-done
	if r.code != exitOK || !isCompactJWS(strings.TrimSpace(r.stdout)) {
		t.Fatalf("request --wait: %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if n := fetched.Load(); n < 3 {
		t.Fatalf("fetched %d ID tokens; want one per call (request, polls, exchange)", n)
	}
}
