package policy

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// removedBuiltins are taken out of OPA's default capabilities on top of every
// builtin OPA itself marks non-deterministic (see Capabilities).
var removedBuiltins = []string{
	// Unbounded output that evaluation cannot interrupt: expanding a /8 is
	// 16M strings allocated inside one builtin call, deadline or not.
	"net.cidr_expand",
}

// Capabilities returns the capabilities policies are compiled with, by the
// server and by `trustgate test` alike: OPA's defaults minus
//
//   - every builtin OPA marks non-deterministic: http.send and
//     net.lookup_ip_addr (network I/O), opa.runtime (the process environment
//     and configuration), json.match_schema and json.verify_schema (may fetch
//     remote schema $refs), rand.intn and uuid.rfc4122 (randomness),
//     io.jwt.encode_sign and io.jwt.encode_sign_raw (policies do not mint),
//     io.jwt.decode_verify and time.now_ns (the clock: rules read input.now,
//     so a decision can be replayed with `trustgate explain --now`);
//   - net.cidr_expand (unbounded allocation inside one builtin call).
//
// print and trace stay: the server compiles without print statements, so
// print calls are erased (nothing a policy prints reaches the server's
// output), and trace is a no-op without a tracer; both keep working in
// `trustgate test`. AllowNet is empty: the compiler may not fetch remote
// schemas either. A module calling a removed builtin is refused at load.
//
// Each call returns a new value the caller may modify.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		return b.Nondeterministic || slices.Contains(removedBuiltins, b.Name)
	})
	caps.AllowNet = []string{}
	return caps
}

// removedBuiltinSet is the set of OPA builtins that Capabilities leaves out.
func removedBuiltinSet(caps *ast.Capabilities) map[string]bool {
	removed := make(map[string]bool)
	for name := range ast.BuiltinMap {
		removed[name] = true
	}
	for _, b := range caps.Builtins {
		delete(removed, b.Name)
	}
	return removed
}

// forbiddenCalls reports every call in m of a builtin that caps leave out,
// with a message that says why rather than the compiler's "undefined
// function".
func forbiddenCalls(m *ast.Module, removed map[string]bool) []Problem {
	var problems []Problem
	report := func(name string, loc *ast.Location) {
		if !removed[name] {
			return
		}
		problems = append(problems, Problem{
			File:    locationString(loc),
			Message: fmt.Sprintf("%s is not allowed in Trustgate policies: builtins that do I/O or are non-deterministic are removed (see `trustgate test`; read the time from input.now)", name),
		})
	}
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if e.IsCall() {
			report(e.Operator().String(), e.Location)
		}
		return false
	})
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if call, ok := t.Value.(ast.Call); ok && len(call) > 0 {
			report(call[0].String(), t.Location)
		}
		return false
	})
	return problems
}

// locationString is "file:row" of loc, or "" without one.
func locationString(loc *ast.Location) string {
	if loc == nil {
		return ""
	}
	if loc.Row == 0 {
		return loc.File
	}
	return fmt.Sprintf("%s:%d", loc.File, loc.Row)
}
