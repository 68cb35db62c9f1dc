package policy

import (
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// libraryRiskLevels reads the risk levels the library gives when a bundle's
// data has none: the value of access.rego's `default risk_levels`, so the
// levels are defined once, in Rego. A library without that default has no
// levels (every request it rates then needs data.trustgate.risk_levels).
func libraryRiskLevels(library map[string]*ast.Module) (map[string]int, error) {
	pkg := ast.MustParseRef("data.trustgate.access")
	for _, mod := range library {
		if !mod.Package.Path.Equal(pkg) {
			continue
		}
		for _, r := range mod.Rules {
			if r.Default && r.Head.Ref().String() == "risk_levels" {
				return riskLevelsOf(r.Head.Value)
			}
		}
	}
	return map[string]int{}, nil
}

// riskLevelsOf turns {name: {"approvals": N}} into name → N.
func riskLevelsOf(term *ast.Term) (map[string]int, error) {
	raw, err := ast.JSON(term.Value)
	if err != nil {
		return nil, fmt.Errorf("the library's default risk_levels: %w", err)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the library's default risk_levels is not an object")
	}
	levels := make(map[string]int, len(obj))
	for name, x := range obj {
		level, _ := x.(map[string]any)
		n, ok := level["approvals"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("the library's default risk level %q has no whole number of approvals", name)
		}
		i, err := n.Int64()
		if err != nil || i < 0 {
			return nil, fmt.Errorf("the library's default risk level %q has no whole number of approvals", name)
		}
		levels[name] = int(i)
	}
	return levels, nil
}
