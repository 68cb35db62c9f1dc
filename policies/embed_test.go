package policies_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/trustgate/trustgate/policies"
)

// library parses every .rego file of policies.FS(), tests included when
// tests is true, keyed by its path in the FS.
func library(t *testing.T, tests bool) map[string]*ast.Module {
	t.Helper()
	modules := make(map[string]*ast.Module)
	err := fs.WalkDir(policies.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		if !tests && strings.HasSuffix(path, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(policies.FS(), path)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts(path, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules[path] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return modules
}

func TestEmbeddedFilesParseAsRegoV1InTheTrustgatePackages(t *testing.T) {
	modules := library(t, true)
	for _, want := range []string{"trustgate/decision.rego", "trustgate/explain.rego", "trustgate/match.rego", "trustgate/decision_test.rego"} {
		if modules[want] == nil {
			t.Errorf("FS() has no %s; it has %d .rego files", want, len(modules))
		}
	}
	for path, m := range modules {
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		if pkg != "trustgate" && !strings.HasPrefix(pkg, "trustgate.") && !strings.HasPrefix(pkg, "trustgate_test") {
			t.Errorf("%s is package %s, want trustgate or a sub-package", path, pkg)
		}
		if isTest := strings.HasSuffix(path, "_test.rego"); isTest != strings.HasSuffix(pkg, "_test") {
			t.Errorf("%s is package %s: tests and only tests belong in a _test package", path, pkg)
		}
	}
}

// TestTheLibraryAloneDecides compiles the library without any bundle (no
// identities, no trustgate.custom) and checks that the decision is still
// one object that denies with a reason.
func TestTheLibraryAloneDecides(t *testing.T) {
	var opts []func(*rego.Rego)
	for _, m := range library(t, false) {
		opts = append(opts, rego.ParsedModule(m))
	}
	input := map[string]any{
		"token":    map[string]any{"iss": "https://gitlab.com", "sub": "project_path:g/p:ref_type:branch:ref:main"},
		"provider": map[string]any{"name": "gitlab", "issuer": "https://gitlab.com", "platform": "gitlab"},
		"request":  map[string]any{"identity": "", "scopes": []any{}, "audiences": []any{}, "client_ip": "192.0.2.1"},
		"now":      "2026-11-23T10:00:00Z",
	}
	for _, query := range []string{"data.trustgate.decision", "data.trustgate.explain"} {
		t.Run(query, func(t *testing.T) {
			r := rego.New(append(opts, rego.Query(query), rego.Input(input), rego.StrictBuiltinErrors(true))...)
			rs, err := r.Eval(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 1 || len(rs[0].Expressions) != 1 {
				t.Fatalf("%d results, want exactly one", len(rs))
			}
			got, _ := json.Marshal(rs[0].Expressions[0].Value)
			want := map[string]string{
				"data.trustgate.decision": `{"allow":false,"audiences":[],"error":"","grant":"","identity":"","reasons":["no identity accepts this token from provider gitlab"],"roles":[],"scopes":[],"subject":"","ttl_seconds":0}`,
				"data.trustgate.explain":  `{"identities":{}}`,
			}[query]
			if string(got) != want {
				t.Errorf("got %s\nwant %s", got, want)
			}
		})
	}
}

// TestRegoTestsPassWithStrictBuiltinErrors runs the library's Rego tests
// and the example bundle's as the server evaluates: a builtin error is an
// error, not an undefined value.
func TestRegoTestsPassWithStrictBuiltinErrors(t *testing.T) {
	ctx := context.Background()
	root := ".."
	loaded, err := loader.NewFileLoader().WithRegoVersion(ast.RegoV1).All([]string{
		filepath.Join(root, "bundles", "example"),
		filepath.Join(root, "testdata", "fixtures"),
	})
	if err != nil {
		t.Fatal(err)
	}
	modules := loaded.ParsedModules()
	for path, m := range library(t, true) {
		modules["library/"+path] = m
	}
	store := inmem.NewFromObject(loaded.Documents)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler()).
		SetStore(store).
		SetModules(modules).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		switch {
		case r.Error != nil:
			t.Errorf("%s.%s: %v", r.Package, r.Name, r.Error)
		case r.Fail:
			t.Errorf("%s.%s fails (%s)", r.Package, r.Name, r.Location)
		}
	}
	if n < 100 {
		t.Errorf("ran %d Rego tests, want the whole suite (at least 100)", n)
	}
}
