package policy

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/scope"
)

// identity validates one identity; nil when it has any problem. Keys of
// problems are built only when there is one: this runs once per identity.
func (v *validator) identity(name string, raw any, providers, identities map[string]any) *identity {
	key := "trustgate.identities." + name
	file := v.m.owner(key)
	before := len(v.problems)
	obj := v.entry(file, key, name, raw, identityKeys)
	if obj == nil {
		return nil
	}
	id := &identity{
		name:      name,
		email:     v.str(file, key, obj, "email", false),
		roles:     v.shared(v.strs(file, key, obj, "roles")),
		scopes:    v.shared(v.strs(file, key, obj, "scopes")),
		audiences: v.shared(v.strs(file, key, obj, "audiences")),
	}
	v.str(file, key, obj, "description", false)
	if id.email != "" {
		if a, err := mail.ParseAddress(id.email); err != nil || a.Address != id.email {
			v.add(file, key+".email", "%q is not a plain email address", id.email)
		} else if _, clash := identities[id.email]; clash && id.email != name {
			v.add(file, key+".email", "%q is also the name of an identity: a caller naming it would be ambiguous", id.email)
		}
	}
	for i, s := range id.scopes {
		if !scope.Valid(s) {
			v.add(file, fmt.Sprintf("%s.scopes[%d]", key, i), "%q is not a scope (RFC 6749: printable ASCII without spaces, quotes or backslashes)", s)
		}
	}
	if d, ok := v.duration(file, key, obj, "ttl"); ok {
		if d%time.Second != 0 {
			v.add(file, key+".ttl", "want whole seconds, not %s", d)
		}
		id.ttl = d
	}
	if at := v.str(file, key, obj, "expires_at", false); at != "" {
		if _, err := time.Parse(time.RFC3339, at); err != nil {
			v.add(file, key+".expires_at", "want an RFC 3339 time such as \"2027-06-30T00:00:00Z\", not %q", at)
		}
	}
	feds, present := obj["federations"]
	list, isList := feds.([]any)
	switch {
	case present && !isList:
		v.add(file, key+".federations", "want a list, not %s", describe(feds))
	case len(list) == 0:
		v.add(file, key+".federations", "an identity with no federations never matches: add one, or remove the identity")
	}
	for i, f := range list {
		v.federation(file, fedKey{identity: key, list: "federations", index: i}, f, providers)
	}
	id.jit = v.jit(file, key, obj, providers)
	if len(v.problems) > before {
		return nil
	}
	return id
}

// shared returns list, or an equal list seen before: identities repeat the
// same roles, scopes and audiences, and the index keeps one copy of each.
// Validated lists are never modified.
func (v *validator) shared(list []string) []string {
	if len(list) == 0 {
		return list
	}
	var b strings.Builder
	for _, x := range list {
		b.WriteString(strconv.Itoa(len(x)))
		b.WriteByte(':')
		b.WriteString(x)
	}
	key := b.String() // each element's length first: no two lists share a key
	if seen, ok := v.lists[key]; ok {
		return seen
	}
	v.lists[key] = list
	return list
}
