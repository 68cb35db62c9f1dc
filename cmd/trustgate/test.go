package main

import (
	"context"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/trustgate/trustgate/engine/policy"
)

type testFlags struct {
	verbose   bool
	run       string
	format    string
	coverage  bool
	threshold float64
	timeout   time.Duration
}

// runTest runs Rego tests like `opa test`, compiled with the server's
// capabilities and strict builtin errors, with the policy library loaded
// unless the paths already hold it.
func runTest(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("test", io)
	var f testFlags
	fs.BoolVar(&f.verbose, "v", false, "verbose: every test and its trace on failure")
	fs.StringVar(&f.run, "run", "", "run only tests whose name matches this regular expression")
	fs.StringVar(&f.format, "format", "pretty", "pretty or json")
	fs.BoolVar(&f.coverage, "coverage", false, "report coverage as JSON")
	fs.Float64Var(&f.threshold, "threshold", 0, "with --coverage: fail below this percentage")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "timeout of each test")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if f.format != "pretty" && f.format != "json" {
		fmt.Fprintf(io.stderr, "trustgate test: --format must be pretty or json, not %q\n", f.format)
		return exitUsage
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if err := f.runTests(ctx, paths, io); err != nil {
		return fail(io, "test", err)
	}
	return exitOK
}

func (f *testFlags) runTests(ctx context.Context, paths []string, io stdio) error {
	loaded, err := loader.NewFileLoader().WithProcessAnnotation(true).Filtered(paths, nil)
	if err != nil {
		return err
	}
	modules := loaded.ParsedModules()
	if !hasLibrary(modules) {
		lib, err := policy.Library()
		if err != nil {
			return err
		}
		for name, m := range lib {
			modules[name] = m
		}
	}
	store := inmem.NewFromObject(loaded.Documents)
	return storage.Txn(ctx, store, storage.TransactionParams{}, func(txn storage.Transaction) error {
		compiler := ast.NewCompiler().
			WithCapabilities(policy.Capabilities()).
			WithEnablePrintStatements(true)
		var cov *cover.Cover
		runner := tester.NewRunner().
			SetCompiler(compiler).
			SetStore(store).
			RaiseBuiltinErrors(true).
			CapturePrintOutput(true).
			EnableTracing(f.verbose).
			SetModules(modules).
			SetTimeout(f.timeout).
			Filter(f.run)
		if f.coverage {
			cov = cover.New()
			runner = runner.SetCoverageQueryTracer(cov)
		}
		ch, err := runner.RunTests(ctx, txn)
		if err != nil {
			return err
		}
		failed := 0
		seen := make(chan *tester.Result)
		go func() {
			defer close(seen)
			for r := range ch {
				if r.Fail || r.Error != nil {
					failed++
				}
				seen <- r
			}
		}()
		if err := f.reporter(io, cov, modules).Report(seen); err != nil {
			return err
		}
		if failed > 0 {
			return fmt.Errorf("%d test(s) failed or raised an error", failed)
		}
		return nil
	})
}

func (f *testFlags) reporter(io stdio, cov *cover.Cover, modules map[string]*ast.Module) tester.Reporter {
	switch {
	case cov != nil:
		return tester.JSONCoverageReporter{Cover: cov, Modules: modules, Output: io.stdout, Threshold: f.threshold, Verbose: f.verbose}
	case f.format == "json":
		return tester.JSONReporter{Output: io.stdout}
	default:
		return tester.PrettyReporter{Output: io.stdout, Verbose: f.verbose}
	}
}

// hasLibrary reports whether the loaded modules include the policy library
// itself (package trustgate), as when testing the library's own repository.
func hasLibrary(modules map[string]*ast.Module) bool {
	lib := ast.MustParseRef("data.trustgate")
	for _, m := range modules {
		if m.Package.Path.Equal(lib) {
			return true
		}
	}
	return false
}
