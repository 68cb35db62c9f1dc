package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTheSessionCookieIsHttpOnlyLaxAndExpiresWithTheIDToken(t *testing.T) {
	st := newStack(t)
	c := browser(t)
	st.People.Login().SetTokenTTL(30 * time.Minute)
	st.People.Login().SignInAs(alice)
	p := get(t, c, st.URL+"/console/login")
	loginCookie := p.cookies[0]
	if !loginCookie.HttpOnly || loginCookie.SameSite != http.SameSiteLaxMode || loginCookie.Path != "/console/" {
		t.Errorf("login cookie %+v, want HttpOnly, SameSite=Lax, Path=/console/", loginCookie)
	}
	idp := get(t, c, p.location)
	cb := get(t, c, idp.location)
	var session *http.Cookie
	for _, ck := range cb.cookies {
		if ck.Name == "trustgate_console" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("the callback set no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/console/" {
		t.Errorf("session cookie %+v, want HttpOnly, SameSite=Lax, Path=/console/", session)
	}
	if session.Secure {
		t.Error("the session cookie of an http loopback console is Secure: the browser would never send it")
	}
	if left := time.Until(session.Expires); left < 29*time.Minute || left > 31*time.Minute {
		t.Errorf("the session cookie expires in %s, want with the ID token (30m)", left)
	}
}

func TestALinkFromANotificationOpensTheRequestThroughTheLogin(t *testing.T) {
	st := newStack(t)
	r := st.request(t)
	c := browser(t)
	p := get(t, c, st.URL+"/console/requests/"+r.ID)
	if p.status != http.StatusSeeOther || p.location != "/console/login?next=%2Fconsole%2Frequests%2F"+r.ID {
		t.Fatalf("no session: %d to %q, want 303 to the login keeping the path", p.status, p.location)
	}
	if to := st.signIn(t, c, alice, "/console/requests/"+r.ID); to != "/console/requests/"+r.ID {
		t.Fatalf("after sign-in: sent to %q, want the request's page", to)
	}
	if p := get(t, c, st.URL+"/console/requests/"+r.ID); p.status != http.StatusOK || !strings.Contains(p.body, ">Approve<") {
		t.Fatalf("request page: %d, approve button %v", p.status, strings.Contains(p.body, ">Approve<"))
	}
}

func TestTheLoginReturnsOnlyToConsolePaths(t *testing.T) {
	tests := []struct{ name, next, want string }{
		{name: "A console path is kept.", next: "/console/requests/abc", want: "/console/requests/abc"},
		{name: "Another origin is dropped.", next: "https://evil.example/console/", want: "/console/"},
		{name: "A protocol-relative URL is dropped.", next: "//evil.example/console/", want: "/console/"},
		{name: "A backslashed URL is dropped.", next: "/\\evil.example/console/", want: "/console/"},
		{name: "A path outside the console is dropped.", next: "/oauth2/token", want: "/console/"},
		{name: "A path climbing out of the console is dropped.", next: "/console/../oauth2/token", want: "/console/"},
		{name: "A path ending in a climb out of the console is dropped.", next: "/console/requests/..", want: "/console/"},
		{name: "An encoded climb out of the console is dropped.", next: "/console/%2e%2e/oauth2/token", want: "/console/"},
		{name: "A javascript URL is dropped.", next: "javascript:alert(1)", want: "/console/"},
		{name: "A query is not kept.", next: "/console/?x=https://evil.example", want: "/console/"},
		{name: "A scheme before a console path is dropped.", next: "javascript:/console/requests/abc", want: "/console/"},
		{name: "Three slashes before a console path are dropped (a browser reads a host there).", next: "///console/requests/abc", want: "/console/"},
		{name: "A backslash inside a console path is dropped.", next: "/console/\\evil.example", want: "/console/"},
		{name: "An empty segment inside a console path is dropped.", next: "/console//evil.example", want: "/console/"},
	}
	st := newStack(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := st.signIn(t, browser(t), alice, tt.next); got != tt.want {
				t.Errorf("next %q: sent to %q, want %q", tt.next, got, tt.want)
			}
		})
	}
}

