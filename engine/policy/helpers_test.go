package policy_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trustgate/trustgate/engine/policy"
)

// stsIssuer is the server issuer tests load with: providers' default audience.
const stsIssuer = "https://sts.test"

// teamBundle is a valid bundle: providers gitlab and github, identities
// deploy, docs-reader and release, a custom deny and a test file.
const teamBundle = "testdata/bundles/team"

func options() policy.Options {
	return policy.Options{ServerIssuer: stsIssuer}
}

// copyDir copies a testdata bundle into a fresh temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeFiles writes files (slash-separated path → content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// bundleDir is a temporary directory bundle holding files.
func bundleDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// tarball returns files as a .tar.gz bundle, entries named /path as `opa
// build` names them.
func tarball(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: "/" + n, Mode: 0o600, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readFiles reads every regular file under dir (slash-separated path →
// content).
func readFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// request is what a caller asks for, as DESIGN §4's input.request.
type request struct {
	identity  string
	scopes    []string
	audiences []string
}

// input builds the OPA input of DESIGN §4 for claims from provider.
func input(t testing.TB, provider, platform, issuer string, claims map[string]any, req request) ast.Value {
	t.Helper()
	in := map[string]any{
		"token":    claims,
		"provider": map[string]any{"name": provider, "issuer": issuer, "platform": platform},
		"request": map[string]any{
			"identity":  req.identity,
			"scopes":    toAny(req.scopes),
			"audiences": toAny(req.audiences),
			"client_ip": "192.0.2.1",
		},
		"now": "2026-11-23T10:00:00Z",
	}
	v, err := ast.InterfaceToValue(in)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// gitlabInput is a protected-main GitLab token of my-group/app, with
// overrides (nil deletes a claim).
func gitlabInput(t testing.TB, req request, overrides map[string]any) ast.Value {
	t.Helper()
	claims := map[string]any{
		"iss":            "https://gitlab.com",
		"aud":            stsIssuer,
		"sub":            "project_path:my-group/app:ref_type:branch:ref:main",
		"namespace_path": "my-group",
		"project_path":   "my-group/app",
		"ref":            "main",
		"ref_type":       "branch",
		"ref_protected":  "true",
	}
	for k, v := range overrides {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	return input(t, "gitlab", "gitlab", "https://gitlab.com", claims, req)
}

// library is a Rego library of one module in package trustgate.
func library(src string) fstest.MapFS {
	return fstest.MapFS{"trustgate/decision.rego": {Data: []byte("package trustgate\n\n" + src + "\n")}}
}

// problemStrings renders problems for comparison.
func problemStrings(ps []policy.Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// containsProblem reports whether one of problems says all of want.
func containsProblem(problems []policy.Problem, want ...string) bool {
	for _, p := range problems {
		s := p.String()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return true
		}
	}
	return false
}
