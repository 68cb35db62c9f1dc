package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// accessCommands are the subcommands of `trustgate access`.
func accessCommands() map[string]command {
	return map[string]command{
		"request": {"ask for a just-in-time identity (pipelines); --wait exchanges once approved", runAccessRequest},
		"list":    {"list a page of the requests you may see (--state pending, --identity NAME, --cursor NEXT …)", runAccessList},
		"show":    {"show one request and its history", runAccessShow},
		"approve": {"approve a request: approve ID --reason TEXT", runAccessVerdict("approve")},
		"deny":    {"deny a request: deny ID --reason TEXT", runAccessVerdict("deny")},
		"revoke":  {"end a grant now: revoke ID [--reason TEXT]", runAccessVerdict("revoke")},
		"cancel":  {"withdraw your pending request: cancel ID [--reason TEXT]", runAccessVerdict("cancel")},
	}
}

func runAccess(ctx context.Context, args []string, io stdio) int {
	cmds := accessCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(io.stderr, "Usage: trustgate access <command> [flags]\n\nCommands:")
		for _, name := range []string{"request", "list", "show", "approve", "deny", "revoke", "cancel"} {
			fmt.Fprintf(io.stderr, "  %-8s %s\n", name, cmds[name].summary)
		}
		fmt.Fprintln(io.stderr, "\nRun 'trustgate access <command> -h' for a command's flags; docs/just-in-time.md for the story.")
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(io.stderr, "trustgate access: unknown command %q\n", args[0])
		return exitUsage
	}
	return cmd.run(ctx, args[1:], io)
}

// requestFlags are `trustgate access request`'s: the request, and, with
// --wait, the exchange once it is approved (printed like `exchange`).
type requestFlags struct {
	exchangeFlags
	body newRequestBody
	wait bool
	poll time.Duration
}

func (f *requestFlags) register(fs *flag.FlagSet, io stdio) {
	f.tokenSource.flags(fs, io)
	fs.StringVar(&f.identity, "identity", "", "the just-in-time identity to ask for (required)")
	fs.StringVar(&f.body.Duration, "duration", "", "how long the grant should last, e.g. 1h (default: the identity's default_duration)")
	fs.StringVar(&f.body.Reason, "reason", "", "why: shown to approvers (required)")
	fs.StringVar(&f.body.Ticket, "ticket", "", "an incident or change ticket")
	fs.Var((*stringList)(&f.body.Scopes), "scope", "a scope to ask for (repeatable; default: all of the identity's)")
	fs.Var((*stringList)(&f.body.Audiences), "grant-audience", "an audience to bind the grant to (repeatable; default: the identity's)")
	fs.StringVar(&f.body.StartsAt, "starts-at", "", "RFC 3339 time the grant starts, for a change window booked ahead (default: on approval)")
	fs.BoolVar(&f.wait, "wait", false, "wait until approved, then exchange the ID token and print the access token")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "with --wait: give up (and cancel the request) after this long")
	fs.DurationVar(&f.poll, "poll", 10*time.Second, "with --wait: how often to ask")
	f.outputFlags(fs)
}

func runAccessRequest(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("access request", io)
	var f requestFlags
	f.register(fs, io)
	if code, ok := parseChecked(fs, args, f.check); !ok {
		return code
	}
	f.body.Identity = f.identity
	f.scope = strings.Join(f.body.Scopes, " ")
	c := newAccessClient(&f.tokenSource, io)
	r, err := c.create(ctx, f.body)
	if err != nil {
		return fail(io, "access request", err)
	}
	fmt.Fprintf(io.stderr, "request %s for %s: %s\n", printable(r.ID), printable(r.Identity), printable(summary(r)))
	if !f.wait {
		return printRequest(io, f.format, r)
	}
	return f.waitAndExchange(ctx, c, r, io)
}

func (f *requestFlags) check() error {
	if err := f.exchangeFlags.check(); err != nil {
		return err
	}
	switch {
	case f.identity == "":
		return errors.New("--identity is required")
	case strings.TrimSpace(f.body.Reason) == "":
		return errors.New("--reason is required: approvers read it")
	case f.poll < time.Second:
		return errors.New("--poll must be at least 1s")
	case f.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

// waitAndExchange polls the request until it is approved, then exchanges
// the ID token naming the identity and prints the token like exchange. A
// request that ends otherwise is one line and exit 1; one still pending at
// --timeout (or when the job is stopped) is cancelled, so that no grant
// outlives the job that asked for it.
func (f *requestFlags) waitAndExchange(ctx context.Context, c *accessClient, r access.Request, io stdio) int {
	wctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	r, err := f.awaitDecision(wctx, c, r)
	switch {
	case err != nil && wctx.Err() != nil:
		f.giveUp(c, r, io)
		return fail(io, "access request", fmt.Errorf("request %s is still %s: stopped waiting (--timeout %s or interrupted) and cancelled it", r.ID, r.State, f.timeout))
	case err != nil:
		return fail(io, "access request", err)
	case r.State != access.StateApproved:
		return fail(io, "access request", fmt.Errorf("request %s is %s", r.ID, r.State))
	}
	fmt.Fprintf(io.stderr, "request %s approved; exchanging the ID token for %s\n", printable(r.ID), printable(r.Identity))
	tok, err := f.idToken(wctx, c.http, io)
	if err != nil {
		return fail(io, "access request", err)
	}
	resp, err := f.exchange(wctx, c.http, tok)
	if err != nil {
		return fail(io, "access request", err)
	}
	return f.print(io, resp)
}

// awaitDecision polls until r leaves pending, waiting longer when the
// server asks to (Retry-After on 429 and 503).
func (f *requestFlags) awaitDecision(ctx context.Context, c *accessClient, r access.Request) (access.Request, error) {
	for r.State == access.StatePending {
		wait := f.poll
		next, err := c.get(ctx, r.ID)
		if d, ok := retryable(err); ok {
			wait = max(wait, d)
		} else if err != nil {
			return r, err
		} else {
			r = next
		}
		if r.State != access.StatePending {
			break
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(wait):
		}
	}
	return r, nil
}

// giveUp cancels a request the job no longer waits for (best effort).
func (f *requestFlags) giveUp(c *accessClient, r access.Request, io stdio) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.act(ctx, r.ID, "cancel", "the requester stopped waiting"); err != nil {
		fmt.Fprintf(io.stderr, "trustgate access request: could not cancel request %s: %v\n", printable(r.ID), err)
	}
}

// jsonEncoder writes indented JSON to stdout.
func jsonEncoder(io stdio) *json.Encoder {
	enc := json.NewEncoder(io.stdout)
	enc.SetIndent("", "  ")
	return enc
}

// summary is a request's state in words.
func summary(r access.Request) string {
	switch r.State {
	case access.StatePending:
		return fmt.Sprintf("pending, risk %s, %d of %d approvals; lapses at %s",
			r.Risk, r.Approvals(), r.ApprovalsRequired, r.ExpiresAt.UTC().Format(time.RFC3339))
	case access.StateApproved:
		return fmt.Sprintf("approved, risk %s; the grant ends at %s", r.Risk, r.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		return string(r.State)
	}
}

// printRequest prints a request: its id (text) or the whole of it (json).
func printRequest(io stdio, format string, r access.Request) int {
	if format == "json" {
		return printJSON(io, r)
	}
	fmt.Fprintln(io.stdout, printable(r.ID))
	return exitOK
}
