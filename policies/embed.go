// Package policies holds the Rego library every Trustgate deployment uses
// (package trustgate, in policies/trustgate), compiled into the binary.
//
// The library defines data.trustgate.decision (engine/policy.Decision) and
// data.trustgate.explain (engine/policy.Explanation) over the bundles' data
// under data.trustgate and the input of DESIGN §4. Its tests, *_test.rego,
// are embedded with it so that `trustgate test` can run them; servers skip
// them.
package policies

import (
	"embed"
	"io/fs"
)

// library is immutable: the embedded .rego files, tests included.
//
//go:embed trustgate
var library embed.FS

// FS returns the library. Its root holds the trustgate directory, so paths
// are "trustgate/decision.rego", "trustgate/match.rego", and so on, as in
// this repository's policies/ directory. Files ending in _test.rego are the
// library's tests; servers skip them.
func FS() fs.FS { return library }
