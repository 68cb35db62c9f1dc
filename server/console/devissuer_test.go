package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/cmd/trustgate/devissuer"
)

// TestTheDevIssuerSignsADemoApproverInToTheConsole is `make run`'s
// console: the dev issuer's people issuer as the IdP, its sign-in page,
// the client id the server's URL.
func TestTheDevIssuerSignsADemoApproverInToTheConsole(t *testing.T) {
	st := newStackWith(t, func(st *stack) idp {
		hs := httptest.NewUnstartedServer(nil)
		base := "http://" + hs.Listener.Addr().String()
		iss, err := devissuer.New(devissuer.Config{Issuer: base, Audience: st.URL})
		if err != nil {
			t.Fatal(err)
		}
		hs.Config.Handler = iss.Handler()
		hs.Start()
		t.Cleanup(hs.Close)
		return idp{issuer: iss.PeopleIssuer(), clientID: st.URL, secret: devissuer.ConsoleClientSecret}
	})
	r := st.request(t)
	c := browser(t)
	p := get(t, c, st.URL+"/console/login?next=/console/requests/"+r.ID)
	page := get(t, c, p.location)
	if page.status != http.StatusOK || !strings.Contains(page.body, `value="alice"`) || !strings.Contains(page.body, `value="carol"`) {
		t.Fatalf("the dev issuer's sign-in page: %d, without the demo people", page.status)
	}
	picked := get(t, c, p.location+"&person=alice") // what submitting the page's form asks for
	cb := get(t, c, picked.location)
	if cb.status != http.StatusSeeOther || cb.location != "/console/requests/"+r.ID {
		t.Fatalf("callback: %d to %q: %s", cb.status, cb.location, cb.body)
	}
	if p := get(t, c, st.URL+cb.location); p.status != http.StatusOK || !strings.Contains(p.body, ">Approve<") {
		t.Fatalf("alice's request page: %d, Approve offered: %v", p.status, strings.Contains(p.body, ">Approve<"))
	}
}
