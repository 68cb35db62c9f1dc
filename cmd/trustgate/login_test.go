package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustgate/trustgate/cmd/trustgate/signin"
	"github.com/trustgate/trustgate/engine/enginetest"
)

// alice is the approver the company IdP signs in: her groups reach the
// ID token only when the groups scope is asked for.
var alice = map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []any{"prod-approvers"}}

// lockedBuffer is a command's stderr that a test reads while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// loginRun is `trustgate login` running: what it has printed so far, and
// its result once it ends.
type loginRun struct {
	stderr *lockedBuffer
	done   chan cliResult
}

func startLogin(t *testing.T, env map[string]string, args ...string) *loginRun {
	t.Helper()
	l := &loginRun{stderr: &lockedBuffer{}, done: make(chan cliResult, 1)}
	go func() {
		var out bytes.Buffer
		code := run(context.Background(), append([]string{"login"}, args...),
			environ{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, strings.NewReader(""), &out, l.stderr)
		l.done <- cliResult{code, out.String(), l.stderr.String()}
	}()
	return l
}

// waitFor returns the first match of re in what login printed.
func (l *loginRun) waitFor(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(l.stderr.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("login did not print %s: %s", re, l.stderr.String())
	return ""
}

func (l *loginRun) result(t *testing.T) cliResult {
	t.Helper()
	select {
	case r := <-l.done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("login did not end")
		return cliResult{}
	}
}

var (
	authorizeURL = regexp.MustCompile(`(?m)^  (http://\S+/oauth/authorize\?\S+)$`)
	deviceURL    = regexp.MustCompile(`\(or open (http://\S+/device\?user_code=\S+)\)`)
)

// personEnv is a person's shell: the server's URL and a config directory
// of their own.
func personEnv(t *testing.T, s *accessStack) map[string]string {
	t.Helper()
	return map[string]string{"TRUSTGATE_URL": s.url, envConfigDir: filepath.Join(t.TempDir(), "trustgate")}
}

// browse plays the browser: it follows the IdP's redirect to the CLI's
// loopback callback and returns the page the CLI shows.
func browse(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := enginetest.Get(t, nil, u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// loginInTheBrowser signs alice in with the loopback flow.
func loginInTheBrowser(t *testing.T, s *accessStack, env map[string]string, args ...string) cliResult {
	t.Helper()
	s.corp.Login().SignInAs(alice)
	l := startLogin(t, env, append([]string{"--no-browser"}, args...)...)
	if status, page := browse(t, l.waitFor(t, authorizeURL)); status != http.StatusOK || !strings.Contains(page, "Signed in to Trustgate") {
		t.Fatalf("the callback page: %d %s", status, page)
	}
	r := l.result(t)
	if r.code != exitOK {
		t.Fatalf("login: %d\n%s", r.code, r.stderr)
	}
	return r
}

func storedCredentials(t *testing.T, env map[string]string) signin.Credentials {
	t.Helper()
	c, err := signin.Store{Dir: env[envConfigDir]}.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noTokenIn fails when any part of tok is in text.
func noTokenIn(t *testing.T, text, tok string) {
	t.Helper()
	for _, part := range strings.Split(tok, ".") {
		if len(part) > 8 && strings.Contains(text, part) {
			t.Fatal("a command printed part of a token")
		}
	}
}

func TestLoginInTheBrowserKeepsTheIDTokenForTheAccessCommands(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	env := personEnv(t, s)
	r := loginInTheBrowser(t, s, env)
	if !strings.Contains(r.stderr, "signed in to "+s.corp.URL()+" as alice@example.com") || !strings.Contains(r.stderr, "refreshed when it expires") {
		t.Errorf("login says: %s", r.stderr)
	}
	info, err := os.Stat(filepath.Join(env[envConfigDir], "login.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the sign-in file: %v, %v", info, err)
	}
	if dir, err := os.Stat(env[envConfigDir]); err != nil || dir.Mode().Perm() != 0o700 {
		t.Fatalf("the sign-in directory: %v, %v", dir, err)
	}
	creds := storedCredentials(t, env)
	if !strings.Contains(strings.Join(creds.Scopes, " "), "groups") {
		t.Errorf("login did not ask for groups: %v", creds.Scopes)
	}

	// A pipeline asks; alice approves with her sign-in alone: her groups
	// reached the ID token.
	ci := s.env(t)
	code, _, errOut := runCLI(t, ci, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "breakglass", "--reason", "incident 42")
	m := requestID.FindStringSubmatch(errOut)
	if code != exitOK || m == nil {
		t.Fatalf("request: %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, env, "access", "approve", m[1], "--reason", "checked")
	if code != exitOK || !strings.Contains(out, "approved") {
		t.Fatalf("approve with the sign-in: %d %s%s", code, out, errOut)
	}
	code, list, errOut := runCLI(t, env, "access", "list")
	if code != exitOK || !strings.Contains(list, m[1]) {
		t.Fatalf("list with the sign-in: %d %s%s", code, list, errOut)
	}
	noTokenIn(t, r.stdout+r.stderr+out+errOut+list, creds.IDToken)
	if creds.RefreshToken == "" {
		t.Fatal("no refresh token was kept")
	}
	noTokenIn(t, r.stdout+r.stderr+out+errOut+list, creds.RefreshToken)

	// --print, and only it, prints the ID token.
	p := loginInTheBrowser(t, s, env, "--print")
	if strings.TrimSpace(p.stdout) != storedCredentials(t, env).IDToken {
		t.Fatal("login --print does not print the stored ID token")
	}
	noTokenIn(t, p.stderr, storedCredentials(t, env).IDToken)
	noTokenIn(t, p.stdout+p.stderr, storedCredentials(t, env).RefreshToken)
}

func TestLoginWithTheDeviceGrant(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	env := personEnv(t, s)
	s.corp.Login().SignInAs(alice)
	l := startLogin(t, env, "--device")
	if status, page := browse(t, l.waitFor(t, deviceURL)); status != http.StatusOK {
		t.Fatalf("the verification page: %d %s", status, page)
	}
	if r := l.result(t); r.code != exitOK || !strings.Contains(r.stderr, "enter the code") {
		t.Fatalf("login --device: %d\n%s", r.code, r.stderr)
	}
	if code, out, errOut := runCLI(t, env, "access", "list", "--state", "pending"); code != exitOK || !strings.HasPrefix(out, "ID") {
		t.Fatalf("list with the device sign-in: %d %s%s", code, out, errOut)
	}
}

func TestALoginTheDeviceDeniesIsRefusedAndKeepsNothing(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	env := personEnv(t, s)
	s.corp.Login().SignInAs(nil) // the person declines on the other device
	l := startLogin(t, env, "--device")
	if status, _ := browse(t, l.waitFor(t, deviceURL)); status != http.StatusForbidden {
		t.Fatalf("the verification page's status is %d, want 403", status)
	}
	r := l.result(t)
	if r.code != exitFail || r.stdout != "" || !strings.Contains(r.stderr, `"access_denied"`) {
		t.Fatalf("login --device: %d %q %q, want a refusal with the IdP's access_denied", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(env[envConfigDir], "login.json")); !os.IsNotExist(err) {
		t.Fatalf("a denied login kept a sign-in: %v", err)
	}
}

func TestAnExpiredSignInIsRefreshedAndTheRefreshKept(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	env := personEnv(t, s)
	// Less than the minute before expiry that the CLI refreshes at.
	s.corp.Login().SetTokenTTL(30 * time.Second)
	loginInTheBrowser(t, s, env)
	before := storedCredentials(t, env)
	code, out, errOut := runCLI(t, env, "access", "list")
	if code != exitOK {
		t.Fatalf("list with an expiring sign-in: %d %s%s", code, out, errOut)
	}
	after := storedCredentials(t, env)
	if after.IDToken == before.IDToken || after.RefreshToken == before.RefreshToken || after.RefreshToken == "" {
		t.Fatal("the sign-in was not refreshed, or the rotated refresh token not kept")
	}
	noTokenIn(t, out+errOut, after.IDToken)
	// The refresh token before is spent: the IdP refused its second use,
	// and the kept one works.
	if code, _, errOut := runCLI(t, env, "access", "list"); code != exitOK {
		t.Fatalf("list after the refresh: %d %s", code, errOut)
	}
}

func TestAnExpiredSignInWithoutARefreshTokenAsksForALogin(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	s.corp.Login().SupportScopes("openid", "profile", "email", "groups") // no offline_access: no refresh token
	s.corp.Login().SetTokenTTL(30 * time.Second)
	env := personEnv(t, s)
	r := loginInTheBrowser(t, s, env)
	if !strings.Contains(r.stderr, "no refresh token") {
		t.Errorf("login does not say there is no refresh token: %s", r.stderr)
	}
	code, out, errOut := runCLI(t, env, "access", "list")
	if code != exitFail || out != "" || !strings.Contains(errOut, "gave no refresh token: run trustgate login") {
		t.Fatalf("list with an expired sign-in: %d %q %q", code, out, errOut)
	}
}

func TestLoginRefusesWhatItDidNotAskFor(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	tests := []struct {
		name string
		// tamper turns the authorization URL the CLI printed into what
		// the browser brings back to the CLI's callback.
		tamper func(t *testing.T, authorize string) string
		want   string
	}{
		{name: "A redirect with another state is refused.", want: "the state of the redirect does not match",
			tamper: func(t *testing.T, authorize string) string { return replaceQuery(t, authorize, "state", "forged") }},
		{name: "A code got with another PKCE verifier is refused by the IdP.", want: `code exchange: the identity provider answered 400 "invalid_grant"`,
			tamper: func(t *testing.T, authorize string) string {
				// An attacker's own authorization, with its own challenge,
				// its code injected into the CLI's redirect.
				other := replaceQuery(t, authorize, "code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
				c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := enginetest.Get(t, c, other)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.Header.Get("Location")
			}},
		{name: "A redirect to the callback with a code but no state is refused.", want: "the state of the redirect does not match",
			tamper: func(t *testing.T, authorize string) string {
				u, err := url.Parse(authorize)
				if err != nil {
					t.Fatal(err)
				}
				return u.Query().Get("redirect_uri") + "?code=injected"
			}},
		{name: "A sign-in the person cancels at the IdP is refused with the IdP's error.", want: `the identity provider answered "access_denied"`,
			tamper: func(t *testing.T, authorize string) string {
				s.corp.Login().SignInAs(nil)
				return authorize
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := personEnv(t, s)
			s.corp.Login().SignInAs(alice)
			l := startLogin(t, env, "--no-browser")
			if status, _ := browse(t, tc.tamper(t, l.waitFor(t, authorizeURL))); status != http.StatusBadRequest {
				t.Errorf("the callback page's status is %d, want 400", status)
			}
			r := l.result(t)
			if r.code != exitFail || r.stdout != "" || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("login: %d %q %q, want a refusal saying %q", r.code, r.stdout, r.stderr, tc.want)
			}
			if _, err := os.Stat(filepath.Join(env[envConfigDir], "login.json")); !os.IsNotExist(err) {
				t.Fatalf("a refused login kept a sign-in: %v", err)
			}
		})
	}
}

func replaceQuery(t *testing.T, raw, name, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestASignInFileOthersMayReadIsRefusedAndLogoutRemovesIt(t *testing.T) {
	s := startAccessStackWith(t, stackOptions{cliClient: true})
	env := personEnv(t, s)
	loginInTheBrowser(t, s, env)
	path := filepath.Join(env[envConfigDir], "login.json")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, env, "access", "list")
	if code != exitFail || out != "" || !strings.Contains(errOut, "may be read by others (mode 0644): refused") {
		t.Fatalf("list with a loose sign-in file: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, env, "logout"); code != exitOK || !strings.Contains(errOut, "signed out: removed "+path) {
		t.Fatalf("logout: %d %s", code, errOut)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("logout left the sign-in: %v", err)
	}
	code, _, errOut = runCLI(t, env, "access", "list")
	if code != exitFail || !strings.Contains(errOut, "not signed in: run trustgate login") {
		t.Fatalf("list after logout: %d %s", code, errOut)
	}
}

func TestLoginWithIssuerAndClientFlagsAsksForExactlyTheScopesGiven(t *testing.T) {
	corp := enginetest.NewIssuer(t)
	corp.Login().AddPublicClient("trustgate")
	corp.Login().SignInAs(alice)
	env := map[string]string{envConfigDir: t.TempDir()}
	l := startLogin(t, env, "--no-browser", "--issuer", corp.URL(), "--client-id", "trustgate", "--scopes", "openid,email")
	authorize := l.waitFor(t, authorizeURL)
	u, _ := url.Parse(authorize)
	if got := u.Query().Get("scope"); got != "openid email offline_access" {
		t.Errorf("login asks for %q, want the scopes given and offline_access", got)
	}
	browse(t, authorize)
	if r := l.result(t); r.code != exitOK {
		t.Fatalf("login: %d %s", r.code, r.stderr)
	}
	if c := storedCredentials(t, env); c.Email != "alice@example.com" {
		t.Fatalf("stored %+v", c.Subject)
	}
}

func TestLoginFlagsAreChecked(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"Neither a server nor an issuer is refused.", nil, "give --url (the Trustgate server) or --issuer and --client-id"},
		{"An http issuer off loopback is refused.", []string{"--issuer", "http://login.example.com", "--client-id", "c"}, "--issuer: http is allowed only on a loopback host"},
		{"A server without a console is refused.", []string{"--url", "http://127.0.0.1:1"}, "reading the server's sign-in settings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, map[string]string{envConfigDir: t.TempDir()}, append([]string{"login", "--timeout", "5s"}, tc.args...)...)
			if code == exitOK || out != "" || !strings.Contains(errOut, tc.want) {
				t.Fatalf("%d %q %q, want an error saying %q", code, out, errOut, tc.want)
			}
		})
	}
}
