package main

import (
	"context"
	"fmt"

	opaversion "github.com/open-policy-agent/opa/v1/version"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, _ []string, io stdio) int {
	fmt.Fprintf(io.stdout, "trustgate %s\nopa %s\n", version, opaversion.Version)
	return exitOK
}
