package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/cmd/trustgate/devissuer"
	"github.com/trustgate/trustgate/engine/enginetest"
)

// startDevDefaults runs serve on development defaults, the dev issuer
// beside it, as `make run` does but on free loopback ports: the example
// bundle is copied with its loopback addresses moved to them. It returns
// the server's and the dev issuer's URLs.
func startDevDefaults(t *testing.T) (base, dev string) {
	t.Helper()
	listen, devAddr := freeAddr(t), freeAddr(t)
	cfg := config.DevAt(listen, devAddr)
	cfg.Bundles = []string{exampleBundleAt(t, listen, devAddr)}
	cfg.State.URL = "sqlite:" + filepath.Join(t.TempDir(), "state.db")
	cfg.Log.Level = "warn"
	var stderr bytes.Buffer
	base, _ = startServing(t, cfg.Issuer, &stderr, func(ctx context.Context) int {
		logs, err := newLogs(cfg.Log, &bytes.Buffer{}, &stderr)
		if err != nil {
			return exitFail
		}
		defer logs.sync()
		if err := serve(ctx, cfg, logs, newGCTuner(environ{lookup: func(string) (string, bool) { return "", false }}, logs.app)); err != nil {
			return exitFail
		}
		return exitOK
	})
	dev = "http://" + devAddr
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := enginetest.Get(t, nil, dev+devissuer.PeoplePath+"/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			return base, dev
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dev issuer did not start: %v\n%s", err, stderr.String())
		}
	}
}

// exampleBundleAt is bundles/example (its tests left out) with the
// server's and the dev issuer's addresses of development defaults moved to
// listen and devAddr.
func exampleBundleAt(t *testing.T, listen, devAddr string) string {
	t.Helper()
	dir := t.TempDir()
	moved := strings.NewReplacer(config.DevListen, listen, config.DevIssuerAddr, devAddr)
	for _, name := range []string{"data.yaml", "custom.rego"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "bundles", "example", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), moved.Replace(string(b)))
	}
	return dir
}

var (
	devAuthorizeURL = regexp.MustCompile(`(?m)^  (http://\S+/people/authorize\?\S+)$`)
	devDeviceURL    = regexp.MustCompile(`\(or open (http://\S+/people/device\?user_code=\S+)\)`)
)

func TestLoginOnDevelopmentDefaultsSignsADemoApproverInForTheAccessCommands(t *testing.T) {
	base, dev := startDevDefaults(t)
	// A pipeline of the dev issuer asks for break-glass access.
	status, job := browse(t, dev+"/token")
	if status != http.StatusOK {
		t.Fatalf("the dev issuer's job token: %d", status)
	}
	ci := map[string]string{"TRUSTGATE_URL": base, "CI_ID_TOKEN": strings.TrimSpace(job)}
	code, _, errOut := runCLI(t, ci, "access", "request", "--token-env", "CI_ID_TOKEN", "--identity", "prod-db-breakglass", "--reason", "incident 42")
	m := regexp.MustCompile(`request ([a-z2-7]{26}) for prod-db-breakglass`).FindStringSubmatch(errOut)
	if code != exitOK || m == nil {
		t.Fatalf("request: %d %s", code, errOut)
	}
	tests := []struct {
		name  string
		flags []string
		page  *regexp.Regexp // the sign-in page's URL, as login prints it
		done  string         // what the browser shows once alice is picked
	}{
		{name: "In the browser, the dev issuer sends alice back to the CLI's loopback redirect.",
			flags: []string{"--no-browser"}, page: devAuthorizeURL, done: "Signed in to Trustgate"},
		{name: "With a device code, alice picked on the dev issuer's page signs the CLI in.",
			flags: []string{"--device"}, page: devDeviceURL, done: "Signed in as alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// alice signs in with nothing but the server's URL: the
			// browser shows the dev issuer's sign-in page, she picks
			// herself.
			env := map[string]string{envConfigDir: filepath.Join(t.TempDir(), "trustgate")}
			l := startLogin(t, env, append([]string{"--url", base}, tt.flags...)...)
			signIn := l.waitFor(t, tt.page)
			if status, page := browse(t, signIn); status != http.StatusOK || !strings.Contains(page, `value="alice"`) {
				t.Fatalf("the dev issuer's sign-in page: %d, alice offered: %v", status, strings.Contains(page, `value="alice"`))
			}
			if status, page := browse(t, signIn+"&person=alice"); status != http.StatusOK || !strings.Contains(page, tt.done) {
				t.Fatalf("picking alice: %d %s", status, page)
			}
			r := l.result(t)
			if r.code != exitOK || !strings.Contains(r.stderr, "signed in to "+dev+devissuer.PeoplePath+" as alice@example.com") {
				t.Fatalf("login: %d %s", r.code, r.stderr)
			}
			creds := storedCredentials(t, env)
			if creds.ClientID != devissuer.CLIClientID {
				t.Errorf("login signed in with client %q, want the dev issuer's CLI client %q", creds.ClientID, devissuer.CLIClientID)
			}

			// Her stored sign-in lists the pipeline's request, which is
			// hers to review; nothing printed holds the token.
			env["TRUSTGATE_URL"] = base
			code, list, errOut := runCLI(t, env, "access", "list")
			if code != exitOK || !strings.Contains(list, m[1]) {
				t.Fatalf("list with the sign-in: %d %s%s", code, list, errOut)
			}
			noTokenIn(t, r.stdout+r.stderr+list+errOut, creds.IDToken)
		})
	}
}
