package policydiff_test

import (
	"fmt"
	"testing"

	"github.com/trustgate/trustgate/engine/policydiff"
)

// BenchmarkCompareLargePolicy compares two policies of 20,000 identities
// that differ in one: the cost of `trustgate diff` on a large bundle
// beyond loading it.
func BenchmarkCompareLargePolicy(b *testing.B) {
	data := baseData()
	ids := at(data, "trustgate", "identities")
	for i := range 20000 {
		ids[fmt.Sprintf("id-%d", i)] = map[string]any{"scopes": []any{"read"}, "ttl": "5m",
			"federations": []any{map[string]any{"provider": "gitlab", "subject": fmt.Sprintf("project_path:g/p%d:*", i), "claims": map[string]any{"ref_protected": "true"}}}}
	}
	_, base := load(b, writeBundle(b, data, nil))
	at(data, "trustgate", "identities", "id-7", "federations", 0)["subject"] = "project_path:g/*:*"
	_, head := load(b, writeBundle(b, data, nil))
	b.ResetTimer()
	for b.Loop() {
		if r := policydiff.Compare(base, head); !r.NewAccess {
			b.Fatal("the widened subject was not found")
		}
	}
}
