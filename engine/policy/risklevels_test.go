package policy

import (
	"maps"
	"testing"
	"testing/fstest"
)

func TestTheLibrarysRiskLevelsAreReadFromItsRego(t *testing.T) {
	library, err := Library()
	if err != nil {
		t.Fatal(err)
	}
	got, err := readLibraryRisk(library)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"low": 0, "high": 1, "critical": 2}
	if !maps.Equal(got.levels, want) || got.base != "high" {
		t.Fatalf("the library's risk levels are %v from %q, want access.rego's default %v from \"high\"", got.levels, got.base, want)
	}
}

func TestALibraryRiskLevelWithoutAWholeNumberOfApprovalsIsRefused(t *testing.T) {
	tests := []struct {
		name, levels string
	}{
		{"a level with no approvals", `{"high": {}}`},
		{"a level with a fraction of an approval", `{"high": {"approvals": 1.5}}`},
		{"a level with a negative number of approvals", `{"high": {"approvals": -1}}`},
		{"levels that are not an object", `["high"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"trustgate/access.rego": {Data: []byte("package trustgate.access\n\ndefault risk_levels := " + tt.levels + "\n")}}
			library, err := parseLibrary(fsys, Capabilities())
			if err != nil {
				t.Fatal(err)
			}
			if risk, err := readLibraryRisk(library); err == nil {
				t.Fatalf("levels %s were read as %v, want an error", tt.levels, risk.levels)
			}
		})
	}
}
