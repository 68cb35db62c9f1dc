// Package policies holds the Rego library every Trustgate deployment uses
// (package trustgate, in policies/trustgate), compiled into the binary.
package policies

import (
	"embed"
	"io/fs"
)

// library is immutable: the embedded .rego files, tests included.
//
//go:embed trustgate
var library embed.FS

// FS returns the library: paths such as "trustgate/decision.rego". Files
// ending in _test.rego are the library's tests; servers skip them.
func FS() fs.FS { return library }
