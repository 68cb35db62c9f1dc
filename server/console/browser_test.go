package console_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/trustgate/trustgate/engine/access"
)

// updateScreenshot rewrites docs/console.png from the browser test.
var updateScreenshot = flag.Bool("update-screenshot", false, "write docs/console.png from TestInTheBrowser…")

// chromium is the one browser the package's tests share, started at the
// first browser test; each test gets its own browser context (its own
// cookies) in it.
var chromium struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel []context.CancelFunc
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(chromium.cancel) - 1; i >= 0; i-- {
		chromium.cancel[i]()
	}
	os.Exit(code)
}

// tab is a fresh browser context of the shared chromium. Without chromium
// the test fails under CI=true and skips elsewhere.
func tab(t *testing.T) context.Context {
	t.Helper()
	path, err := lookChromium()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skipf("chromium is not installed (%v): `make test` installs it (scripts/ensure-packages.sh)", err)
	}
	chromium.once.Do(func() { startChromium(path) })
	if chromium.err != nil {
		t.Fatalf("start chromium: %v", chromium.err)
	}
	ctx, cancel := chromedp.NewContext(chromium.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

func lookChromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func startChromium(path string) {
	dir, err := os.MkdirTemp("", "trustgate-console-chromium-")
	if err != nil {
		chromium.err = err
		return
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(dir), chromedp.WindowSize(1100, 1000))
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	chromium.cancel = append(chromium.cancel, func() { _ = os.RemoveAll(dir) }, cancelAlloc, cancelBrowser)
	chromium.ctx = ctx
	chromium.err = chromedp.Do(ctx) // starts the browser
}

// run runs steps, failing the test on error.
func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// html is the page's body as the browser has it now.
func html(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInTheBrowserAnApproverSignsInApprovesSeesTheGrantAndRevokesIt(t *testing.T) {
	st := newStack(t)
	ctx := tab(t)
	r := st.request(t)
	st.People.Login().SignInAs(alice)

	// Sign in through the IdP's authorization endpoint: the console's
	// front page sends the browser there and back.
	run(t, ctx, chromedp.Navigate(st.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#pending")))
	if loc := location(t, ctx); loc != st.URL+"/console/" {
		t.Fatalf("after sign-in the browser is at %s", loc)
	}
	page := html(t, ctx)
	for _, want := range []string{identity, "migrate the orders table", "OPS-1234", "demo-group/demo-project", "0 of 1", "alice@example.com"} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	st.checkSessionCookie(t, ctx)
	if *updateScreenshot {
		screenshot(t, ctx)
	}

	// Approve with a reason.
	run(t, ctx, chromedp.Click(chromedp.CSS(`a.button[href="/console/requests/`+r.ID+`"]`)),
		chromedp.WaitVisible(chromedp.ID("approve-reason")),
		chromedp.SendKeys(chromedp.ID("approve-reason"), "checked with the on-call DBA"),
		chromedp.Click(chromedp.CSS("button.approve")),
		chromedp.WaitVisible(chromedp.CSS(".state-approved")))
	if page := html(t, ctx); !strings.Contains(page, "checked with the on-call DBA") || !strings.Contains(page, "Grant ends") {
		t.Error("the approved request's page lacks the review's reason or the grant's end")
	}
	if got := st.state(t, r.ID); got != access.StateApproved {
		t.Fatalf("the request is %s after the approval, want approved", got)
	}

	// The grant is active on the front page.
	run(t, ctx, chromedp.Navigate(st.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#active")))
	active, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section[aria-labelledby=active] table")))
	if err != nil || !strings.Contains(active, identity) || !strings.Contains(active, "in 59 minutes") && !strings.Contains(active, "in 1 hour") {
		t.Fatalf("active grants: %q (%v), want %s ending in about an hour", active, err, identity)
	}

	// Revoke it.
	run(t, ctx, chromedp.Navigate(st.URL+"/console/requests/"+r.ID), chromedp.WaitVisible(chromedp.ID("revoke-reason")),
		chromedp.SendKeys(chromedp.ID("revoke-reason"), "migration done"),
		chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".state-revoked")))
	if got := st.state(t, r.ID); got != access.StateRevoked {
		t.Fatalf("the request is %s after the revocation, want revoked", got)
	}

	st.signOut(t, ctx)
}

func TestInTheBrowserANonApproverIsToldSheMayReviewNothingAndAForgedPostIsRefused(t *testing.T) {
	st := newStack(t)
	ctx := tab(t)
	r := st.request(t)
	st.People.Login().SignInAs(mallory)
	run(t, ctx, chromedp.Navigate(st.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
	page := html(t, ctx)
	if strings.Contains(page, identity) || strings.Contains(page, r.ID) || !strings.Contains(page, "You may not review any request") {
		t.Errorf("a non-approver's dashboard lists the request, or does not say she may review nothing: %s", page)
	}
	if strings.Contains(page, "claim") {
		t.Error("a non-approver whose token has the groups claim is told of a missing claim")
	}
	tok, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`form.signout input[name=csrf]`)))
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Navigate(st.URL+"/console/requests/"+r.ID), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
	if page := html(t, ctx); strings.Contains(page, "Approve") || strings.Contains(page, identity) ||
		!strings.Contains(page, "You may not review any request") {
		t.Error("a non-approver's request page offers Approve, names the identity, or does not say she may review nothing")
	}
	// Her own CSRF token, so that only the policy stands in the way.
	forge(t, ctx, st.URL+"/console/requests/"+r.ID+"/approve", tok)
	if page := html(t, ctx); !strings.Contains(page, "404") {
		t.Errorf("a non-approver's forged approval was not refused: %s", page)
	}
	if got := st.state(t, r.ID); got != access.StatePending {
		t.Fatalf("the request is %s after a non-approver's forged approval, want pending", got)
	}
}

func TestInTheBrowserAnApproverWhoseIdPSendsNoGroupsIsToldTheClaimApproversAreMatchedOn(t *testing.T) {
	st := newStack(t)
	// An IdP that does not list the groups scope: the console does not
	// ask for it, so alice's ID token has no groups claim.
	st.People.Login().SupportScopes("openid", "profile", "email")
	ctx := tab(t)
	r := st.request(t)
	st.People.Login().SignInAs(alice)
	run(t, ctx, chromedp.Navigate(st.URL+"/console/requests/"+r.ID), chromedp.WaitVisible(chromedp.CSS(".why")))
	page := html(t, ctx)
	if !strings.Contains(page, "Your sign-in has no <code>groups</code> claim; approvers are matched on <code>groups</code>.") {
		t.Errorf("the page does not name the missing claim: %s", page)
	}
	for _, secret := range []string{identity, r.ID, "prod-approvers", "demo-group"} {
		if strings.Contains(page, secret) {
			t.Errorf("the no-access page reveals %q", secret)
		}
	}
	logged := st.Logs.FilterMessage("console: the signed-in person approves no just-in-time identity").All()
	if len(logged) == 0 || fmt.Sprint(logged[0].ContextMap()["missing_claims"]) != "[groups]" {
		t.Errorf("the log does not give the missing claim: %v", logged)
	}
	for _, e := range logged {
		fields := fmt.Sprint(e.ContextMap())
		for _, secret := range []string{identity, r.ID, "prod-approvers", "demo-group"} {
			if strings.Contains(fields, secret) {
				t.Errorf("the no-access log line reveals %q: %s", secret, fields)
			}
		}
	}
}

func TestInTheBrowserAFormWithoutItsCSRFTokenIsRefused(t *testing.T) {
	st := newStack(t)
	ctx := tab(t)
	r := st.request(t)
	st.People.Login().SignInAs(alice)
	run(t, ctx, chromedp.Navigate(st.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#pending")))
	forge(t, ctx, st.URL+"/console/requests/"+r.ID+"/approve", "")
	if page := html(t, ctx); !strings.Contains(page, "403") || !strings.Contains(page, "not sent from your console session") {
		t.Errorf("an approval without the CSRF token was not refused with 403: %s", page)
	}
	if got := st.state(t, r.ID); got != access.StatePending {
		t.Fatalf("the request is %s after a forged approval, want pending", got)
	}
}

// forge submits, from a page of another origin, a form posting an approval
// to action, with csrf as its token ("" leaves the field out).
func forge(t *testing.T, ctx context.Context, action, csrf string) {
	t.Helper()
	field := ""
	if csrf != "" {
		field = `<input type="hidden" name="csrf" value="` + csrf + `">`
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = fmt.Fprintf(w, `<!doctype html><form method="post" action="%s">%s<input name="reason" value="forged">`+
			`<button id="go" type="submit">win a prize</button></form>`, action, field)
	}))
	t.Cleanup(evil.Close)
	run(t, ctx, chromedp.Navigate(evil.URL), chromedp.Click(chromedp.ID("go")), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
}

// checkSessionCookie checks the session cookie as the browser stored it.
func (st *stack) checkSessionCookie(t *testing.T, ctx context.Context) {
	t.Helper()
	c := sessionCookie(t, ctx, st.URL)
	if c == nil {
		t.Fatal("the browser holds no session cookie")
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/console/" || c.Secure {
		t.Errorf("session cookie: HttpOnly %v, SameSite %q, Path %q, Secure %v; want HttpOnly, Lax, /console/, not Secure on loopback http",
			c.HTTPOnly, c.SameSite, c.Path, c.Secure)
	}
	if left := time.Until(time.Unix(int64(c.Expires), 0)); left <= 0 || left > time.Hour+time.Minute {
		t.Errorf("the session cookie expires in %s, want with the ID token (1h)", left)
	}
}

func sessionCookie(t *testing.T, ctx context.Context, base string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "trustgate_console" {
			return c
		}
	}
	return nil
}

// screenshot writes the dashboard as docs/console.png.
func screenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "console.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signOut signs out with the header's button and checks that the session
// cookie is gone and the front page asks for a sign-in again.
func (st *stack) signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	// Sign out: the session cookie is gone and the front page asks for a
	// sign-in again.
	run(t, ctx, chromedp.Click(chromedp.CSS("form.signout button")), chromedp.WaitVisible(chromedp.CSS(`a[href="/console/login"]`)))
	if c := sessionCookie(t, ctx, st.URL); c != nil {
		t.Errorf("after sign-out the browser still holds the session cookie")
	}
	st.People.Login().SignInAs(nil) // the IdP now refuses, so a sign-in cannot happen silently
	run(t, ctx, chromedp.Navigate(st.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)))
	if page := html(t, ctx); !strings.Contains(page, "Sign-in failed") {
		t.Errorf("after sign-out the front page did not go through the sign-in")
	}
}

func TestInTheBrowserThePagesFitAPhoneAndLabelEveryControl(t *testing.T) {
	st := newStack(t)
	ctx := tab(t)
	r := st.request(t)
	st.People.Login().SignInAs(alice)
	run(t, ctx, chromedp.EmulateViewport(375, 800))
	for _, path := range []string{"/console/", "/console/requests/" + r.ID} {
		run(t, ctx, chromedp.Navigate(st.URL+path), chromedp.WaitVisible(chromedp.CSS("main")))
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil || width > 375 {
			t.Errorf("%s is %d px wide at phone width 375 (%v)", path, width, err)
		}
		labelled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("textarea, select, input:not([type=hidden])")]`+
			`.every(e => e.labels && e.labels.length > 0) && [...document.querySelectorAll("button")].every(b => b.textContent.trim() !== "")`))
		if err != nil || !labelled {
			t.Errorf("%s has a control without a label or a button without text (%v)", path, err)
		}
	}
}
