package policydiff

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/trustgate/trustgate/engine/globlang"
	"github.com/trustgate/trustgate/engine/policy"
)

// condition is one condition of a federation: a claim of the token (or
// the ref the library derives from it) must match one of globs.
type condition struct {
	name  string // "subject", "claim project_path", "refs", "environments"
	claim string // the claim it reads; "" for the ref
	globs []string
	text  string // as written
}

// refCondition reads the ref the library derives (token_ref in
// match.rego), which is always a string.
func (c condition) isRef() bool { return c.claim == "" }

// conditions are a federation's conditions, in a fixed order.
func conditions(f policy.Federation) []condition {
	var out []condition
	if f.Subject != "" {
		out = append(out, condition{name: "subject", claim: "sub", globs: []string{f.Subject}, text: f.Subject})
	}
	for _, name := range sortedKeys(f.Claims) {
		p := f.Claims[name]
		out = append(out, condition{name: "claim " + name, claim: name, globs: p.Globs, text: patternText(p.Globs, p.List)})
	}
	if f.Refs != nil {
		out = append(out, condition{name: "refs", globs: f.Refs, text: patternText(f.Refs, true)})
	}
	if f.Environments != nil {
		out = append(out, condition{name: "environments", claim: "environment", globs: f.Environments, text: patternText(f.Environments, true)})
	}
	return out
}

func patternText(globs []string, list bool) string {
	if !list && len(globs) == 1 {
		return globs[0]
	}
	b, _ := json.Marshal(globs)
	return string(b)
}

// implication is whether every token meeting one condition meets another,
// and when not, a claim value that meets the first only.
type implication struct {
	holds   bool
	example string // claim=value
	why     string
}

// implies decides whether every token that meets h meets b. Both must read
// the same claim. A string claim meets a condition when a glob matches it,
// a list of strings when one of its elements does; any other value only
// when a glob equals its JSON text, so such a glob of h must be one of b's
// too.
func implies(h, b condition) implication {
	if h.claim != b.claim || h.isRef() != b.isRef() {
		return implication{why: "they read different claims"}
	}
	hs, err := globlang.Compile(h.globs...)
	if err != nil {
		return implication{why: err.Error()}
	}
	bs, err := globlang.Compile(b.globs...)
	if err != nil {
		return implication{why: err.Error()}
	}
	ok, witness, err := globlang.Includes(hs, bs)
	switch {
	case err != nil:
		return implication{why: err.Error() + ": counted as wider"}
	case !ok:
		return implication{example: h.example(witness)}
	}
	if !h.isRef() {
		for _, g := range h.globs {
			if isJSONText(g) && !slices.Contains(b.globs, g) {
				return implication{example: h.example(g), why: fmt.Sprintf("a claim that is not a string matches only a pattern equal to its JSON text, %s", g)}
			}
		}
	}
	return implication{holds: true}
}

func (c condition) example(value string) string {
	if c.isRef() {
		return "ref " + value
	}
	return c.claim + "=" + value
}

// isJSONText reports whether g could be the JSON text of a claim that is
// neither a string nor a list of strings (a number, true, an object...).
func isJSONText(g string) bool {
	t := strings.TrimSpace(g)
	return json.Valid([]byte(t)) && !strings.HasPrefix(t, `"`)
}

// coverage is whether one federation accepts every token another does.
type coverage struct {
	holds   bool
	example string // of a token the other accepts and this one refuses
	why     string
}

