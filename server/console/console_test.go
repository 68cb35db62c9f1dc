package console_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// page is one response as a test reads it.
type page struct {
	status   int
	location string
	body     string
	header   http.Header
	cookies  []*http.Cookie
}

func get(t testing.TB, c *http.Client, u string) page {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func post(t testing.TB, c *http.Client, u string, form url.Values) page {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t testing.TB, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header, cookies: resp.Cookies()}
}

// signIn runs the whole login through the test IdP's authorization
// endpoint as person, starting at the console path next, and returns
// where the console sends the browser in the end.
func (st *stack) signIn(t testing.TB, c *http.Client, person map[string]any, next string) string {
	t.Helper()
	st.People.Login().SignInAs(person)
	p := get(t, c, st.URL+"/console/login?next="+url.QueryEscape(next))
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, st.People.URL()+"/oauth/authorize?") {
		t.Fatalf("login: %d to %q, want 303 to the IdP", p.status, p.location)
	}
	idp := get(t, c, p.location)
	if idp.status != http.StatusFound || !strings.HasPrefix(idp.location, st.URL+"/console/callback?") {
		t.Fatalf("IdP: %d to %q, want 302 to the callback", idp.status, idp.location)
	}
	cb := get(t, c, idp.location)
	if cb.status != http.StatusSeeOther {
		t.Fatalf("callback: %d, want 303: %s", cb.status, cb.body)
	}
	return cb.location
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a page's forms.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the page has no form with a CSRF token")
	}
	return m[1]
}

