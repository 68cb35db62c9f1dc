// Command trustgate-load drives POST /oauth2/token of a Trustgate on this
// machine at one or more concurrencies and reports, for each, exchanges per
// second, latency percentiles, the server's CPU milliseconds per exchange
// (its own process_cpu_seconds_total, scraped from /metrics before and
// after) and that cost in multiples of the crypto floor measured in the
// same run (x-floor). It only targets loopback addresses, runs for a
// bounded time and count, and stops by itself.
//
// With -serve it starts everything itself on free loopback ports: a dev
// issuer in this process, a generated bundle of -identities identities (one
// per GitLab project, each federated on its project_path) and
// `trustgate serve` with the decision log to a file and metrics on:
//
//	go run ./cmd/trustgate-load -serve .bin/trustgate -identities 100000 -c 16
//
// Without it, it drives a server that is already running:
//
//	make run &    # server and dev issuer on development defaults
//	go run ./cmd/trustgate-load -c 8 -d 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/weburl"
)

type options struct {
	target      string
	tokenURL    string
	serve       string
	identities  int
	tokens      int
	named       bool
	deny        bool
	concurrency []int
	duration    time.Duration
	maxRequests int64
	floorTime   time.Duration
}

func main() {
	var o options
	var levels string
	flag.StringVar(&o.target, "url", "http://127.0.0.1:8080", "Trustgate base URL (loopback only; ignored with -serve)")
	flag.StringVar(&o.tokenURL, "token-url", "http://127.0.0.1:8090/token", "dev issuer URL that mints the ID token (loopback only; ignored with -serve)")
	flag.StringVar(&o.serve, "serve", "", "path of a trustgate binary: start it, a dev issuer and a generated bundle on free loopback ports")
	flag.IntVar(&o.identities, "identities", 10, "with -serve: identities in the generated bundle, one per GitLab project")
	flag.IntVar(&o.tokens, "tokens", 1000, "with -serve: distinct ID tokens cycled, spread over the projects")
	flag.BoolVar(&o.named, "named", false, "with -serve: name the identity in each exchange")
	flag.BoolVar(&o.deny, "deny", false, "with -serve: tokens the policy refuses (an unprotected ref); a 400 is the expected answer")
	flag.StringVar(&levels, "c", "8", "concurrent clients, or a comma-separated list of concurrencies run in turn")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration of each run (at most 5m)")
	flag.Int64Var(&o.maxRequests, "n", 1_000_000, "stop each run after this many requests")
	flag.DurationVar(&o.floorTime, "floor", 2*time.Second, "how long to measure the crypto floor after each run (0: not measured)")
	flag.Parse()
	var err error
	if o.concurrency, err = parseLevels(levels); err == nil {
		err = run(context.Background(), o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trustgate-load:", err)
		os.Exit(1)
	}
}

func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 1024 {
			return nil, fmt.Errorf("-c: %q is not a concurrency between 1 and 1024", f)
		}
		out = append(out, c)
	}
	return out, nil
}

func run(ctx context.Context, o options, out io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	maxConns := 0
	for _, c := range o.concurrency {
		maxConns = max(maxConns, c)
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: maxConns, MaxConnsPerHost: maxConns},
	}
	base, bodies, want, st, err := setup(ctx, o, client, out)
	if err != nil {
		return err
	}
	var failed int64
	if st != nil {
		// A failed run keeps the server's log and decision log, which say why.
		defer func() { st.stop(failed > 0, out) }()
	}
	for _, c := range o.concurrency {
		r, err := measure(ctx, o, client, base, bodies, want, c)
		if err != nil {
			return err
		}
		floor := 0.0
		if o.floorTime > 0 {
			if floor, err = cryptoFloor(o.floorTime); err != nil {
				return err
			}
		}
		report(out, r, floor)
		failed += r.failed
	}
	if st != nil {
		if err := st.summary(ctx, client, out); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed", failed)
	}
	return nil
}

// measure runs the load at concurrency c between two scrapes of the
// server's CPU time.
func measure(ctx context.Context, o options, client *http.Client, base string, bodies []string, want, c int) (result, error) {
	const cpu, rss = "process_cpu_seconds_total", "process_resident_memory_bytes"
	before, err := scrape(ctx, client, base, cpu)
	if err != nil {
		return result{}, err
	}
	r := drive(ctx, client, base+"/oauth2/token", bodies, want, c, o.duration, o.maxRequests)
	after, err := scrape(ctx, client, base, cpu, rss)
	if err != nil {
		return result{}, err
	}
	r.cpuSeconds, r.rssBytes = after[cpu]-before[cpu], after[rss]
	return r, nil
}

// setup returns the server's base URL, the request bodies to cycle and the
// status each must get; with -serve, also the stack it started.
func setup(ctx context.Context, o options, client *http.Client, out io.Writer) (string, []string, int, *stack, error) {
	if o.serve == "" {
		tok, err := fetchToken(ctx, client, o.tokenURL)
		if err != nil {
			return "", nil, 0, nil, err
		}
		return strings.TrimRight(o.target, "/"), []string{exchangeBody(tok, "")}, http.StatusOK, nil, nil
	}
	st, err := startStack(ctx, o)
	if err != nil {
		return "", nil, 0, nil, err
	}
	bodies, err := st.bodies(o)
	if err != nil {
		st.stop(false, out)
		return "", nil, 0, nil, err
	}
	fmt.Fprintf(out, "server=%s identities=%d tokens=%d named=%t deny=%t\n", st.url, o.identities, len(bodies), o.named, o.deny)
	want := http.StatusOK
	if o.deny {
		want = http.StatusBadRequest
	}
	return st.url, bodies, want, st, nil
}

func (o options) check() error {
	if o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("-d must be between 0 and 5m")
	}
	if o.serve != "" {
		if o.identities < 1 || o.identities > 1_000_000 || o.tokens < 1 || o.tokens > 100_000 {
			return errors.New("-identities must be between 1 and 1000000, -tokens between 1 and 100000")
		}
		return nil
	}
	for _, raw := range []string{o.target, o.tokenURL} {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		if !weburl.IsLoopback(u.Hostname()) {
			return fmt.Errorf("%s is not a loopback address; this load tool only targets this machine", raw)
		}
	}
	return nil
}

func fetchToken(ctx context.Context, client *http.Client, tokenURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tokenURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch an ID token from the dev issuer (is `make run` going?): %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dev issuer answered HTTP %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(b)), nil
}
