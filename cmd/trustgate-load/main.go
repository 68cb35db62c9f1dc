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
	baseline    string
	rounds      int
	bundle      string
	profile     string
	reloads     int
	keep        bool
	identities  int
	tokens      int
	named       bool
	deny        bool
	history     bool // the decision history (the server's default: on)
	shadow      bool // a shadow bundle: the generated bundle again
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
	flag.StringVar(&o.baseline, "baseline", "", "with -serve: path of a second trustgate binary (say, a build of main) started the same way; each run drives one, then the other")
	flag.IntVar(&o.rounds, "rounds", 1, "how many times the list of concurrencies is run in turn")
	flag.StringVar(&o.bundle, "bundle", "", "with -serve: serve this bundle directory (make run's bundles/example) instead of a generated one; its dev issuer and server URLs are rewritten to the load's")
	flag.StringVar(&o.profile, "profile", "", "with -serve: a directory where the -serve build (not the baseline) writes its CPU, mutex and block profiles (serve --cpuprofile …)")
	flag.IntVar(&o.reloads, "reload", 0, "with -serve and a generated bundle: after the runs, replace data.json this many times and time each until /v1/policy shows the new revision")
	flag.BoolVar(&o.keep, "keep", false, "with -serve: keep each server's directory (its log, decision log and config) after the runs")
	flag.IntVar(&o.identities, "identities", 10, "with -serve: identities in the generated bundle, one per GitLab project")
	flag.IntVar(&o.tokens, "tokens", 1000, "with -serve: distinct ID tokens cycled, spread over the projects")
	flag.BoolVar(&o.named, "named", false, "with -serve: name the identity in each exchange")
	flag.BoolVar(&o.deny, "deny", false, "with -serve: tokens the policy refuses (an unprotected ref); a 400 is the expected answer")
	flag.BoolVar(&o.history, "history", true, "with -serve: keep the decision history (false: decision_history: {keep: 0})")
	flag.BoolVar(&o.shadow, "shadow", false, "with -serve: evaluate every exchange against a shadow bundle (a copy of the generated one) too")
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
	targets, err := setup(ctx, o, client, out)
	var failed int64
	for _, t := range targets {
		if t.st != nil {
			// A failed run keeps the server's log and decision log, which say why.
			defer func() { t.st.stop(o.keep || failed > 0, out) }()
		}
	}
	if err != nil {
		return err
	}
	for range o.rounds {
		for _, c := range o.concurrency {
			for _, t := range targets {
				n, err := runOnce(ctx, o, client, t, c, len(targets), out)
				if err != nil {
					return err
				}
				failed += n
			}
		}
	}
	for version := 1; version <= o.reloads; version++ {
		for _, t := range targets {
			fmt.Fprint(out, t.label(len(targets)))
			if err := t.st.reload(ctx, client, o, version, out); err != nil {
				return err
			}
		}
	}
	for _, t := range targets {
		if t.st != nil {
			if err := t.st.summary(ctx, client, t.label(len(targets)), out); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed", failed)
	}
	return nil
}

// runOnce drives t at concurrency c and reports it; it returns how many
// requests failed.
func runOnce(ctx context.Context, o options, client *http.Client, t target, c, targets int, out io.Writer) (int64, error) {
	r, err := measure(ctx, o, client, t, c)
	if err != nil {
		return 0, err
	}
	floor := 0.0
	if o.floorTime > 0 {
		if floor, err = cryptoFloor(o.floorTime); err != nil {
			return 0, err
		}
	}
	fmt.Fprint(out, t.label(targets))
	report(out, r, floor)
	return r.failed, nil
}

// target is one server the load drives: its base URL, the request bodies
// to cycle and the status each must get; with -serve, the stack started.
type target struct {
	name   string
	base   string
	bodies []string
	want   int
	st     *stack
}

// label names the target at the start of a line when there is more than
// one.
func (t target) label(targets int) string {
	if targets < 2 {
		return ""
	}
	return "build=" + t.name + " "
}

// measure runs the load at concurrency c between two scrapes of the
// server's CPU time and of its stage and pause histograms.
func measure(ctx context.Context, o options, client *http.Client, t target, c int) (result, error) {
	const rss = "process_resident_memory_bytes"
	before, err := scrape(ctx, client, t.base, tailMetrics...)
	if err != nil {
		return result{}, err
	}
	r := drive(ctx, client, t.base+"/oauth2/token", t.bodies, t.want, c, o.duration, o.maxRequests)
	after, err := scrape(ctx, client, t.base, append(tailMetrics, rss)...)
	if err != nil {
		return result{}, err
	}
	r.server = make(map[string]float64, len(tailMetrics))
	for _, m := range tailMetrics {
		r.server[m] = after[m] - before[m]
	}
	r.cpuSeconds, r.rssBytes = r.server[cpuMetric], after[rss]
	return r, nil
}

// setup returns the servers to drive: the running one, or with -serve the
// stack it starts (and with -baseline a second one); the stacks started
// are returned with an error too, to be stopped.
func setup(ctx context.Context, o options, client *http.Client, out io.Writer) ([]target, error) {
	if o.serve == "" {
		tok, err := fetchToken(ctx, client, o.tokenURL)
		if err != nil {
			return nil, err
		}
		return []target{{base: strings.TrimRight(o.target, "/"), bodies: []string{exchangeBody(tok, "")}, want: http.StatusOK}}, nil
	}
	builds := [][2]string{{"this", o.serve}}
	if o.baseline != "" {
		builds = append(builds, [2]string{"baseline", o.baseline})
	}
	var targets []target
	for _, b := range builds {
		t, err := startTarget(ctx, o, b[0], b[1], out)
		if t.st != nil {
			targets = append(targets, t)
		}
		if err != nil {
			return targets, err
		}
	}
	return targets, nil
}

// startTarget starts a stack serving with the binary bin.
func startTarget(ctx context.Context, o options, name, bin string, out io.Writer) (target, error) {
	o.serve = bin
	if name != "this" {
		o.profile = "" // a build of main has no profile flags
	}
	st, err := startStack(ctx, o)
	if err != nil {
		return target{}, err
	}
	t := target{name: name, base: st.url, want: http.StatusOK, st: st}
	if t.bodies, err = st.bodies(o); err != nil {
		return t, err
	}
	fmt.Fprintf(out, "build=%s binary=%s server=%s identities=%d bundle=%q tokens=%d named=%t deny=%t history=%t shadow=%t\n",
		name, bin, st.url, o.identities, o.bundle, len(t.bodies), o.named, o.deny, o.history, o.shadow)
	if o.deny {
		t.want = http.StatusBadRequest
	}
	return t, nil
}

func (o options) check() error {
	if o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("-d must be between 0 and 5m")
	}
	if o.rounds < 1 || o.rounds > 100 {
		return errors.New("-rounds must be between 1 and 100")
	}
	if o.serve == "" && (o.baseline != "" || o.bundle != "" || o.reloads > 0) {
		return errors.New("-baseline, -bundle and -reload need -serve")
	}
	if o.reloads > 0 && o.bundle != "" {
		return errors.New("-reload replaces a generated bundle's data.json, not -bundle's")
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
