package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes shared by every command: explain uses 1 for "denied".
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// environ is how commands read the environment; main passes os.LookupEnv.
type environ struct {
	lookup func(string) (string, bool)
}

func (e environ) get(name string) string {
	v, _ := e.lookup(name)
	return v
}

// io of one command run.
type stdio struct {
	env    environ
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, io stdio) int
}

func commands() map[string]command {
	return map[string]command{
		"serve":      {"run the token service", runServe},
		"exchange":   {"exchange a CI OIDC token for a Trustgate token (for pipelines)", runExchange},
		"access":     {"just-in-time access: request (pipelines), list, show, approve, deny, revoke, cancel", runAccess},
		"login":      {"sign in with the company IdP for `access` (browser or device code)", runLogin},
		"logout":     {"forget the sign-in of `login`", runLogout},
		"explain":    {"explain offline what a bundle decides for a token or claims", runExplain},
		"test":       {"run Rego tests with the server's capabilities", runTest},
		"check":      {"validate bundles before they ship", runCheck},
		"diff":       {"what a policy change opens and closes, without traffic (exit 1: new access)", runDiff},
		"replay":     {"re-evaluate recorded decisions under a candidate bundle: what it would newly allow or deny", runReplay},
		"dev-issuer": {"run a local OIDC issuer that mints GitLab- or GitHub-shaped tokens", runDevIssuer},
		"keys":       {"manage signing keys: keys generate", runKeys},
		"version":    {"print the version of trustgate and OPA", runVersion},
	}
}

func run(ctx context.Context, args []string, env environ, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &output{w: stdout}
	io := stdio{env: env, stdin: stdin, stdout: out, stderr: stderr}
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "trustgate: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return exitUsage
	}
	code := cmd.run(ctx, args[1:], io)
	if out.err != nil && code == exitOK {
		return fail(io, args[0], fmt.Errorf("writing the output: %w", out.err))
	}
	return code
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "Usage: trustgate <command> [flags]\n\nCommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'trustgate <command> -h' for a command's flags.")
}

// newFlags returns a FlagSet that reports errors to stderr and not os.Exit.
func newFlags(name string, io stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("trustgate "+name, flag.ContinueOnError)
	fs.SetOutput(io.stderr)
	return fs
}

// parseFlags parses args; it returns the exit code to use when parsing ends
// the command (help or a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// parseChecked parses args like parseFlags and then runs check, printing
// its error as one line "trustgate CMD: err"; it returns the exit code to
// use when either ends the command.
func parseChecked(fs *flag.FlagSet, args []string, check func() error) (int, bool) {
	if code, ok := parseFlags(fs, args); !ok {
		return code, false
	}
	return checkFlags(fs, check)
}

// checkFlags runs check on parsed flags, printing its error as one line
// "trustgate CMD: err" and ending the command with exitUsage.
func checkFlags(fs *flag.FlagSet, check func() error) (int, bool) {
	if err := check(); err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
		return exitUsage, false
	}
	return 0, true
}

// fail prints one line "trustgate CMD: err", without control characters
// (an error may quote what a server answered), and returns exitFail.
func fail(io stdio, cmd string, err error) int {
	fmt.Fprintf(io.stderr, "trustgate %s: %s\n", cmd, printable(strings.TrimSpace(err.Error())))
	return exitFail
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
