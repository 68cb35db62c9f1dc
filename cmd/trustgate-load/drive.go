package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one run at one concurrency.
type result struct {
	concurrency int
	elapsed     time.Duration
	latencies   []time.Duration // of the answers that had the wanted status
	failed      int64
	failures    map[string]int64   // failed requests by what went wrong
	cpuSeconds  float64            // the server's process_cpu_seconds_total, after - before
	rssBytes    float64            // the server's process_resident_memory_bytes after
	server      map[string]float64 // tailMetrics, after - before
}

// cpuMetric is the server's CPU time.
const cpuMetric = "process_cpu_seconds_total"

// tailMetrics are what the server says of where an exchange's time went:
// its CPU, the time in each stage (verify, the queue for an evaluation
// slot, evaluate, sign), the queue waits longer than 10 ms and its
// garbage collector's stop-the-world pauses.
var tailMetrics = []string{
	cpuMetric,
	`trustgate_exchange_stage_seconds_sum{stage="verify"}`,
	`trustgate_exchange_stage_seconds_sum{stage="queue"}`,
	`trustgate_exchange_stage_seconds_sum{stage="evaluate"}`,
	`trustgate_exchange_stage_seconds_sum{stage="sign"}`,
	`trustgate_exchange_stage_seconds_count{stage="queue"}`,
	`trustgate_exchange_stage_seconds_bucket{stage="queue",le="0.01"}`,
	"go_gc_duration_seconds_sum",
	"go_gc_duration_seconds_count",
}

// drive posts bodies (cycled) to endpoint at concurrency c for d or until
// max requests, counting an answer with another status than want as failed.
func drive(ctx context.Context, client *http.Client, endpoint string, bodies []string, want, c int, d time.Duration, max int64) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		sent, failed atomic.Int64
		mu           sync.Mutex
		latencies    = make([]time.Duration, 0, 1<<16)
		failures     = make(map[string]int64)
		wg           sync.WaitGroup
	)
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<12)
			for ctx.Err() == nil {
				n := sent.Add(1)
				if n > max {
					return
				}
				t0 := time.Now()
				if err := post(ctx, client, endpoint, bodies[int(n)%len(bodies)], want); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						mu.Lock()
						failures[err.Error()]++
						mu.Unlock()
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return result{concurrency: c, elapsed: time.Since(start), latencies: latencies, failed: failed.Load(), failures: failures}
}

func post(ctx context.Context, client *http.Client, endpoint, body string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// exchangeBody is the form of one token exchange; identity may be empty.
func exchangeBody(token, identity string) string {
	v := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {token},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	}
	if identity != "" {
		v.Set("identity", identity)
	}
	return v.Encode()
}

// scrape reads the named metrics (without labels) from base's /metrics.
func scrape(ctx context.Context, client *http.Client, base string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s/metrics: HTTP %d", base, resp.StatusCode)
	}
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if out[name], err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("the server's /metrics has no %s", n)
		}
	}
	return out, sc.Err()
}

// report prints one run: exchanges/s, p50/p99, the server's CPU ms per
// exchange and, with a floor, how many floors that is.
func report(out io.Writer, r result, floorMS float64) {
	lat := slices.Clone(r.latencies)
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	n := float64(len(lat) + int(r.failed))
	cpuMS := 0.0
	if n > 0 {
		cpuMS = r.cpuSeconds * 1000 / n
	}
	fmt.Fprintf(out, "concurrency=%d duration=%s exchanges=%d failed=%d exchanges/s=%.0f p50=%s p99=%s server_cpu_ms/exchange=%.3f",
		r.concurrency, r.elapsed.Round(time.Millisecond), len(lat), r.failed, float64(len(lat))/r.elapsed.Seconds(),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), cpuMS)
	if floorMS > 0 {
		fmt.Fprintf(out, " crypto_floor_ms=%.3f x-floor=%.2f", floorMS, cpuMS/floorMS)
	}
	fmt.Fprintf(out, " server_rss_mb=%.0f\n", r.rssBytes/(1<<20))
	reportStages(out, r.server)
	for _, what := range slices.Sorted(maps.Keys(r.failures)) {
		fmt.Fprintf(out, "  failed: %d x %s\n", r.failures[what], what)
	}
}

// reportStages prints the server's mean time per exchange in each stage,
// the share of queue waits over 10 ms and its GC pauses during the run.
func reportStages(out io.Writer, m map[string]float64) {
	n := m[`trustgate_exchange_stage_seconds_count{stage="queue"}`]
	if n == 0 {
		return
	}
	fmt.Fprint(out, "  server_ms/exchange:")
	for _, s := range []string{"verify", "queue", "evaluate", "sign"} {
		fmt.Fprintf(out, " %s=%.3f", s, m[`trustgate_exchange_stage_seconds_sum{stage="`+s+`"}`]*1000/n)
	}
	slow := n - m[`trustgate_exchange_stage_seconds_bucket{stage="queue",le="0.01"}`]
	pauses := m["go_gc_duration_seconds_count"]
	fmt.Fprintf(out, " queue_over_10ms=%.2f%% gc_pauses=%.0f gc_pause_total_ms=%.1f\n", slow*100/n, pauses, m["go_gc_duration_seconds_sum"]*1000)
}
