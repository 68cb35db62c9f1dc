package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/enginetest"
)

const testIssuerURLPlaceholder = "ISSUER"

// testBundle writes a bundle trusting iss into a temp dir.
func testBundle(t *testing.T, iss, aud string) string {
	t.Helper()
	dir := t.TempDir()
	data := strings.NewReplacer(testIssuerURLPlaceholder, iss, "AUD", aud).Replace(`trustgate:
  providers:
    ci:
      issuer: ISSUER
      platform: gitlab
      audiences: [AUD]
  identities:
    deploy:
      email: deploy@workload.example.com
      roles: [deployer]
      scopes: [read, write]
      audiences: [https://api.example.com]
      federations:
        - provider: ci
          claims:
            ref_protected: "true"
          refs: ["branch:main"]
`)
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startServe runs `trustgate serve --config` in-process until the test
// ends, and returns its base URL and a function that stops it and returns
// its exit code.
func startServe(t *testing.T, bundle string) (string, func() int) {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr
	return startServeConfig(t, fmt.Sprintf("issuer: %s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nshutdown_grace: 5s\nlog: {level: error}\n", base, addr, bundle))
}

// startServeConfig runs serve with the config text cfg, whose issuer is
// http://listen; a cfg without `state` keeps its state in a temp dir.
func startServeConfig(t *testing.T, cfg string) (string, func() int) {
	t.Helper()
	return startServeLogs(t, cfg, &bytes.Buffer{})
}

// startServeLogs is startServeConfig writing serve's stderr to stderr,
// which may be read once stop has returned.
func startServeLogs(t *testing.T, cfg string, stderr *bytes.Buffer) (string, func() int) {
	t.Helper()
	if !strings.Contains(cfg, "\nstate:") {
		cfg += "\nstate: {url: \"sqlite:" + filepath.Join(t.TempDir(), "state.db") + "\"}\n"
	}
	return startServeRaw(t, cfg, stderr)
}

// startServeRaw runs serve with the config text cfg as it is, but for
// shutdown_delay: 0s when cfg does not set it (see withoutShutdownDelay).
func startServeRaw(t *testing.T, cfg string, stderr *bytes.Buffer) (string, func() int) {
	t.Helper()
	cfg = withoutShutdownDelay(cfg)
	c, err := config.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	base := c.Issuer
	path := filepath.Join(t.TempDir(), "trustgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServing(t, base, stderr, func(ctx context.Context) int {
		return run(ctx, []string{"serve", "--config", path}, environ{lookup: func(string) (string, bool) { return "", false }},
			strings.NewReader(""), &bytes.Buffer{}, stderr)
	})
}

// startServing runs serveFn, a serve at base writing its log to stderr,
// until it is ready, and returns base and a function that stops it (as the
// test ends, at the latest) and returns its exit code.
func startServing(t *testing.T, base string, stderr *bytes.Buffer, serveFn func(context.Context) int) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- serveFn(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := enginetest.Get(t, nil, base+"/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server not ready: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop within 10s of the stop signal")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return base, stop
}

// withoutShutdownDelay is cfg with shutdown_delay: 0s unless it sets the
// key: a test that does not test stopping need not wait the 5s default
// that load balancers need.
func withoutShutdownDelay(cfg string) string {
	if strings.Contains(cfg, "shutdown_delay:") {
		return cfg
	}
	return cfg + "\nshutdown_delay: 0s\n"
}

func base64RawURL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, environ{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExchangeCommandWithAGitLabTokenVariable(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	bundle := testBundle(t, iss.URL(), "https://sts.example.com")
	url, _ := startServe(t, bundle)
	// The provider's audience is the server's issuer URL by default.
	claims := enginetest.GitLabClaims(iss.URL(), "https://sts.example.com")
	good := iss.Mint(t, claims)

	code, out, errOut := runCLI(t, map[string]string{"CI_ID": good}, "exchange", "--url", url, "--token-env", "CI_ID", "--format", "env")
	if code != 0 || !strings.HasPrefix(out, "export TRUSTGATE_TOKEN=ey") || !strings.Contains(out, "TRUSTGATE_TOKEN_EXPIRES_IN=") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	claims["ref_protected"] = "false"
	bad := iss.Mint(t, claims)
	code, out, errOut = runCLI(t, map[string]string{"CI_ID": bad}, "exchange", "--url", url, "--token-env", "CI_ID")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "trustgate exchange: invalid_request: ") ||
		!strings.Contains(errOut, "decision id") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("a refusal: exit %d, stdout %q, stderr %q; want one line naming the OAuth error", code, out, errOut)
	}
	if strings.Contains(errOut, strings.Split(bad, ".")[1]) {
		t.Fatal("the refusal echoes the token")
	}
}

