package console_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

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
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func post(t testing.TB, c *http.Client, u string, form url.Values) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
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
		"574", "demo-user", "risk high", "0 of 1", "alice@example.com", "/console/requests/" + r.ID, "just now", "UTC",
		"Scopes</dt><dd>all of the identity's: "} {
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

func TestPagesRefuseWhatTheEngineRefuses(t *testing.T) {
	tests := []struct {
		name string
		// path is the page opened after alice signed in and the change.
		path   func(r access.Request) string
		change func(t *testing.T, st *stack)
		want   int
		// signedOut: the refusal also ends the session.
		signedOut bool
	}{
		{name: "The page of an unknown request is 404.", path: func(access.Request) string { return "/console/requests/nosuchrequest" },
			change: func(*testing.T, *stack) {}, want: http.StatusNotFound},
		{name: "A session whose IdP the policy no longer trusts is ended with 401.", path: func(access.Request) string { return "/console/" },
			change: func(t *testing.T, st *stack) { st.loadPolicy(t, "https://another-idp.example.com", clientID) },
			want:   http.StatusUnauthorized, signedOut: true},
		{name: "A state store that cannot answer is 503, and the session stays.", path: func(r access.Request) string { return "/console/requests/" + r.ID },
			change: func(t *testing.T, st *stack) { _ = st.store.Close() }, want: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t)
			r := st.request(t)
			c := browser(t)
			st.signIn(t, c, alice, "/console/")
			tt.change(t, st)
			p := get(t, c, st.URL+tt.path(r))
			if p.status != tt.want || !strings.Contains(p.body, `role="alert"`) {
				t.Fatalf("%d, want %d with a page saying why: %s", p.status, tt.want, p.body)
			}
			ended := false
			for _, ck := range p.cookies {
				ended = ended || ck.Name == "trustgate_console" && ck.MaxAge < 0
			}
			if ended != tt.signedOut {
				t.Errorf("session ended: %v, want %v", ended, tt.signedOut)
			}
		})
	}
}

func TestDenyingADeniedRequestIsAConflictAndASecondReviewIsRefused(t *testing.T) {
	st := newStack(t)
	r := st.request(t)
	c := browser(t)
	st.signIn(t, c, alice, "/console/")
	tok := csrf(t, get(t, c, st.URL+"/console/").body)
	deny := st.URL + "/console/requests/" + r.ID + "/deny"
	if p := post(t, c, deny, url.Values{"csrf": {tok}, "reason": {"not now"}}); p.status != http.StatusSeeOther {
		t.Fatalf("deny: %d: %s", p.status, p.body)
	}
	if got := st.state(t, r.ID); got != access.StateDenied {
		t.Fatalf("the request is %s after the denial, want denied", got)
	}
	if p := post(t, c, deny, url.Values{"csrf": {tok}, "reason": {"again"}}); p.status != http.StatusForbidden {
		t.Fatalf("alice's second review: %d, want 403 (the policy refuses a second review by one person)", p.status)
	}
	refusals := st.Logs.FilterMessage("console request refused").FilterField(zap.Int("status", http.StatusForbidden)).All()
	if len(refusals) != 1 {
		t.Fatalf("%d log lines for the refused review, want 1", len(refusals))
	}
	if f := refusals[0].ContextMap(); f["decision_id"] == "" || f["error"] != nil {
		t.Errorf("the refused review's log line %v: want its decision id, and its cause and reasons left to the decision log", f)
	}
	b := browser(t)
	st.signIn(t, b, bob, "/console/")
	tokB := csrf(t, get(t, b, st.URL+"/console/").body)
	if p := post(t, b, deny, url.Values{"csrf": {tokB}, "reason": {"me too"}}); p.status != http.StatusConflict {
		t.Fatalf("bob's denial of a denied request: %d, want 409", p.status)
	}
	if p := get(t, c, st.URL+"/console/requests/"+r.ID); strings.Contains(p.body, ">Approve<") || strings.Contains(p.body, ">Deny<") {
		t.Error("a denied request's page still offers Approve or Deny")
	}
}
