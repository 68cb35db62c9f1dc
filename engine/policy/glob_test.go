package policy

import (
	"strings"
	"testing"

	"github.com/gobwas/glob"
)

// The validator compiles only patterns holding one of globSyntax: every
// other pattern must compile, as glob.match compiles it.
func TestPatternsWithoutRangesAlternativesOrEscapesCompile(t *testing.T) {
	alphabet := []string{"a", "/", "*", "?", ":", "é", "-"}
	patterns := []string{""}
	for range 6 {
		var longer []string
		for _, p := range patterns {
			for _, c := range alphabet {
				longer = append(longer, p+c)
			}
		}
		for _, p := range longer {
			if _, err := glob.Compile(p, '/'); err != nil {
				t.Fatalf("glob.Compile(%q) = %v: the validator would accept a pattern that does not compile", p, err)
			}
		}
		patterns = longer
	}
	for _, p := range []string{"project_path:group-1/*:ref_type:branch:ref:main", "repo:acme/*:**", "???", "**/**"} {
		if strings.ContainsAny(p, globSyntax) {
			t.Fatalf("%q holds glob syntax", p)
		}
		if _, err := glob.Compile(p, '/'); err != nil {
			t.Fatalf("glob.Compile(%q) = %v", p, err)
		}
	}
}
