// Command trustgate is the Trustgate security token service and its tools.
// Flags and environment are read here and nowhere else; the logic lives in
// engine/ and server/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	go onSignals(cancel)
	code := run(ctx, os.Args[1:], environ{lookup: os.LookupEnv}, os.Stdin, os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// onSignals cancels at the first SIGINT or SIGTERM, which serve takes as
// "stop without dropping a request" (shutdown_delay, then shutdown_grace),
// and exits at once at the second: an operator who does not want to wait.
func onSignals(cancel context.CancelFunc) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	<-sigs
	cancel()
	<-sigs
	fmt.Fprintln(os.Stderr, "trustgate: a second signal: stopping at once, in-flight requests are cut")
	os.Exit(exitFail)
}
