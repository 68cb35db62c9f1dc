package policydiff_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

const serverIssuer = "https://sts.example.com"

// writeBundle writes data (as data.json) and Rego files into a new
// bundle directory.
func writeBundle(t testing.TB, data map[string]any, rego map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range rego {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load loads a bundle as serve does, but for a long evaluation deadline:
// on a busy machine, the default's half second is missed now and then.
func load(t testing.TB, dir string) (*policy.Policy, *policy.Model) {
	t.Helper()
	p, m, err := policy.LoadModel(context.Background(), []string{dir}, policy.Options{ServerIssuer: serverIssuer, EvalTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("the bundle does not load: %v", err)
	}
	return p, m
}

// clone deep-copies decoded JSON data.
func clone(t testing.TB, x map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks data by keys and list indexes to a mapping.
func at(d map[string]any, path ...any) map[string]any {
	var cur any = d
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}
