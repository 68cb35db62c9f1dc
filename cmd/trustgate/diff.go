package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/policydiff"
)

type diffFlags struct {
	base, head               stringList
	format, failOn           string
	issuer                   string
	insecure                 bool
	baseLibrary, headLibrary string
	config                   string
	set                      map[string]bool // flags given
}

// runDiff compares two sets of bundles statically: what a change opens
// and closes (policydiff), exit 1 when it may open access.
func runDiff(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("diff", io)
	var f diffFlags
	fs.Var(&f.base, "base", "bundle directory or .tar.gz of the policy as it is (repeatable)")
	fs.Var(&f.head, "head", "bundle directory or .tar.gz of the policy as proposed (repeatable)")
	fs.StringVar(&f.format, "format", "text", "text, json or markdown (a merge request comment)")
	fs.StringVar(&f.failOn, "fail-on", "new-access", "new-access: exit 1 when the change may open access; none: exit 0 unless an error")
	fs.StringVar(&f.issuer, "issuer", "https://sts.example.com", "the server's issuer URL (providers' default audience)")
	fs.BoolVar(&f.insecure, "allow-insecure-issuers", false, "accept http issuers on loopback, as a development server does")
	fs.StringVar(&f.baseLibrary, "base-library", "", "directory of the Rego library base runs with (default: this binary's)")
	fs.StringVar(&f.headLibrary, "head-library", "", "directory of the Rego library head runs with (default: this binary's)")
	fs.StringVar(&f.config, "config", "", "serve's trustgate.yaml: load the bundles with its issuer, allow_insecure_issuers and bundle_verification")
	f.set = map[string]bool{}
	if code, ok := parseChecked(fs, args, func() error {
		fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
		return f.check()
	}); !ok {
		if code == exitUsage {
			return exitReportError
		}
		return code
	}
	report, err := f.compare(ctx)
	if err != nil {
		fmt.Fprintf(io.stderr, "trustgate diff: %v\n", err)
		return exitReportError
	}
	if err := writeDiff(io, report, f.format); err != nil {
		fmt.Fprintf(io.stderr, "trustgate diff: %v\n", err)
		return exitReportError
	}
	if report.NewAccess && f.failOn == "new-access" {
		return exitNewAccess
	}
	return exitNoNewAccess
}

func (f *diffFlags) check() error {
	switch {
	case len(f.base) == 0 || len(f.head) == 0:
		return errors.New("give at least one --base and one --head")
	case f.config != "" && (f.set["issuer"] || f.set["allow-insecure-issuers"]):
		return errors.New("give --config or --issuer and --allow-insecure-issuers, not both")
	}
	return checkReport(f.format, f.failOn)
}

func (f *diffFlags) compare(ctx context.Context) (*policydiff.Report, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	base, err := f.load(ctx, "base", f.base, f.baseLibrary, opts)
	if err != nil {
		return nil, err
	}
	head, err := f.load(ctx, "head", f.head, f.headLibrary, opts)
	if err != nil {
		return nil, err
	}
	return policydiff.Compare(base, head), nil
}

// options are the flags', or those serve builds from its config.
func (f *diffFlags) options() (policy.Options, error) {
	if f.config == "" {
		return policy.Options{ServerIssuer: f.issuer, AllowInsecureIssuers: f.insecure}, nil
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return policy.Options{}, fmt.Errorf("--config %s: %w", f.config, err)
	}
	return policyOptions(cfg, zap.NewNop())
}

// load loads one side's bundles as serve would.
func (f *diffFlags) load(ctx context.Context, side string, paths []string, library string, opts policy.Options) (*policy.Model, error) {
	if library != "" {
		if st, err := os.Stat(library); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--%s-library %s: not a directory", side, library)
		}
		opts.Library = os.DirFS(library)
	}
	_, m, err := policy.LoadModel(ctx, paths, opts)
	if err != nil {
		return nil, fmt.Errorf("%s does not load: %w", side, err)
	}
	return m, nil
}

func writeDiff(io stdio, r *policydiff.Report, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "markdown":
		return r.WriteMarkdown(io.stdout)
	}
	return r.WriteText(io.stdout)
}
