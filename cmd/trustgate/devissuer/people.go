package devissuer

import (
	"net/http"
	"strings"
)

// PeoplePath is where the dev issuer's second issuer lives: a company IdP
// that mints people's ID tokens (for approvers of just-in-time access). Its
// issuer URL is Config.Issuer + PeoplePath.
const PeoplePath = "/people"

// PeopleIssuer is the issuer URL (`iss`) of people's tokens.
func (i *Issuer) PeopleIssuer() string { return i.cfg.Issuer + PeoplePath }

func (i *Issuer) peopleDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                i.PeopleIssuer(),
		"jwks_uri":                              i.PeopleIssuer() + "/keys",
		"authorization_endpoint":                i.cfg.Issuer + authorizePath,
		"token_endpoint":                        i.cfg.Issuer + tokenPath,
		"device_authorization_endpoint":         i.cfg.Issuer + deviceAuthPath,
		"grant_types_supported":                 []string{"authorization_code", deviceGrantType},
		"code_challenge_methods_supported":      []string{"S256"},
		"response_types_supported":              []string{"code", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

// person mints a people-IdP-shaped ID token: GET /token?kind=person&sub=alice
// &groups=prod-approvers,sre (groups comma-separated, a list in the token),
// optionally &email= and &aud=. email and preferred_username default from
// sub.
func (i *Issuer) person(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub := q.Get("sub")
	if sub == "" {
		http.Error(w, "kind=person needs sub", http.StatusBadRequest)
		return
	}
	aud, email := q.Get("aud"), q.Get("email")
	if aud == "" {
		aud = i.cfg.Audience
	}
	if email == "" {
		email = sub + "@example.com"
	}
	groups := []string{}
	for _, g := range strings.Split(q.Get("groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	i.writeMinted(w, map[string]any{
		"iss": i.PeopleIssuer(), "aud": aud, "sub": sub,
		"email": email, "email_verified": true, "preferred_username": sub, "groups": groups,
	})
}
