package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// consoleBundle trusts the company IdP at %s for the console's client id
// and has one just-in-time identity its prod-approvers approve.
const consoleBundle = `trustgate:
  providers:
    corp:
      issuer: %s
      platform: generic
      audiences: [trustgate-console]
  identities:
    breakglass:
      roles: [admin]
      scopes: [read]
      audiences: [https://db.example.com]
      access: just-in-time
      jit:
        max_duration: 1h
        default_duration: 1h
        bind: subject
        approvers:
          - provider: corp
            claims: {groups: prod-approvers}
      federations:
        - provider: corp
          claims: {groups: developers}
`

func TestServeMountsTheConsoleAndSignsAnApproverInThroughTheConfiguredIdP(t *testing.T) {
	people := enginetest.NewIssuer(t)
	addr := freeAddr(t)
	base := "http://" + addr
	secret := secretFile(t, "the-console-client-secret\n")
	people.Login().AddClient("trustgate-console", "the-console-client-secret", base+"/console/callback")
	people.Login().SignInAs(map[string]any{"sub": "alice", "email": "alice@example.com", "groups": []any{"prod-approvers"}})
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "data.yaml"), []byte(fmt.Sprintf(consoleBundle, people.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	_, stop := startServeLogs(t, fmt.Sprintf("issuer: %s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nshutdown_grace: 5s\n"+
		"log: {level: warn}\nconsole: {issuer: %s, client_id: trustgate-console, client_secret_file: %s}\n",
		base, addr, bundle, people.URL(), secret), &stderr)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar} // follows the redirects: console → login → IdP → callback → console
	resp, err := enginetest.Get(t, c, base+"/console/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != base+"/console/" ||
		!strings.Contains(string(body), "Signed in as <strong>alice@example.com</strong>") {
		t.Fatalf("%d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	stop()
	if !strings.Contains(stderr.String(), "console.session_key_file is not set") {
		t.Errorf("serve did not warn that sessions end with a restart: %s", stderr.String())
	}
}