func TestAnExpiredSessionSendsPagesToTheLoginAndRefusesActions(t *testing.T) {
	st := newStack(t)
	r := st.request(t)
	c := browser(t)
	st.signIn(t, c, alice, "/console/")
	tok := csrf(t, get(t, c, st.URL+"/console/").body)
	st.advance(2 * time.Hour) // past the ID token's exp (1h)
	if p := get(t, c, st.URL+"/console/requests/"+r.ID); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/console/login?") {
		t.Errorf("a page with an expired session: %d to %q, want 303 to the login", p.status, p.location)
	}
	if p := post(t, c, st.URL+approvePath(r), url.Values{"csrf": {tok}, "reason": {"ok"}}); p.status != http.StatusUnauthorized {
		t.Errorf("an action with an expired session: %d, want 401", p.status)
	}
}

func TestATamperedSessionCookieIsNoSession(t *testing.T) {
	st := newStack(t)
	c := browser(t)
	st.signIn(t, c, alice, "/console/")
	u, _ := url.Parse(st.URL + "/console/")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "trustgate_console" {
			b := []byte(ck.Value)
			b[len(b)/2] ^= 1
			ck.Value = string(b)
			c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/console/"}})
		}
	}
	if p := get(t, c, st.URL+"/console/"); p.status != http.StatusSeeOther {
		t.Fatalf("a tampered session: %d, want 303 to the login", p.status)
	}
}

func TestTheCallbackRefusesWhatItDidNotStart(t *testing.T) {
	st := newStack(t)
	tests := []struct {
		name string
		// callback returns the callback URL to call, given a client that
		// has started a login and the IdP's redirect to the callback.
		callback func(c *http.Client, idpRedirect string) string
	}{
		{name: "A callback in a browser that started no login is refused.", callback: func(c *http.Client, to string) string {
			c.Jar, _ = cookieJar()
			return to
		}},
		{name: "A callback with another state is refused.", callback: func(_ *http.Client, to string) string {
			return replaceParam(to, "state", "forged-state")
		}},
		{name: "A callback with another code is refused.", callback: func(_ *http.Client, to string) string {
			return replaceParam(to, "code", "forged-code")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := browser(t)
			st.People.Login().SignInAs(alice)
			p := get(t, c, st.URL+"/console/login")
			idp := get(t, c, p.location)
			cb := get(t, c, tt.callback(c, idp.location))
			if cb.status != http.StatusBadRequest {
				t.Fatalf("%d, want 400: %s", cb.status, cb.body)
			}
			if p := get(t, c, st.URL+"/console/"); p.status != http.StatusSeeOther {
				t.Errorf("after a refused callback the console answers %d, want 303 to the login", p.status)
			}
		})
	}
	t.Run("A code is redeemed once.", func(t *testing.T) {
		c := browser(t)
		st.People.Login().SignInAs(alice)
		p := get(t, c, st.URL+"/console/login")
		idp := get(t, c, p.location)
		if cb := get(t, c, idp.location); cb.status != http.StatusSeeOther {
			t.Fatalf("first use: %d", cb.status)
		}
		get(t, c, st.URL+"/console/login") // a fresh login cookie with another state
		if cb := get(t, c, idp.location); cb.status != http.StatusBadRequest {
			t.Fatalf("a replayed callback: %d, want 400", cb.status)
		}
	})
	t.Run("A person who cancels at the IdP is told sign-in failed.", func(t *testing.T) {
		c := browser(t)
		st.People.Login().SignInAs(nil)
		p := get(t, c, st.URL+"/console/login")
		idp := get(t, c, p.location)
		if cb := get(t, c, idp.location); cb.status != http.StatusBadRequest || !strings.Contains(cb.body, "Sign-in failed") {
			t.Fatalf("%d: %s", cb.status, cb.body)
		}
		// The IdP's error is the cause, not a code exchange tried without
		// a code.
		refused := st.Logs.FilterMessage("console request refused").All()
		if len(refused) == 0 || !strings.Contains(fmt.Sprint(refused[len(refused)-1].ContextMap()["error"]), `the identity provider answered "access_denied"`) {
			t.Fatalf("the cancelled sign-in was not logged as the IdP's refusal: %v", refused)
		}
	})
}

