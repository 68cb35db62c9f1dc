package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// askedScopes starts a sign-in and returns the scope the console asks the
// IdP for.
func (st *stack) askedScopes(t *testing.T) string {
	t.Helper()
	p := get(t, browser(t), st.URL+"/console/login")
	u, err := url.Parse(p.location)
	if err != nil || p.status != http.StatusSeeOther {
		t.Fatalf("login: %d to %q", p.status, p.location)
	}
	return u.Query().Get("scope")
}

func TestTheSignInAsksForGroupsOnlyWhenTheIdPListsIt(t *testing.T) {
	tests := []struct {
		name      string
		supported []string // nil: the test IdP's default, groups included
		config    []string
		want      string
	}{
		{name: "An IdP that lists groups is asked for it.", want: "openid profile email groups"},
		{name: "An IdP that does not list groups is never sent it.", supported: []string{"openid", "profile", "email"},
			want: "openid profile email"},
		{name: "Configured scopes are asked for exactly.", config: []string{"openid", "email", "groups"},
			want: "openid email groups"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStackWith(t, func(st *stack) idp {
				st.People.Login().AddClient(clientID, clientSecret, st.URL+"/console/callback")
				if tc.supported != nil {
					st.People.Login().SupportScopes(tc.supported...)
				}
				return idp{issuer: st.People.URL(), clientID: clientID, secret: clientSecret, scopes: tc.config}
			})
			if got := st.askedScopes(t); got != tc.want {
				t.Fatalf("the console asks for %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTheWellKnownDocumentTellsTheCLIHowToSignIn(t *testing.T) {
	st := newStack(t)
	p := get(t, http.DefaultClient, st.URL+"/.well-known/trustgate-console")
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /.well-known/trustgate-console: %d %s", p.status, p.body)
	}
	var got struct {
		Issuer   string   `json:"issuer"`
		ClientID string   `json:"client_id"`
		Scopes   []string `json:"scopes"`
		Device   bool     `json:"device"`
	}
	if err := json.Unmarshal([]byte(p.body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Issuer != st.People.URL() || got.ClientID != cliClientID || !slices.Equal(got.Scopes, []string{"openid", "profile", "email", "groups"}) || got.Device {
		t.Fatalf("the document says %+v", got)
	}
	if strings.Contains(p.body, clientSecret) || strings.Contains(p.body, clientID+`"`) {
		t.Fatalf("the document names the console's own client or its secret: %s", p.body)
	}
}

func TestWithoutACLIClientTheDocumentOffersOnlyAConsoleClientWithoutASecret(t *testing.T) {
	tests := []struct {
		name, secret, want string
	}{
		{name: "A console client without a secret is the CLI's too.", want: clientID},
		{name: "A console client with a secret is never offered to the CLI.", secret: clientSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStackWith(t, func(st *stack) idp {
				st.People.Login().AddClient(clientID, tc.secret, st.URL+"/console/callback")
				return idp{issuer: st.People.URL(), clientID: clientID, secret: tc.secret, noCLI: true}
			})
			p := get(t, http.DefaultClient, st.URL+"/.well-known/trustgate-console")
			var got struct {
				ClientID *string `json:"client_id"`
			}
			if err := json.Unmarshal([]byte(p.body), &got); p.status != http.StatusOK || err != nil {
				t.Fatalf("GET /.well-known/trustgate-console: %d %s (%v)", p.status, p.body, err)
			}
			if tc.want == "" && got.ClientID != nil || tc.want != "" && (got.ClientID == nil || *got.ClientID != tc.want) {
				t.Fatalf("the document says client_id %s, want %q", p.body, tc.want)
			}
		})
	}
}