func TestExchangeCommandFetchesTheGitHubActionsToken(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	bundle := testBundle(t, iss.URL(), "https://sts.example.com")
	url, _ := startServe(t, bundle)
	claims := enginetest.GitLabClaims(iss.URL(), "https://sts.example.com")
	idToken := iss.Mint(t, claims)
	var gotAudience, gotAuth string
	actions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAudience, gotAuth = r.URL.Query().Get("audience"), r.Header.Get("Authorization")
		_ = json.NewEncoder(w).Encode(map[string]string{"value": idToken})
	}))
	defer actions.Close()
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   actions.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-secret",
	}
	code, out, errOut := runCLI(t, env, "exchange", "--url", url, "--github-audience", "https://sts.example.com", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp["token_type"] != "Bearer" {
		t.Fatalf("output %q is not the token response", out)
	}
	if gotAudience != "https://sts.example.com" || gotAuth != "bearer request-secret" {
		t.Fatalf("GitHub request had audience %q and authorization %q", gotAudience, gotAuth)
	}
}

func TestAnUnreachableGitHubTokenEndpointIsNotNamedWithItsQuery(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   gone.URL + "/token?api-version=2.0&sig=s3cret",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-secret",
	}
	code, out, errOut := runCLI(t, env, "exchange", "--url", "https://sts.example.com")
	if code != exitFail || out != "" || !strings.HasPrefix(errOut, "trustgate exchange: GitHub ID token request: ") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and the request's failure", code, out, errOut, exitFail)
	}
	if strings.Contains(errOut, "s3cret") || strings.Contains(errOut, "request-secret") {
		t.Fatalf("the failure names the request URL's query or its token: %q", errOut)
	}
}

func TestExchangeCommandRefusesBadUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
	}{
		{"no URL", []string{"exchange", "--token-env", "X"}, nil, exitUsage},
		{"a plain http URL to another host", []string{"exchange", "--url", "http://sts.example.com", "--token-env", "X"}, nil, exitUsage},
		{"a URL with a user and password", []string{"exchange", "--url", "https://u:s3cret@sts.example.com", "--token-env", "X"}, nil, exitUsage},
		{"a URL with a query", []string{"exchange", "--url", "https://sts.example.com/?s3cret=1", "--token-env", "X"}, nil, exitUsage},
		{"a URL with a fragment", []string{"exchange", "--url", "https://sts.example.com/#s3cret", "--token-env", "X"}, nil, exitUsage},
		{"a URL without a host", []string{"exchange", "--url", "https:s3cret", "--token-env", "X"}, nil, exitUsage},
		{"an empty token variable", []string{"exchange", "--url", "https://sts.example.com", "--token-env", "X"}, nil, exitFail},
		{"no token source at all", []string{"exchange", "--url", "https://sts.example.com"}, nil, exitFail},
		{"an unknown format", []string{"exchange", "--url", "https://sts.example.com", "--format", "xml"}, nil, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d", code, tc.code)
			}
			if strings.Contains(out+errOut, "s3cret") {
				t.Fatalf("the CLI repeated part of the URL: %q %q", out, errOut)
			}
		})
	}
}

func TestServeStopsCleanlyOnTheStopSignal(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	_, stop := startServe(t, testBundle(t, iss.URL(), "https://sts.example.com"))
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d after the stop signal, want 0", code)
	}
}

