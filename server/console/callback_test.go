package console_test

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTheCallbackRefusesALoginItCannotTrust covers what the state and the
// PKCE verifier do not: an ID token for another nonce, a login cookie
// past its ten minutes, and an ID token too large to keep in a cookie.
func TestTheCallbackRefusesALoginItCannotTrust(t *testing.T) {
	st := newStack(t)
	tests := []struct {
		name string
		// idp is the authorize URL to visit, given the console's.
		idp    func(authorize string) string
		person map[string]any
		wait   time.Duration
		says   string
		// cause is what the log says of the refusal: "Sign-in failed"
		// alone does not tell one check from another.
		cause string
	}{
		{name: "An ID token issued for another nonce is refused (OpenID Connect Core §3.1.3.7 step 11).",
			idp: func(a string) string { return replaceParam(a, "nonce", "forged-nonce") }, person: alice, says: "Sign-in failed",
			cause: "nonce does not match"},
		{name: "A login cookie older than ten minutes is refused.", person: alice, wait: 10 * time.Minute, says: "Sign-in failed",
			cause: "no login in progress"},
		{name: "An ID token too large for a session cookie is refused, not truncated.",
			person: padded(alice, 4000), says: "too large for a session cookie", cause: "too large for a session cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := browser(t)
			st.People.Login().SignInAs(tt.person)
			p := get(t, c, st.URL+"/console/login")
			authorize := p.location
			if tt.idp != nil {
				authorize = tt.idp(authorize)
			}
			idp := get(t, c, authorize)
			st.advance(tt.wait)
			cb := get(t, c, idp.location)
			if cb.status != http.StatusBadRequest || !strings.Contains(cb.body, tt.says) {
				t.Fatalf("%d, want 400 saying %q: %s", cb.status, tt.says, cb.body)
			}
			refused := st.Logs.FilterMessage("console request refused").All()
			if len(refused) == 0 {
				t.Fatal("the refused callback was not logged")
			}
			if last := refused[len(refused)-1].ContextMap(); last["action"] != "callback" || !strings.Contains(fmt.Sprint(last["error"]), tt.cause) {
				t.Fatalf("logged %v, want the callback refused because %q", last, tt.cause)
			}
			if p := get(t, c, st.URL+"/console/"); p.status != http.StatusSeeOther {
				t.Errorf("after a refused callback the console answers %d, want 303 to the login", p.status)
			}
		})
	}
}

// padded is person with a claim of n bytes: 4000 is the console's cookie
// limit.
func padded(person map[string]any, n int) map[string]any {
	p := maps.Clone(person)
	p["padding"] = strings.Repeat("p", n)
	return p
}
