package dupkeys

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkJSONLargeBundle is JSON over the data.json of 100,000
// identities: the cost it adds to loading a large bundle.
func BenchmarkJSONLargeBundle(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"trustgate": {"providers": {"gl": {"issuer": "https://gitlab.com", "platform": "gitlab"}}, "identities": {`)
	for i := range 100000 {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, `"id-%d": {"email": "id-%d@example.com", "roles": ["r"], "scopes": ["read", "write"], "audiences": ["https://api.example.com"], "ttl": "15m", "federations": [{"provider": "gl", "subject": "project_path:g/p%d:*", "claims": {"ref_protected": "true"}, "refs": ["branch:main"]}]}`, i, i, i)
	}
	sb.WriteString("}}}")
	text := []byte(sb.String())
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if err := JSON(text); err != nil {
			b.Fatal(err)
		}
	}
}