func TestServeKeepsServingForShutdownDelayAfterTheStopSignalThenStops(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	addr := freeAddr(t)
	base := "http://" + addr
	const delay = 1500 * time.Millisecond
	_, stop := startServeConfig(t, fmt.Sprintf("issuer: %s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\n"+
		"shutdown_delay: %s\nshutdown_grace: 5s\nlog: {level: error}\n", base, addr, testBundle(t, iss.URL(), "https://sts.example.com"), delay))
	token := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com"))
	signalled := time.Now()
	code := make(chan int, 1)
	go func() { code <- stop() }()
	eventually(t, func() string {
		if got := status(t, base+"/readyz"); got != http.StatusServiceUnavailable {
			return fmt.Sprintf("/readyz after the stop signal: %d, want 503", got)
		}
		return ""
	})
	resp, err := httpPostForm(t, base+"/oauth2/token", exchangeValues(token))
	if err != nil {
		t.Fatalf("an exchange within shutdown_delay of the stop signal: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("an exchange within shutdown_delay: %d, Connection: close %v; want 200 and the connection closed", resp.StatusCode, resp.Close)
	}
	if time.Since(signalled) >= delay {
		t.Fatalf("the checks took %s, longer than shutdown_delay %s: slow machine, nothing shown", time.Since(signalled), delay)
	}
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d, want 0", c)
	}
	if took := time.Since(signalled); took < delay {
		t.Fatalf("serve stopped %s after the signal, before shutdown_delay %s", took, delay)
	}
	if resp, err := httpPostForm(t, base+"/oauth2/token", exchangeValues(token)); err == nil {
		resp.Body.Close()
		t.Fatal("the listener still accepts after the stop")
	}
}

func TestServeRefusesABadConfigWithEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(path, []byte("issuer: http://x.example.com\nbundles: []\nsigning: {algorithm: HS256}\n"), 0o600)
	code, _, errOut := runCLI(t, nil, "serve", "--config", path)
	if code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	for _, key := range []string{"issuer:", "bundles:", "signing.algorithm:"} {
		if !strings.Contains(errOut, key) {
			t.Errorf("stderr does not name %s:\n%s", key, errOut)
		}
	}
}

func TestKeysGenerateWritesAnOwnerOnlyKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	code, out, errOut := runCLI(t, nil, "keys", "generate", "--algorithm", "EdDSA", "--out", path)
	if code != 0 || !strings.Contains(out, "EdDSA") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (err %v), want 0600", st.Mode().Perm(), err)
	}
	if code, _, _ := runCLI(t, nil, "keys", "generate", "--out", path); code == 0 {
		t.Fatal("keys generate overwrote an existing key")
	}
}

func TestExplainSaysWhyFederationByFederation(t *testing.T) {
	claims := filepath.Join(t.TempDir(), "claims.json")
	_ = os.WriteFile(claims, []byte(`{"iss": "https://gitlab.com", "sub": "project_path:my-group/app:ref_type:branch:ref:feature",
		"namespace_path": "my-group", "project_path": "my-group/app", "ref": "feature", "ref_type": "branch", "ref_protected": "false"}`), 0o600)
	code, out, errOut := runCLI(t, nil, "explain", "--bundle", "../../bundles/example", "--claims", claims,
		"--identity", "gitlab-ci-deploy", "--now", "2026-11-23T10:00:00Z")
	if code != explainDenied {
		t.Fatalf("exit %d, want %d (denied): %s", code, explainDenied, errOut)
	}
	for _, want := range []string{"decision: DENIED", "ref `branch:feature` is not one of branch:main, tag:v*", "claim `ref_protected` is `false`, not true", "signature was not checked"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	_ = os.WriteFile(claims, []byte(`{"iss": "https://gitlab.com", "sub": "project_path:my-group/app:ref_type:branch:ref:main",
		"namespace_path": "my-group", "project_path": "my-group/app", "ref": "main", "ref_type": "branch", "ref_protected": "true"}`), 0o600)
	if code, out, _ := runCLI(t, nil, "explain", "--bundle", "../../bundles/example", "--claims", claims, "--format", "json"); code != explainAllowed || !strings.Contains(out, `"allow": true`) {
		t.Fatalf("exit %d, output %s; want allowed", code, out)
	}
}

func TestCheckReportsBundleProblemsWithFileAndKey(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(`trustgate:
  providers:
    gl: {issuer: https://gitlab.com, platform: gitlab, max_token_lifetime: forever}
  identities:
    a:
      federations:
        - provider: gitlb
          claims: {project_path: "a/[b"}
    b: {roles: [x]}
`), 0o600)
	code, out, _ := runCLI(t, nil, "check", dir)
	if code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	for _, want := range []string{
		"trustgate.providers.gl.max_token_lifetime",
		`trustgate.identities.a.federations[0].provider: unknown provider "gitlb"`,
		"trustgate.identities.a.federations[0].claims.project_path: invalid pattern",
		"trustgate.identities.b.federations: an identity with no federations",
		"data.yaml",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := runCLI(t, nil, "check", "--allow-insecure-issuers", "../../bundles/example"); code != 0 {
		t.Fatalf("the example bundle fails check: %s", out)
	}
}

func TestTestCommandFailsOnATestThatRaisesAnError(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "e_test.rego"), []byte("package t_test\n\ntest_err if {\n\tx := \"a\"\n\tglob.match(\"[\", [\"/\"], x)\n}\n"), 0o600)
	if code, out, _ := runCLI(t, nil, "test", dir); code != exitFail {
		t.Fatalf("exit %d for a test raising a builtin error, want %d:\n%s", code, exitFail, out)
	}
}

