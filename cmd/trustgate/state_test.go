package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// pg is this package's PostgreSQL cluster.
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// serveConfig is a config for serve on addr trusting iss, plus extra.
func serveConfig(t *testing.T, addr string, iss *enginetest.Issuer, extra string) string {
	return fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nshutdown_grace: 5s\nlog: {level: error}\n%s",
		addr, addr, testBundle(t, iss.URL(), "https://sts.example.com"), extra)
}

func TestServeRefusesAStateItCannotUseWithOneLineAndExit1(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	free, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := free.Addr().String()
	_ = free.Close()
	tests := []struct {
		name, state, want string
	}{
		{"A state.url of an unknown kind is a config problem naming the key",
			"state: {url: \"mysql://db/trustgate\"}", `state.url: bad state URL: unknown scheme "mysql"`},
		{"A password_file beside a SQLite URL is a config problem naming the key",
			"state: {url: \"sqlite:x.db\", password_file: /etc/pw}", "state.password_file: only for a postgres"},
		{"A SQLite file in a directory that does not exist is named",
			"state: {url: \"sqlite:" + filepath.Join(t.TempDir(), "no", "state.db") + "\"}", "cannot open SQLite database"},
		{"An unreachable PostgreSQL is named",
			"state: {url: \"postgres://trustgate:pw-123@" + nobody + "/trustgate?sslmode=disable\"}", "cannot reach PostgreSQL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkServeFails(t, serveConfig(t, freeAddr(t), iss, tc.state), tc.want, "pw-123")
		})
	}
}

func TestServeRefusesAWrongPostgreSQLPasswordWithoutShowingIt(t *testing.T) {
	c := pg.Require(t)
	pw := filepath.Join(t.TempDir(), "db-password")
	if err := os.WriteFile(pw, []byte("not-the-password-789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	iss := enginetest.NewIssuer(t)
	cfg := serveConfig(t, freeAddr(t), iss, fmt.Sprintf("state: {url: %q, password_file: %s}\n", c.URLWithoutPassword(pgtest.Database), pw))
	checkServeFails(t, cfg, `refused the password of user`, "not-the-password-789")
}

// checkServeFails runs serve with cfg and wants exit 1 with one line on
// stderr that says want and does not show secret (a config problem: one
// line under the config's "N problem(s):" heading).
func checkServeFails(t *testing.T, cfg, want, secret string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trustgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "serve", "--config", path)
	if code != exitFail || !strings.Contains(errOut, want) {
		t.Fatalf("exit %d, stderr %q; want %d saying %q", code, errOut, exitFail, want)
	}
	if strings.Contains(errOut, secret) {
		t.Fatalf("stderr shows the password: %q", errOut)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if strings.HasSuffix(lines[0], "problem(s):") {
		lines = lines[1:]
	}
	if len(lines) != 1 {
		t.Fatalf("stderr has %d lines, want one:\n%s", len(lines), errOut)
	}
}

func TestARevocationSurvivesARestart(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	addr := freeAddr(t)
	cfg := serveConfig(t, addr, iss, "state: {url: \"sqlite:"+filepath.Join(t.TempDir(), "state.db")+"\"}\n")
	base, stop := startServeConfig(t, cfg)
	token := exchangeForm(t, base, iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com")))
	if active := introspect(t, base, token); !active {
		t.Fatal("the issued token is not active")
	}
	resp, err := httpPostForm(t, base+"/oauth2/revoke", url.Values{"token": {token}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	base, _ = startServeConfig(t, cfg)
	if introspect(t, base, token) {
		t.Fatal("a token revoked before the restart is active after it")
	}
}

func TestServeWithoutStateKeepsItInTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	iss := enginetest.NewIssuer(t)
	_, stop := startServeRaw(t, serveConfig(t, freeAddr(t), iss, ""), &bytes.Buffer{})
	if _, err := os.Stat(filepath.Join(dir, "trustgate-state.db")); err != nil {
		t.Fatalf("no trustgate-state.db in the working directory: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

func exchangeForm(t *testing.T, base, subject string) string {
	t.Helper()
	resp, err := httpPostForm(t, base+"/oauth2/token", url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("exchange: %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func introspect(t *testing.T, base, token string) bool {
	t.Helper()
	resp, err := httpPostForm(t, base+"/oauth2/introspect", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d, %v", resp.StatusCode, err)
	}
	return body.Active
}
