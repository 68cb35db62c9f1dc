package policy

import (
	"slices"
	"testing"
)

func TestEqualListsAreKeptOnceAndOthersApart(t *testing.T) {
	v := &validator{lists: make(map[string][]string)}
	first := v.shared([]string{"read", "write"})
	tests := []struct {
		name  string
		list  []string
		share bool
	}{
		{"An equal list is the first one.", []string{"read", "write"}, true},
		{"A list in another order is its own.", []string{"write", "read"}, false},
		{"A shorter list is its own.", []string{"read"}, false},
		{"A list whose elements join to the same text is its own.", []string{"read" + "\x00" + "write"}, false},
		{"A list that splits the same text elsewhere is its own.", []string{"rea", "dwrite"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := v.shared(slices.Clone(tt.list))
			if !slices.Equal(got, tt.list) {
				t.Fatalf("shared(%q) = %q", tt.list, got)
			}
			if same := &got[0] == &first[0]; same != tt.share {
				t.Fatalf("shared(%q) is the first list: %v, want %v", tt.list, same, tt.share)
			}
		})
	}
}