func TestServeUploadsItsLastDecisionsBeforeItStops(t *testing.T) {
	var mu sync.Mutex
	var uploaded []byte
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(zr)
		mu.Lock()
		uploaded = append(uploaded, b...)
		mu.Unlock()
	}))
	defer sink.Close()
	iss := enginetest.NewIssuer(t)
	addr := freeAddr(t)
	base, stop := startServeConfig(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\n"+
		"allow_insecure_issuers: true\nshutdown_grace: 5s\nlog: {level: error, decision_log_url: %s}\n",
		addr, addr, testBundle(t, iss.URL(), "http://"+addr), sink.URL))
	token := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), base))
	if code, _, errOut := runCLI(t, map[string]string{"CI_ID": token}, "exchange", "--url", base, "--token-env", "CI_ID"); code != 0 {
		t.Fatalf("exchange: exit %d: %s", code, errOut)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	// The flush interval (5s) has not passed: only the stop can have sent it.
	if !strings.Contains(string(uploaded), `"result":"issued"`) {
		t.Fatalf("the sink got %q, want the issued decision uploaded when serve stopped", uploaded)
	}
}

func TestExchangeCommandPrintsNothingButAWellFormedToken(t *testing.T) {
	for name, body := range map[string]string{
		"a token with shell syntax in it": `{"access_token":"a.b.c$(touch /tmp/x);","token_type":"Bearer","expires_in":60}`,
		"a token with a newline in it":    `{"access_token":"a.b.c\nexport PATH=/tmp","token_type":"Bearer","expires_in":60}`,
		"no access_token":                 `{"token_type":"Bearer","expires_in":60}`,
		"a body that is not JSON":         `<html>ok</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, body)
			}))
			defer sts.Close()
			code, out, errOut := runCLI(t, map[string]string{"CI_ID": "e30.e30.sig"}, "exchange", "--url", sts.URL, "--token-env", "CI_ID", "--format", "env")
			if code != exitFail || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and nothing on stdout", code, out, errOut, exitFail)
			}
		})
	}
}

func TestARefusalIsPrintedOnOneLineWithoutTheServersControlCharacters(t *testing.T) {
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_request\u001b[2J","error_description":"refused\nexport PATH=/tmp\u001b]0;x\u0007"}`)
	}))
	defer sts.Close()
	for _, args := range [][]string{
		{"exchange", "--url", sts.URL, "--token-env", "CI_ID"},
		{"access", "list", "--url", sts.URL, "--token-env", "CI_ID"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, out, errOut := runCLI(t, map[string]string{"CI_ID": "e30.e30.sig"}, args...)
			want := "invalid_request[2J: refusedexport PATH=/tmp]0;x (HTTP 400)\n"
			if code != exitFail || out != "" || !strings.HasSuffix(errOut, want) || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and one line ending %q", code, out, errOut, exitFail, want)
			}
		})
	}
}

