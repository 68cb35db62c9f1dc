package main

import (
	"context"
	"fmt"

	"github.com/trustgate/trustgate/engine/policy"
)

// runCheck validates bundles before they ship: data against the schema,
// compile errors and forbidden builtins, each problem with file and key.
func runCheck(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("check", io)
	issuer := fs.String("issuer", "https://sts.example.com", "the server's issuer URL (providers' default audience)")
	insecure := fs.Bool("allow-insecure-issuers", false, "accept http issuers on loopback, as a development server does")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		fmt.Fprintln(io.stderr, "Usage: trustgate check [flags] BUNDLE...")
		return exitUsage
	}
	problems := policyCheck(ctx, paths, *issuer, *insecure)
	for _, p := range problems {
		fmt.Fprintln(io.stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(io.stderr, "trustgate check: %d problem(s)\n", len(problems))
		return exitFail
	}
	fmt.Fprintf(io.stdout, "%d bundle(s) ok\n", len(paths))
	return exitOK
}

func policyCheck(ctx context.Context, paths []string, issuer string, insecure bool) []string {
	problems := policy.Check(ctx, paths, policy.Options{ServerIssuer: issuer, AllowInsecureIssuers: insecure})
	out := make([]string, len(problems))
	for i, p := range problems {
		out[i] = p.String()
	}
	return out
}