func replaceParam(raw, name, value string) string {
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestLogoutEndsTheSessionAndNeedsItsCSRFToken(t *testing.T) {
	st := newStack(t)
	c := browser(t)
	st.signIn(t, c, alice, "/console/")
	tok := csrf(t, get(t, c, st.URL+"/console/").body)
	if p := post(t, c, st.URL+"/console/logout", nil); p.status != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %d, want 403", p.status)
	}
	if p := get(t, c, st.URL+"/console/"); p.status != http.StatusOK {
		t.Fatalf("a refused logout ended the session: %d", p.status)
	}
	p := post(t, c, st.URL+"/console/logout", url.Values{"csrf": {tok}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Signed out") {
		t.Fatalf("logout: %d", p.status)
	}
	if p := get(t, c, st.URL+"/console/"); p.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d, want 303 to the login", p.status)
	}
}

func TestASignInOrTheCLIsSettingsWhileTheIdPIsUnreachableIs503(t *testing.T) {
	st := newStackWith(t, func(*stack) idp {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		return idp{issuer: gone.URL, clientID: clientID, secret: clientSecret}
	})
	p := get(t, browser(t), st.URL+"/console/login")
	if p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, `role="alert"`) {
		t.Fatalf("%d, want 503 with a page saying why", p.status)
	}
	p = get(t, http.DefaultClient, st.URL+"/.well-known/trustgate-console")
	if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, `"temporarily_unavailable"`) {
		t.Fatalf("the CLI's settings: %d %q %s, want 503 temporarily_unavailable with Retry-After", p.status, p.header.Get("Retry-After"), p.body)
	}
}

// TestAnIdPsTokenEndpointBodyIsNotLogged: an IdP that refuses a code may
// answer anything, a token included; the log keeps its status and error
// code only.
func TestAnIdPsTokenEndpointBodyIsNotLogged(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNl"
	st := newStackWith(t, func(*stack) idp {
		var fake *httptest.Server
		fake = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case "/.well-known/openid-configuration":
				_, _ = fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q}`,
					fake.URL, fake.URL+"/authorize", fake.URL+"/token", fake.URL+"/keys")
			case "/token":
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"not %s"}`, token)
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(fake.Close)
		return idp{issuer: fake.URL, clientID: clientID, secret: clientSecret}
	})
	c := browser(t)
	authorize, err := url.Parse(get(t, c, st.URL+"/console/login").location)
	if err != nil {
		t.Fatal(err)
	}
	cb := get(t, c, st.URL+"/console/callback?"+url.Values{"state": {authorize.Query().Get("state")}, "code": {"c"}}.Encode())
	if cb.status != http.StatusBadRequest || !strings.Contains(cb.body, "Sign-in failed") || strings.Contains(cb.body, token) {
		t.Fatalf("%d, want 400 saying sign-in failed: %s", cb.status, cb.body)
	}
	refused := st.Logs.FilterMessage("console request refused").All()
	if len(refused) != 1 {
		t.Fatalf("%d refusals logged, want 1", len(refused))
	}
	logged := fmt.Sprint(refused[0].ContextMap()["error"])
	if !strings.Contains(logged, `the token endpoint answered 400 "invalid_grant"`) || strings.Contains(logged, "c2lnbmF0dXJl") {
		t.Fatalf("logged %q: want the status and error code, and nothing of the body", logged)
	}
}
