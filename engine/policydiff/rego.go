package policydiff

import (
	"encoding/json"
	"reflect"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// customPackage is where bundles' rules live; their deny rules veto.
var customPackage = ast.MustParseRef("data.trustgate.custom")

// modules compares Rego modules by file. A module whose rules are the
// same (comments and layout aside) is unchanged; one that only adds deny
// rules to package trustgate.custom narrows; anything else may open
// access, which only replay can tell.
func modules(what string, b, h map[string]*ast.Module) []Change {
	var out []Change
	for _, name := range unionKeys(b, h) {
		bm, hm := b[name], h[name]
		c := Change{What: what + " " + name}
		switch {
		case bm == nil:
			c.Kind = Added
		case hm == nil:
			c.Kind = Removed
		case bm.Equal(hm):
			continue
		default:
			c.Kind = Changed
		}
		if onlyAddsDeny(bm, hm) {
			c.Effect, c.Why = Narrows, "only deny rules are added"
		} else {
			c.Effect, c.Why = Both, "Rego changed: may open access; replay decides"
		}
		out = append(out, c)
	}
	return out
}

// onlyAddsDeny reports whether head (a module of package trustgate.custom)
// holds every rule of base (nil: none) and its other rules are deny rules
// that add to the veto: partial set rules (`deny contains msg if ...`) or
// rules that make deny true.
func onlyAddsDeny(base, head *ast.Module) bool {
	if head == nil || !head.Package.Path.Equal(customPackage) {
		return false
	}
	if base != nil && (!base.Package.Path.Equal(head.Package.Path) || !sameImports(base, head)) {
		return false
	}
	var kept []*ast.Rule
	if base != nil {
		kept = base.Rules
	}
	for _, r := range head.Rules {
		if i := slices.IndexFunc(kept, r.Equal); i >= 0 {
			kept = slices.Delete(slices.Clone(kept), i, i+1)
			continue
		}
		if !isDenyRule(r) {
			return false
		}
	}
	return len(kept) == 0
}

func sameImports(b, h *ast.Module) bool {
	if len(b.Imports) != len(h.Imports) {
		return false
	}
	for i := range b.Imports {
		if !b.Imports[i].Equal(h.Imports[i]) {
			return false
		}
	}
	return true
}

// isDenyRule: `deny contains x if ...`, or `deny if ...` (true), with no
// else and not a default.
func isDenyRule(r *ast.Rule) bool {
	if r.Default || r.Else != nil || len(r.Head.Args) > 0 || !r.Head.Ref().Equal(ast.Ref{ast.VarTerm("deny")}) {
		return false
	}
	switch r.Head.RuleKind() {
	case ast.MultiValue:
		return true
	case ast.SingleValue:
		return r.Head.Value == nil || r.Head.Value.Equal(ast.BooleanTerm(true))
	}
	return false
}

// data compares the data custom rules may read: any change of it may open
// access.
func data(prefix string, b, h map[string]any) []Change {
	var out []Change
	for _, k := range unionKeys(b, h) {
		if reflect.DeepEqual(b[k], h[k]) {
			continue
		}
		if prefix == "" && k == "trustgate" {
			out = append(out, data("trustgate.", asMap(b[k]), asMap(h[k]))...)
			continue
		}
		out = append(out, Change{What: "data " + prefix + k, Kind: Changed, Before: jsonText(b[k]), After: jsonText(h[k]), Effect: Both,
			Why: "data custom rules may read changed: may open access; replay decides"})
	}
	return out
}

func asMap(x any) map[string]any {
	m, _ := x.(map[string]any)
	return m
}

func jsonText(x any) string {
	if x == nil {
		return "(none)"
	}
	b, _ := json.Marshal(x)
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// entryData are the parts of data.trustgate the diff judges entry by
// entry; custom rules that read them may deny differently when they change.
var entryData = []string{"identities", "providers", "risk_levels", "index"}

// readsEntries reports whether a module reads identities, providers or
// risk levels, or data it cannot tell (all of data.trustgate, a key
// computed at run time).
func readsEntries(mods map[string]*ast.Module) bool {
	found := false
	for _, m := range mods {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if found || !r.HasPrefix(ast.DefaultRootRef) {
				return found
			}
			found = len(r) < 3 || !r[1].Equal(ast.StringTerm("trustgate")) && !r[1].IsGround() ||
				r[1].Equal(ast.StringTerm("trustgate")) && (!r[2].IsGround() || slices.ContainsFunc(entryData, func(k string) bool { return r[2].Equal(ast.StringTerm(k)) }))
			return found
		})
	}
	return found
}

// customReads is a change when custom rules read entries that changed.
func customReads(base, head map[string]*ast.Module, entriesChanged bool) []Change {
	if !entriesChanged || !readsEntries(base) && !readsEntries(head) {
		return nil
	}
	return []Change{{What: "custom Rego reading identities or providers", Kind: Changed, Effect: Both,
		Why: "custom rules read the identities, providers or risk levels that changed: what they deny may change too; replay decides"}}
}