func TestASignedInApproverSeesThePendingRequestWithItsFacts(t *testing.T) {
	st := newStack(t)
	r := st.request(t)
	c := browser(t)
	if to := st.signIn(t, c, alice, "/console/"); to != "/console/" {
		t.Fatalf("after sign-in: sent to %q, want /console/", to)
	}
	p := get(t, c, st.URL+"/console/")
	if p.status != http.StatusOK {
		t.Fatalf("dashboard: %d: %s", p.status, p.body)
	}
	for _, want := range []string{identity, "migrate the orders table", "OPS-1234", "demo-group/demo-project",
		"574", "demo-user", "risk high", "0 of 1", "alice@example.com", "/console/requests/" + r.ID, "just now", "UTC"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	} {
		if got := p.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if strings.Contains(p.body, "<script") {
		t.Error("the page has a script")
	}
}

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
		{name: "A javascript URL is dropped.", next: "javascript:alert(1)", want: "/console/"},
		{name: "A query is not kept.", next: "/console/?x=https://evil.example", want: "/console/"},
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

func TestAnApproverApprovesAndRevokesWithAReason(t *testing.T) {
	st := newStack(t)
	r := st.request(t)
	c := browser(t)
	st.signIn(t, c, alice, "/console/")
	tok := csrf(t, get(t, c, st.URL+"/console/requests/"+r.ID).body)
	p := post(t, c, st.URL+"/console/requests/"+r.ID+"/approve", url.Values{"csrf": {tok}, "reason": {"checked with the on-call"}})
	if p.status != http.StatusSeeOther || p.location != "/console/requests/"+r.ID {
		t.Fatalf("approve: %d to %q: %s", p.status, p.location, p.body)
	}
	page := get(t, c, st.URL+"/console/requests/"+r.ID).body
	for _, want := range []string{"state-approved", "checked with the on-call", "Grant ends", "Revoke now", "1 of 1"} {
		if !strings.Contains(page, want) {
			t.Errorf("after approval the page lacks %q", want)
		}
	}
	if strings.Contains(page, ">Approve<") {
		t.Error("an approved request still offers Approve")
	}
	if dash := get(t, c, st.URL+"/console/").body; !strings.Contains(dash, "Active grants <span class=\"count\">1</span>") {
		t.Error("the dashboard does not list the grant as active")
	}
	p = post(t, c, st.URL+"/console/requests/"+r.ID+"/revoke", url.Values{"csrf": {tok}, "reason": {"done"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d: %s", p.status, p.body)
	}
	if page := get(t, c, st.URL+"/console/requests/"+r.ID).body; !strings.Contains(page, "state-revoked") || strings.Contains(page, "Revoke now") {
		t.Error("after revocation the page does not show it revoked, or still offers Revoke")
	}
}

func TestRefusals(t *testing.T) {
	st := newStack(t)
	approver := browser(t)
	st.signIn(t, approver, alice, "/console/")
	tok := csrf(t, get(t, approver, st.URL+"/console/").body)
	other := browser(t)
	st.signIn(t, other, mallory, "/console/")
	otherTok := csrf(t, get(t, other, st.URL+"/console/").body)
	tests := []struct {
		name   string
		client *http.Client
		action func(r access.Request) string // the path posted to
		form   func(r access.Request) url.Values
		want   int
	}{
		{name: "An action without a session is refused with 401.", client: browser(t),
			action: approvePath, form: withCSRF(tok), want: http.StatusUnauthorized},
		{name: "A form without its CSRF token is refused with 403.", client: approver,
			action: approvePath, form: func(access.Request) url.Values { return url.Values{"reason": {"ok"}} }, want: http.StatusForbidden},
		{name: "A form with another session's CSRF token is refused with 403.", client: approver,
			action: approvePath, form: withCSRF(otherTok), want: http.StatusForbidden},
		{name: "A non-approver's forged approval is refused as if the request did not exist.", client: other,
			action: approvePath, form: withCSRF(otherTok), want: http.StatusNotFound},
		{name: "An unknown request is 404.", client: approver,
			action: func(access.Request) string { return "/console/requests/nosuchrequest/approve" }, form: withCSRF(tok), want: http.StatusNotFound},
		{name: "An unknown action is 404.", client: approver,
			action: func(r access.Request) string { return "/console/requests/" + r.ID + "/delete" }, form: withCSRF(tok), want: http.StatusNotFound},
		{name: "An approval without a reason is 400.", client: approver,
			action: approvePath, form: func(access.Request) url.Values { return url.Values{"csrf": {tok}} }, want: http.StatusBadRequest},
		{name: "Revoking a request that is still pending is 409.", client: approver,
			action: func(r access.Request) string { return "/console/requests/" + r.ID + "/revoke" }, form: withCSRF(tok), want: http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.request(t)
			p := post(t, tt.client, st.URL+tt.action(r), tt.form(r))
			if p.status != tt.want {
				t.Fatalf("%d, want %d: %s", p.status, tt.want, p.body)
			}
			if !strings.Contains(p.body, `role="alert"`) {
				t.Error("the refusal page does not say what went wrong")
			}
			if got := st.state(t, r.ID); got != access.StatePending {
				t.Errorf("the request is %s after a refused action, want pending", got)
			}
		})
	}
}

func approvePath(r access.Request) string { return "/console/requests/" + r.ID + "/approve" }

func withCSRF(tok string) func(access.Request) url.Values {
	return func(access.Request) url.Values { return url.Values{"csrf": {tok}, "reason": {"looks fine"}} }
}

func TestASecondApprovalOfAnApprovedRequestIsAConflict(t *testing.T) {
	st := newStack(t)
	r := st.request(t)
	a, b := browser(t), browser(t)
	st.signIn(t, a, alice, "/console/")
	st.signIn(t, b, bob, "/console/")
	tokA := csrf(t, get(t, a, st.URL+"/console/requests/"+r.ID).body)
	tokB := csrf(t, get(t, b, st.URL+"/console/requests/"+r.ID).body) // bob's page still offers Approve
	if p := post(t, a, st.URL+approvePath(r), url.Values{"csrf": {tokA}, "reason": {"ok"}}); p.status != http.StatusSeeOther {
		t.Fatalf("alice's approval: %d", p.status)
	}
	p := post(t, b, st.URL+approvePath(r), url.Values{"csrf": {tokB}, "reason": {"ok too"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "no longer allows") {
		t.Fatalf("bob's late approval: %d, want 409: %s", p.status, p.body)
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

func TestTheTokenScanFindsTheTokensItGuardsAgainst(t *testing.T) {
	st := newStack(t)
	for name, tok := range map[string]string{"a pipeline's ID token": st.ciToken(t), "a person's ID token": st.personToken(t, alice)} {
		if !tokenShaped.MatchString("page text " + tok + " more text") {
			t.Errorf("the scan does not find %s", name)
		}
		if head, _, _ := strings.Cut(tok, "."); !tokenShaped.MatchString(head + "." + strings.Repeat("x", 10)) {
			t.Errorf("the scan does not find a part of %s", name)
		}
	}
	get(t, browser(t), st.URL+"/console/static/console.css") // something served, for the stack's own scan
}