// covers decides whether b accepts every token h accepts: both of one
// provider, of one platform in base and head (refs are read by platform),
// and each condition of b implied by a condition of h on the same claim.
// Conditions are independent, so this is exact but for several conditions
// of h that only together imply one of b's: then it says no, which is the
// safe answer.
func covers(b, h policy.Federation, samePlatform bool) coverage {
	if b.Provider != h.Provider {
		return coverage{why: "another provider"}
	}
	if !samePlatform {
		return coverage{why: fmt.Sprintf("provider %s changed platform: refs are read anew", h.Provider)}
	}
	hc := conditions(h)
	for _, bc := range conditions(b) {
		var best implication
		found := false
		for _, c := range hc {
			imp := implies(c, bc)
			if imp.holds {
				found = true
				break
			}
			if c.claim == bc.claim && c.isRef() == bc.isRef() && best.example == "" {
				best = imp
			}
		}
		if found {
			continue
		}
		if best.example == "" {
			best.example = droppedExample(bc)
			best.why = bc.name + " " + bc.text + " is no longer required"
		}
		return coverage{example: best.example, why: best.why}
	}
	return coverage{holds: true}
}

func droppedExample(c condition) string {
	if c.isRef() {
		return "any ref"
	}
	return "any " + c.claim
}

// disjoint reports whether no token meets both x and y: of another
// provider, or with a subject or ref (always strings) that no value
// matches in both. Other claims may be lists, whose elements could meet
// both conditions, so they prove nothing.
func disjoint(x, y policy.Federation, samePlatform bool) bool {
	if x.Provider != y.Provider {
		return true
	}
	for _, cx := range conditions(x) {
		if cx.claim != "sub" && (!cx.isRef() || !samePlatform) {
			continue
		}
		for _, cy := range conditions(y) {
			if cy.claim != cx.claim || cy.isRef() != cx.isRef() {
				continue
			}
			xs, err1 := globlang.Compile(cx.globs...)
			ys, err2 := globlang.Compile(cy.globs...)
			if err1 != nil || err2 != nil {
				continue
			}
			if overlap, _, err := globlang.Overlap(xs, ys); err == nil && !overlap {
				return true
			}
		}
	}
	return false
}

// conditionChanges are the conditions of a federation that differ from
// before to after, each with its own effect.
func conditionChanges(before, after policy.Federation) []Change {
	var out []Change
	if before.Provider != after.Provider {
		out = append(out, Change{What: "provider", Kind: Changed, Before: before.Provider, After: after.Provider, Effect: Both,
			Why: "tokens of another provider", Example: "tokens of provider " + after.Provider})
	}
	bcs, acs := conditions(before), conditions(after)
	for _, name := range conditionNames(bcs, acs) {
		b, hasB := find(bcs, name)
		a, hasA := find(acs, name)
		switch {
		case hasB && !hasA:
			out = append(out, Change{What: name, Kind: Removed, Before: b.text, After: "(any)", Effect: Widens,
				Why: "the condition is dropped", Example: droppedExample(b)})
		case hasA && !hasB:
			out = append(out, Change{What: name, Kind: Added, Before: "(any)", After: a.text, Effect: Narrows})
		case a.text != b.text || !slices.Equal(a.globs, b.globs):
			out = append(out, changedCondition(name, b, a))
		}
	}
	return out
}

func changedCondition(name string, b, a condition) Change {
	c := Change{What: name, Kind: Changed, Before: b.text, After: a.text}
	wider := implies(a, b)
	if !wider.holds {
		c.Effect |= Widens
		c.Example, c.Why = wider.example, wider.why
	}
	if !implies(b, a).holds {
		c.Effect |= Narrows
	}
	if c.Effect == None {
		c.Why = "the same values match"
	}
	return c
}

func conditionNames(lists ...[]condition) []string {
	var names []string
	for _, l := range lists {
		for _, c := range l {
			if !slices.Contains(names, c.name) {
				names = append(names, c.name)
			}
		}
	}
	return names
}

func find(cs []condition, name string) (condition, bool) {
	for _, c := range cs {
		if c.name == name {
			return c, true
		}
	}
	return condition{}, false
}

// describe is a federation in one line.
func describe(f policy.Federation) string {
	parts := []string{"provider " + f.Provider}
	for _, c := range conditions(f) {
		parts = append(parts, c.name+" "+c.text)
	}
	return strings.Join(parts, ", ")
}
