package policydiff

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// comparison is one Compare.
type comparison struct {
	base, head *policy.Model
}

// Compare reports what differs between base and head and what each
// difference does to access.
func Compare(base, head *policy.Model) *Report {
	c := &comparison{base: base, head: head}
	r := &Report{}
	r.Providers = c.providers()
	r.Identities = c.identities()
	r.Policy = append(r.Policy, c.ambiguity()...)
	r.Policy = append(r.Policy, riskLevels(base.RiskLevels, head.RiskLevels)...)
	r.Policy = append(r.Policy, modules("Rego", base.Modules, head.Modules)...)
	r.Policy = append(r.Policy, modules("Rego", base.Library, head.Library)...) // named library/...
	r.Policy = append(r.Policy, data("", base.Data, head.Data)...)
	entriesChanged := len(r.Providers) > 0 || len(r.Identities) > 0 || !maps.Equal(base.RiskLevels, head.RiskLevels)
	r.Policy = append(r.Policy, customReads(base.Modules, head.Modules, entriesChanged)...)
	r.finish()
	return r
}

// samePlatform says whether provider reads refs alike in base and head.
func (c *comparison) samePlatform(provider string) bool {
	b, inB := c.base.Providers[provider]
	h, inH := c.head.Providers[provider]
	return inB && inH && b.Platform == h.Platform
}

func (c *comparison) providers() []Section {
	return sections(c.base.Providers, c.head.Providers,
		func(h verify.Provider) Change {
			return Change{What: "provider", Kind: Added, After: h.Issuer,
				Why: "its tokens are verified; what they are granted is each federation of it, judged below"}
		},
		func(b verify.Provider) Change {
			return Change{What: "provider", Kind: Removed, Before: b.Issuer, Effect: Narrows}
		},
		func(_ string, b, h verify.Provider) []Change { return provider(b, h) })
}

func (c *comparison) identities() []Section {
	return sections(c.base.Identities, c.head.Identities,
		c.newIdentity,
		func(b policy.Identity) Change {
			return Change{What: "identity", Kind: Removed, Before: fmt.Sprintf("%d federations", len(b.Federations)), Effect: Narrows}
		},
		func(name string, b, h policy.Identity) []Change {
			if reflect.DeepEqual(b, h) {
				return nil
			}
			return c.identity(name, b, h)
		})
}

// sections compares the entries of base and head by name: a Section for
// each entry added, removed or changed, with the changes the funcs give.
// An entry in both with no change has none.
func sections[V any](base, head map[string]V, added, removed func(V) Change, changed func(name string, b, h V) []Change) []Section {
	var out []Section
	for _, name := range unionKeys(base, head) {
		b, inB := base[name]
		h, inH := head[name]
		s := Section{Name: name}
		switch {
		case !inB:
			s.Kind, s.Changes = Added, []Change{added(h)}
		case !inH:
			s.Kind, s.Changes = Removed, []Change{removed(b)}
		default:
			s.Kind, s.Changes = Changed, changed(name, b, h)
		}
		if len(s.Changes) > 0 {
			s.Effect = effectOf(s.Changes)
			out = append(out, s)
		}
	}
	return out
}

func (c *comparison) newIdentity(h policy.Identity) Change {
	ch := Change{What: "identity", Kind: Added, After: fmt.Sprintf("%d federations, scopes %s, roles %s", len(h.Federations), list(h.Scopes), list(h.Roles)), Effect: Widens}
	if len(h.Federations) > 0 {
		ch.Example = "tokens of provider " + h.Federations[0].Provider + " that meet " + describe(h.Federations[0])
	}
	if h.JIT != nil {
		ch.Why = "just-in-time: granted through approved requests"
	}
	return ch
}

// ambiguity finds identities a token may now get when the caller names
// none. Such a token is granted only when exactly one standing identity
// accepts it: an identity that stops accepting tokens (a federation
// narrowed or removed, an expiry added, made just-in-time, removed) may
// leave another identity the only one, granting a token base refused as
// ambiguous. Unless their subjects or refs cannot both match, each other
// standing identity with a federation of the same provider is reported.
func (c *comparison) ambiguity() []Change {
	var out []Change
	for _, a := range slices.Sorted(maps.Keys(c.base.Identities)) {
		lost := c.lostFederations(a)
		if len(lost) == 0 {
			continue
		}
		for _, other := range slices.Sorted(maps.Keys(c.head.Identities)) {
			o := c.head.Identities[other]
			if other == a || o.JIT != nil {
				continue
			}
			if ch, ok := c.overlapping(a, lost, other, o); ok {
				out = append(out, ch)
			}
		}
	}
	return out
}

// lostFederations are the base federations of standing identity a whose
// tokens head may no longer grant it when no identity is named.
func (c *comparison) lostFederations(a string) []policy.Federation {
	b := c.base.Identities[a]
	if b.JIT != nil {
		return nil // never chosen when none is named
	}
	h, inH := c.head.Identities[a]
	if inH && reflect.DeepEqual(b.Federations, h.Federations) && b.ExpiresAt.Equal(h.ExpiresAt) && h.JIT == nil {
		return nil
	}
	if !inH || h.JIT != nil || (!h.ExpiresAt.IsZero() && (b.ExpiresAt.IsZero() || h.ExpiresAt.Before(b.ExpiresAt))) {
		return b.Federations
	}
	m := c.matchers("federation", b.Federations, h.Federations)
	var out []policy.Federation
	for _, i := range m.lost() {
		out = append(out, b.Federations[i])
	}
	return out
}

func (c *comparison) overlapping(a string, lost []policy.Federation, other string, o policy.Identity) (Change, bool) {
	for _, x := range lost {
		for j, y := range o.Federations {
			if disjoint(x, y, c.samePlatform(x.Provider)) {
				continue
			}
			return Change{
				What:   "identity " + other + " when the caller names none",
				Kind:   Changed,
				Effect: Widens,
				Why: fmt.Sprintf("tokens identity %s no longer accepts (%s) may also meet %s's federation %d: base refused them as ambiguous, head grants %s",
					a, describe(x), other, j, other),
				Example: "a token meeting both, with no identity named",
			}, true
		}
	}
	return Change{}, false
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
