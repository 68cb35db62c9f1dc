package scope_test

import (
	"testing"

	"github.com/trustgate/trustgate/engine/scope"
)

func TestValidIsRFC6749ScopeTokenSyntax(t *testing.T) {
	for s, want := range map[string]bool{
		"read":            true,
		"repo:write":      true,
		"a!#[]^~":         true,
		"":                false, // 1*( ... ): at least one character
		"read write":      false, // %x20 separates scopes, it is not in one
		`say"hi"`:         false, // %x22 is excluded
		`back\slash`:      false, // %x5C is excluded
		"tab\there":       false,
		"del\x7f":         false,
		"caf\u00e9":       false, // ASCII only
		"line\nbreak":     false,
		"nul\x00":         false,
		"https://api.x/y": true,
	} {
		if got := scope.Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
