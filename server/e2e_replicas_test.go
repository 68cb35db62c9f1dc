package server_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/server"
)

// TestBehindATrustedProxyTheRealEngineLimitsAndRecordsTheClientNotTheProxy
// runs the whole stack on loopback with the test's own connection (from
// 127.0.0.1) as the load balancer.
func TestBehindATrustedProxyTheRealEngineLimitsAndRecordsTheClientNotTheProxy(t *testing.T) {
	ts := newTestServer(t, func(o *Options) {
		o.Server = func(c *server.Config) {
			c.ClientRate, c.ClientBurst = 0.01, 1
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
	})
	exchangeFor := func(xff string) response {
		t.Helper()
		req, err := ts.exchangeRequest(t.Context(), gitlabToken(t, ts.GitLab, nil))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", xff)
		return ts.do(t, req)
	}
	if r := exchangeFor("192.0.2.1, 203.0.113.7"); r.status != http.StatusOK {
		t.Fatalf("first client: %d %s", r.status, ts.explain(r))
	}
	if r := exchangeFor("203.0.113.8"); r.status != http.StatusOK {
		t.Fatalf("a second client through the same proxy: %d %s; the proxy itself must not be limited", r.status, ts.explain(r))
	}
	if r := exchangeFor("203.0.113.7"); r.status != http.StatusTooManyRequests {
		t.Fatalf("the first client again: %d, want 429", r.status)
	}
	var ips []string
	for _, e := range ts.Logs.FilterMessage("decision").All() {
		ips = append(ips, e.ContextMap()["client_ip"].(string))
	}
	if got := strings.Join(ips, " "); got != "203.0.113.7 203.0.113.8" {
		t.Fatalf("decision records name client_ip %q, want the two clients behind the proxy", got)
	}
}

func TestALiveTokenIsIntrospectedOnlyForAnAuthenticatedClient(t *testing.T) {
	const id, secret = "payments-api", "a-secret-of-the-payments-api"
	ts := newTestServer(t, func(o *Options) {
		o.Server = func(c *server.Config) {
			c.IntrospectionClients = []server.IntrospectionClient{{ID: id, Secret: secret}}
		}
	})
	issued := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
	if issued.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", issued.status, ts.explain(issued))
	}
	access := issued.body["access_token"].(string)
	introspect := func(user, pass string) response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/oauth2/introspect", strings.NewReader("token="+access))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		return ts.do(t, req)
	}
	for _, anon := range []struct{ name, user, pass string }{
		{"no credentials", "", ""}, {"a wrong secret", id, secret + "!"}, {"an unknown client", "someone", secret},
	} {
		r := introspect(anon.user, anon.pass)
		if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" || strings.Contains(r.raw, "active") {
			t.Fatalf("%s: %d %s, want 401 invalid_client and nothing about the token", anon.name, r.status, r.raw)
		}
	}
	if r := introspect(id, secret); r.status != http.StatusOK || r.body["active"] != true {
		t.Fatalf("the client's introspection: %d %s", r.status, r.raw)
	}
	revoke := ts.post(t, "/oauth2/revoke", "application/x-www-form-urlencoded", "token="+access)
	if revoke.status != http.StatusOK {
		t.Fatalf("the holder's revocation without client credentials: %d", revoke.status)
	}
	if r := introspect(id, secret); r.status != http.StatusOK || r.body["active"] != false {
		t.Fatalf("introspection after revocation: %d %s", r.status, r.raw)
	}
}
