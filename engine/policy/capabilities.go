package policy

import "github.com/open-policy-agent/opa/v1/ast"

// forbidden builtins do I/O or are non-deterministic: a policy that decides
// who gets production credentials must not reach the network, read the
// runtime environment, or decide differently on the same input.
func forbidden(name string) bool {
	switch name {
	case "http.send", "net.lookup_ip_addr", "opa.runtime", "rand.intn", "uuid.rfc4122", "trace":
		return true
	}
	return false
}

// Capabilities are OPA's capabilities minus the forbidden builtins, with no
// network access allowed. The server compiles with them, and `trustgate
// test` and `trustgate check` use the same, so a test that passes there
// cannot fail to compile in the server.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	kept := c.Builtins[:0]
	for _, b := range c.Builtins {
		if !forbidden(b.Name) {
			kept = append(kept, b)
		}
	}
	c.Builtins = kept
	c.AllowNet = []string{}
	return c
}
