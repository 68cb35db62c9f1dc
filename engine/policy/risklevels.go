package policy

import (
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// libraryRisk is what the library says of risk, read from its Rego so that
// it is defined once, there (access.rego).
type libraryRisk struct {
	// levels are the approvals each level needs when a bundle's data has
	// no risk_levels: the value of `default risk_levels`.
	levels map[string]int
	// base is the risk every request starts at: the value of `base_risk`.
	base string
}

// readLibraryRisk reads access.rego's `default risk_levels` and `base_risk`.
// A library without them has no levels and no base risk (a bundle must then
// give data.trustgate.risk_levels, and no identity is taken to need no
// approval).
func readLibraryRisk(library map[string]*ast.Module) (libraryRisk, error) {
	risk := libraryRisk{levels: map[string]int{}}
	pkg := ast.MustParseRef("data.trustgate.access")
	for _, mod := range library {
		if !mod.Package.Path.Equal(pkg) {
			continue
		}
		for _, r := range mod.Rules {
			switch name := r.Head.Ref().String(); {
			case r.Default && name == "risk_levels":
				levels, err := riskLevelsOf(r.Head.Value)
				if err != nil {
					return libraryRisk{}, err
				}
				risk.levels = levels
			case !r.Default && name == "base_risk" && len(r.Body) == 1 && r.Body[0].IsGround():
				s, ok := r.Head.Value.Value.(ast.String)
				if !ok {
					return libraryRisk{}, fmt.Errorf("the library's base_risk is not a string")
				}
				risk.base = string(s)
			}
		}
	}
	return risk, nil
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
