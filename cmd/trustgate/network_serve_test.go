package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// secretFile writes content to a new file and returns its path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	writeFile(t, path, content)
	return path
}

func TestServeAuthenticatesIntrospectionClientsAndWarnsWhileIntrospectionIsOpen(t *testing.T) {
	const secret = "the-payments-api-secret"
	iss := enginetest.NewIssuer(t)
	bundle := testBundle(t, iss.URL(), "https://sts.example.com")
	introspect := func(t *testing.T, base string, auth func(*http.Request)) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/oauth2/introspect", strings.NewReader("token=a.b.c"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("with clients an anonymous call is 401 and the client's is answered", func(t *testing.T) {
		addr := freeAddr(t)
		var stderr bytes.Buffer
		base, stop := startServeLogs(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\n"+
			"log: {level: debug}\nintrospection: {clients: [{id: payments api, secret_file: %s}]}\n", addr, addr, bundle, secretFile(t, secret+"\n")), &stderr)
		resp := introspect(t, base, func(*http.Request) {})
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("anonymous introspection: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		resp = introspect(t, base, func(r *http.Request) { r.SetBasicAuth(url.QueryEscape("payments api"), secret) })
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the client's introspection: %d", resp.StatusCode)
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if strings.Contains(stderr.String(), "introspection is open") || strings.Contains(stderr.String(), secret) {
			t.Fatalf("serve warned of open introspection or logged the secret:\n%s", stderr.String())
		}
	})
	t.Run("without clients introspection is open and serve says so", func(t *testing.T) {
		addr := freeAddr(t)
		var stderr bytes.Buffer
		base, stop := startServeLogs(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: warn}\n",
			addr, addr, bundle), &stderr)
		if resp := introspect(t, base, func(*http.Request) {}); resp.StatusCode != http.StatusOK {
			t.Fatalf("open introspection: %d", resp.StatusCode)
		}
		if code := stop(); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if !strings.Contains(stderr.String(), "introspection is open to anyone") {
			t.Fatalf("no warning at start:\n%s", stderr.String())
		}
	})
}
