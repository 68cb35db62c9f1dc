// Command trustgate is the Trustgate security token service and its tools.
// Flags and environment are read here and nowhere else; the logic lives in
// engine/ and server/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], environ{lookup: os.LookupEnv}, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