func TestARequestIsPrintedWithoutTheServersControlCharacters(t *testing.T) {
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"r1\u001b[2J","identity":"db\nexport PATH=/tmp","state":"approved\u0007","risk":"high","expires_at":"2030-01-01T00:00:00Z"}`)
	}))
	defer sts.Close()
	code, out, errOut := runCLI(t, map[string]string{"CI_ID": "e30.e30.sig"},
		"access", "request", "--url", sts.URL, "--token-env", "CI_ID", "--identity", "db", "--reason", "x")
	if code != exitOK || out != "r1[2J\n" || errOut != "request r1[2J for dbexport PATH=/tmp: approved\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want the request's id and summary without control characters", code, out, errOut)
	}
}

func TestExplainDeniesATokenTheServerWouldRefuseBeforeAnyPolicy(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/fixtures/claims.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Fixtures map[string]map[string]any `json:"fixtures"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	claims := fx.Fixtures["gitlab_main_protected"] // iat 2023-04-13T14:13:13Z, valid for an hour
	signer := enginetest.NewIssuer(t)
	explain := func(claims map[string]any, now string) (int, string) {
		path := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(path, []byte(signer.Mint(t, claims)), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, _ := runCLI(t, nil, "explain", "--bundle", "../../bundles/example", "--token", path,
			"--identity", "gitlab-ci-deploy", "--now", now)
		return code, out
	}
	if code, out := explain(claims, "2023-04-13T14:20:00Z"); code != explainAllowed {
		t.Fatalf("a live token: exit %d:\n%s", code, out)
	}
	if code, out := explain(claims, "2026-11-23T10:00:00Z"); code != explainDenied || !strings.Contains(out, "refuses this token before any policy") {
		t.Fatalf("an expired token: exit %d, want %d with the refusal:\n%s", code, explainDenied, out)
	}
	wrongAud := maps.Clone(claims)
	wrongAud["aud"] = "https://attacker.example"
	if code, out := explain(wrongAud, "2023-04-13T14:20:00Z"); code != explainDenied || !strings.Contains(out, "aud") {
		t.Fatalf("a token for another audience: exit %d, want %d naming aud:\n%s", code, explainDenied, out)
	}
}

func TestServeChecksItsFlagOverridesLikeTheConfig(t *testing.T) {
	for _, level := range []string{"fatal", "DPANIC", "loud"} {
		code, _, errOut := runCLI(t, nil, "serve", "--log-level", level)
		if code != exitFail || !strings.Contains(errOut, "log.level:") {
			t.Fatalf("--log-level %s: exit %d, stderr %q; want %d naming log.level", level, code, errOut, exitFail)
		}
	}
}

// The new user: a data.yaml that defines identity deploy twice,
// the second time with one more scope. check and serve refuse it, naming
// both lines; so does serve a config with a key given twice.
func TestCheckAndServeRefuseAKeyGivenTwice(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(`trustgate:
  providers:
    gl: {issuer: https://gitlab.com, platform: gitlab}
  identities:
    deploy:
      scopes: [read]
      federations: [{provider: gl, claims: {project_path: my-group/app}}]
    deploy:
      scopes: [read, admin]
      federations: [{provider: gl, claims: {project_path: my-group/app}}]
`), 0o600)
	const want = `is given twice in trustgate.identities, on line 5 and on line 8`
	code, out, _ := runCLI(t, nil, "check", dir)
	if code != exitFail || !strings.Contains(out, `key "deploy" `+want) {
		t.Fatalf("check: exit %d, output %q; want exit 1 saying %q", code, out, want)
	}
	cfg := filepath.Join(t.TempDir(), "trustgate.yaml")
	state := "state: {url: \"sqlite:" + filepath.Join(t.TempDir(), "state.db") + "\"}\n"
	_ = os.WriteFile(cfg, []byte("issuer: https://sts.example.com\nlisten: "+freeAddr(t)+"\nbundles: ["+dir+"]\n"+state), 0o600)
	code, _, errOut := runCLI(t, nil, "serve", "--config", cfg)
	if code != exitFail || !strings.Contains(errOut, want) {
		t.Fatalf("serve: exit %d, stderr %q; want exit 1 saying %q", code, errOut, want)
	}
	_ = os.WriteFile(cfg, []byte("issuer: https://sts.example.com\nbundles: [../../bundles/example]\nallow_insecure_issuers: false\nallow_insecure_issuers: true\n"+state), 0o600)
	code, _, errOut = runCLI(t, nil, "serve", "--config", cfg)
	if code != exitFail || !strings.Contains(errOut, `key "allow_insecure_issuers" is given twice at the top level, on line 3 and on line 4`) {
		t.Fatalf("serve with a key given twice in its config: exit %d, stderr %q", code, errOut)
	}
}
