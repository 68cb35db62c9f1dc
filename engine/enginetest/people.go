package enginetest

import "time"

// PersonClaims are a company IdP's ID token for a person (an approver of
// just-in-time access): sub, email, preferred_username and groups as a list
// of strings, as Okta, Entra ID and Keycloak put them, with iss and aud as
// given and a fresh jti and a five-minute lifetime from now.
func PersonClaims(iss, aud, sub string, groups ...string) map[string]any {
	gs := make([]any, len(groups))
	for i, g := range groups {
		gs[i] = g
	}
	c := map[string]any{
		"iss": iss, "aud": aud, "sub": sub,
		"email": sub + "@example.com", "email_verified": true, "preferred_username": sub,
		"groups": gs,
	}
	addTimes(c, time.Now())
	return c
}
