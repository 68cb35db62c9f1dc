package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/trustgate/trustgate/engine/access"
)

// peopleFlags are the flags of list, show and the verdicts: the person's
// IdP ID token (--token-env, --token-file, or else the sign-in of
// `trustgate login`), the output format.
type peopleFlags struct {
	tokenSource
	format  string
	timeout time.Duration
}

func (f *peopleFlags) register(fs *flag.FlagSet, io stdio) {
	f.tokenSource.flags(fs, io)
	f.signedIn = true
	fs.StringVar(&f.format, "format", "text", "output: text or json")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "overall timeout")
}

func (f *peopleFlags) check() error {
	if err := f.tokenSource.check(); err != nil {
		return err
	}
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format must be text or json, not %q", f.format)
	}
	return nil
}

// parseWithID parses flags before and after the one positional argument,
// the request id, as people type them (approve ID --reason …), then runs
// check (checkFlags).
func parseWithID(fs *flag.FlagSet, args []string, check func() error) (string, int, bool) {
	if code, ok := parseFlags(fs, args); !ok {
		return "", code, false
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(fs.Output(), "%s: a request id is required\n", fs.Name())
		return "", exitUsage, false
	}
	id := fs.Arg(0)
	if code, ok := parseFlags(fs, fs.Args()[1:]); !ok {
		return "", code, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: one request id only\n", fs.Name())
		return "", exitUsage, false
	}
	if code, ok := checkFlags(fs, check); !ok {
		return "", code, false
	}
	return id, 0, true
}

func runAccessList(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("access list", io)
	var f peopleFlags
	f.register(fs, io)
	state := fs.String("state", "", "only requests in this state: pending, approved, denied, cancelled, expired or revoked")
	identity := fs.String("identity", "", "only requests for this identity")
	cursor := fs.String("cursor", "", "continue after an earlier page (the cursor it printed)")
	if code, ok := parseChecked(fs, args, f.check); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	page, err := newAccessClient(&f.tokenSource, io).list(ctx, *state, *identity, *cursor)
	if err != nil {
		return fail(io, "access list", err)
	}
	if f.format == "json" {
		return printJSON(io, page)
	}
	w := tabwriter.NewWriter(io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tIDENTITY\tSTATE\tRISK\tAPPROVALS\tREQUESTER\tEXPIRES")
	for _, r := range page.Requests {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", printable(r.ID), printable(r.Identity), printable(string(r.State)),
			printable(r.Risk), r.Approvals(), r.ApprovalsRequired, requesterName(r.Requester), r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	_ = w.Flush()
	if page.NextCursor != "" {
		fmt.Fprintf(io.stderr, "more requests: trustgate access list --cursor %s\n", printable(page.NextCursor))
	}
	return exitOK
}

func runAccessShow(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("access show", io)
	var f peopleFlags
	f.register(fs, io)
	id, code, ok := parseWithID(fs, args, f.check)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	r, err := newAccessClient(&f.tokenSource, io).get(ctx, id)
	if err != nil {
		return fail(io, "access show", err)
	}
	if f.format == "json" {
		return printJSON(io, r)
	}
	showRequest(io, r)
	return exitOK
}

// runAccessVerdict is approve, deny, revoke or cancel: ID [--reason].
// Approve and deny need a reason.
func runAccessVerdict(action string) func(context.Context, []string, stdio) int {
	return func(ctx context.Context, args []string, io stdio) int {
		name := "access " + action
		fs := newFlags(name, io)
		var f peopleFlags
		f.register(fs, io)
		reason := fs.String("reason", "", "why (required to approve or deny; kept in the request's history)")
		id, code, ok := parseWithID(fs, args, func() error {
			if err := f.check(); err != nil {
				return err
			}
			if (action == "approve" || action == "deny") && strings.TrimSpace(*reason) == "" {
				return errors.New("--reason is required")
			}
			return nil
		})
		if !ok {
			return code
		}
		ctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		r, err := newAccessClient(&f.tokenSource, io).act(ctx, id, action, *reason)
		if err != nil {
			return fail(io, name, err)
		}
		if f.format == "json" {
			return printJSON(io, r)
		}
		fmt.Fprintf(io.stdout, "request %s for %s: %s\n", printable(r.ID), printable(r.Identity), printable(summary(r)))
		return exitOK
	}
}

// showRequest prints a request for a person: who asked, why, what the
// policy said, and its history.
func showRequest(io stdio, r access.Request) {
	w := tabwriter.NewWriter(io.stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(w, "id:\t%s\n", printable(r.ID))
	fmt.Fprintf(w, "identity:\t%s\n", printable(r.Identity))
	fmt.Fprintf(w, "state:\t%s\n", printable(summary(r)))
	fmt.Fprintf(w, "requester:\t%s (%s)\n", requesterName(r.Requester), printable(r.Requester.Provider))
	for _, k := range sortedKeys(r.Requester.Facts) {
		fmt.Fprintf(w, "  %s:\t%s\n", printable(k), printable(r.Requester.Facts[k]))
	}
	fmt.Fprintf(w, "reason:\t%s\n", printable(r.Reason))
	if r.Ticket != "" {
		fmt.Fprintf(w, "ticket:\t%s\n", printable(r.Ticket))
	}
	fmt.Fprintf(w, "duration:\t%s\n", time.Duration(r.DurationSeconds)*time.Second)
	fmt.Fprintf(w, "created:\t%s\n", r.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintln(w, "history:")
	for _, ev := range r.History {
		fmt.Fprintf(w, "  %s\t%s by %s\t%s\n", ev.At.UTC().Format(time.RFC3339), printable(string(ev.Type)), personName(ev.Actor), printable(ev.Reason))
	}
	_ = w.Flush()
}

func requesterName(r access.Requester) string {
	if r.Name != "" {
		return printable(r.Name)
	}
	return printable(r.Subject)
}

func personName(p access.Person) string {
	switch {
	case p.Name != "":
		return printable(p.Name)
	case p.Subject != "":
		return printable(p.Subject)
	default:
		return "trustgate"
	}
}

// printable drops control characters from what a requester wrote or a
// token claimed, so that it cannot rewrite the reader's terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printJSON(io stdio, v any) int {
	enc := jsonEncoder(io)
	_ = enc.Encode(v)
	return exitOK
}
