package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/replay"
	"go.uber.org/zap"
)

// Exit codes of replay and diff: 1 is "new access".
const (
	exitNoNewAccess = 0
	exitNewAccess   = 1
	exitReportError = 2
)

type replayFlags struct {
	head, base stringList
	decisions  string
	stateURL   string
	since      string
	format     string
	failOn     string
	issuer     string
	insecure   bool
}

func runReplay(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("replay", io)
	var f replayFlags
	fs.Var(&f.head, "head", "candidate bundle directory or .tar.gz (repeatable)")
	fs.Var(&f.base, "base", "bundle to compare with (repeatable; default: the recorded decisions)")
	fs.StringVar(&f.decisions, "decisions", "", "JSON lines of decision records (the decision log, or OPA-format events), - for standard input")
	fs.StringVar(&f.stateURL, "state", "", "the server's state store (its decision history): sqlite:PATH or postgres://…")
	fs.StringVar(&f.since, "since", "7d", "with --state: replay decisions seen within this long (such as 7d or 36h)")
	fs.StringVar(&f.format, "format", "text", "text, json or markdown")
	fs.StringVar(&f.failOn, "fail-on", "new-access", "new-access: exit 1 when head grants what base did not; none: exit 0")
	fs.StringVar(&f.issuer, "issuer", "https://sts.example.com", "the server's issuer URL (providers' default audience)")
	fs.BoolVar(&f.insecure, "allow-insecure-issuers", false, "accept http issuers on loopback, as a development server does")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	rep, err := f.run(ctx, io)
	if err == nil {
		err = writeReport(rep, f.format, io)
	}
	if err != nil {
		fmt.Fprintf(io.stderr, "trustgate replay: %s\n", printable(err.Error()))
		return exitReportError
	}
	if rep.NewAccess && f.failOn == "new-access" {
		return exitNewAccess
	}
	return exitNoNewAccess
}

func (f *replayFlags) check() error {
	switch {
	case len(f.head) == 0:
		return errors.New("at least one --head is required")
	case (f.decisions == "") == (f.stateURL == ""):
		return errors.New("give exactly one of --decisions or --state")
	}
	return checkReport(f.format, f.failOn)
}

// checkReport checks the --format and --fail-on replay and diff share.
func checkReport(format, failOn string) error {
	switch {
	case !slices.Contains([]string{"text", "json", "markdown"}, format):
		return fmt.Errorf("--format must be text, json or markdown, not %q", format)
	case failOn != "new-access" && failOn != "none":
		return fmt.Errorf("--fail-on must be new-access or none, not %q", failOn)
	}
	return nil
}

func (f *replayFlags) run(ctx context.Context, io stdio) (*replay.Report, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	r := &replay.Replayer{}
	var err error
	if r.Head, err = f.load(ctx, "--head", f.head); err != nil {
		return nil, err
	}
	if len(f.base) > 0 {
		if r.Base, err = f.load(ctx, "--base", f.base); err != nil {
			return nil, err
		}
	}
	src, done, err := f.source(ctx, io)
	if err != nil {
		return nil, err
	}
	defer done()
	// The collector tuned as serve tunes it once its policy is loaded: the
	// heap may grow by 64 MB between collections. Replay keeps little
	// besides the policies (the records stream), and at Go's default it
	// spent a fifth of its CPU collecting (BenchmarkReplay: 3,150-3,290
	// decisions per CPU-second at GOGC=100, 3,970-4,220 at 400).
	newGCTuner(io.env, zap.NewNop()).afterLoad()
	return r.Run(ctx, src)
}

func (f *replayFlags) load(ctx context.Context, flag string, paths []string) (*policy.Policy, error) {
	pol, err := policy.Load(ctx, paths, policy.Options{ServerIssuer: f.issuer, AllowInsecureIssuers: f.insecure})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return pol, nil
}

// source opens the decisions to replay; done releases them.
func (f *replayFlags) source(ctx context.Context, io stdio) (replay.Source, func(), error) {
	if f.stateURL != "" {
		return openHistory(ctx, f.stateURL, f.since)
	}
	if f.decisions == "-" {
		return replay.NewFileSource("standard input", io.stdin), func() {}, nil
	}
	file, err := os.Open(f.decisions)
	if err != nil {
		return nil, nil, fmt.Errorf("--decisions: %w", err)
	}
	return replay.NewFileSource(f.decisions, file), func() { _ = file.Close() }, nil
}

func writeReport(rep *replay.Report, format string, io stdio) error {
	switch format {
	case "json":
		return rep.WriteJSON(io.stdout)
	case "markdown":
		return rep.WriteMarkdown(io.stdout)
	default:
		return rep.WriteText(io.stdout)
	}
}
