package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzBundleData: validating bundle data never panics, every problem names
// where it is, and data Check finds no problem in loads.
func FuzzBundleData(f *testing.F) {
	f.Add([]byte(`{"trustgate":{"providers":{"gl":{"issuer":"https://gitlab.com","platform":"gitlab"}},"identities":{"d":{"federations":[{"provider":"gl","claims":{"project_path":"g/*"}}]}}}}`))
	f.Add([]byte(`{"trustgate":{"identities":{"d":{"federations":[{"provider":"x","claims":{"a":["[","**"]}}],"ttl":"1.5s"}}}}`))
	f.Add([]byte(`{"trustgate":{"providers":{"a":{"issuer":"http://127.0.0.1:1","platform":"generic","max_token_lifetime":"-1h"}}}}`))
	f.Add([]byte(`{"trustgate":[]}`))
	f.Add([]byte(`{"other":1}`))
	lib := fstest.MapFS{"trustgate/lib.rego": {Data: []byte("package trustgate\n\ndecision := {\"allow\": false, \"reasons\": [\"x\"]}\n\nexplain := {\"identities\": {}}\n")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "data.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := Options{ServerIssuer: "https://sts.example.com", Library: lib}
		problems := Check(context.Background(), []string{dir}, opts)
		for _, p := range problems {
			if p.File == "" && p.Key == "" {
				t.Fatalf("a problem that says not where it is: %q", p.Message)
			}
		}
		if len(problems) == 0 {
			if _, err := Load(context.Background(), []string{dir}, opts); err != nil {
				t.Fatalf("Check found nothing but Load refused: %v", err)
			}
		}
	})
}
