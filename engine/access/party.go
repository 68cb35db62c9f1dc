package access

import (
	"fmt"
	"strings"
)

// Party is a verified token: who is asking or reviewing. Callers build it
// only from a token they have verified (signature, issuer, audience, times).
type Party struct {
	// Provider is the provider's name in the bundle; Issuer and Platform
	// are its issuer and platform.
	Provider, Issuer, Platform string
	// Claims are the token's claims, strictly parsed.
	Claims map[string]any
}

// Subject is the token's sub.
func (p Party) Subject() string { return p.claim("sub") }

// Person is the party as the history names it.
func (p Party) Person() Person {
	name := p.claim("email")
	if name == "" {
		name = p.claim("preferred_username")
	}
	return Person{Provider: p.Provider, Issuer: p.Issuer, Subject: p.Subject(), Name: name}
}

// Is reports whether the party is the person: the same issuer and sub.
func (p Party) Is(who Person) bool {
	return p.Issuer == who.Issuer && p.Subject() == who.Subject
}

// claim is a string claim, or a number's text; "" for anything else.
func (p Party) claim(name string) string {
	switch v := p.Claims[name].(type) {
	case string:
		return v
	case fmt.Stringer: // json.Number
		return v.String()
	default:
		return ""
	}
}

// factNames are the claims a request keeps of its requester: what a
// reviewer needs to judge it, and what the review policy needs to tell the
// person behind a pipeline. Nothing else of the token is stored.
var factNames = []string{
	"project_path", "namespace_path", "ref", "ref_type", "ref_protected", "pipeline_id", "pipeline_source",
	"job_id", "environment", "user_login", "user_email", "repository", "run_id", "workflow", "actor",
	"event_name", "email", "preferred_username",
}

// facts are the requester's allowlisted claims, bounded in length.
func (p Party) facts() map[string]string {
	out := make(map[string]string, len(factNames))
	for _, name := range factNames {
		if v := p.claim(name); v != "" {
			out[name] = truncate(v, maxFactLen)
		}
	}
	return out
}

const maxFactLen = 512

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
