// Command trustgate-load drives POST /oauth2/token of a running Trustgate at
// a given concurrency and reports exchanges per second and latency
// percentiles. It only targets loopback addresses, runs for a bounded time
// and count, and stops by itself.
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
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	target      string
	tokenURL    string
	concurrency int
	duration    time.Duration
	maxRequests int64
}

func main() {
	var o options
	flag.StringVar(&o.target, "url", "http://127.0.0.1:8080", "Trustgate base URL (loopback only)")
	flag.StringVar(&o.tokenURL, "token-url", "http://127.0.0.1:8090/token", "dev issuer URL that mints the ID token (loopback only)")
	flag.IntVar(&o.concurrency, "c", 8, "concurrent clients")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration (at most 5m)")
	flag.Int64Var(&o.maxRequests, "n", 1_000_000, "stop after this many requests")
	flag.Parse()
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trustgate-load:", err)
		os.Exit(1)
	}
}

func run(o options, out io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency, MaxConnsPerHost: o.concurrency},
	}
	idToken, err := fetchToken(client, o.tokenURL)
	if err != nil {
		return err
	}
	body := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {idToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	}.Encode()
	endpoint := strings.TrimRight(o.target, "/") + "/oauth2/token"

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var (
		sent, failed atomic.Int64
		mu           sync.Mutex
		latencies    = make([]time.Duration, 0, 1<<16)
		wg           sync.WaitGroup
	)
	start := time.Now()
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<12)
			for ctx.Err() == nil && sent.Add(1) <= o.maxRequests {
				t0 := time.Now()
				if err := post(ctx, client, endpoint, body); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
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
	elapsed := time.Since(start)
	report(out, o, latencies, failed.Load(), elapsed)
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d requests failed", n)
	}
	return nil
}

func (o options) check() error {
	if o.concurrency < 1 || o.concurrency > 1024 {
		return errors.New("-c must be between 1 and 1024")
	}
	if o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("-d must be between 0 and 5m")
	}
	for _, raw := range []string{o.target, o.tokenURL} {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%s is not a loopback address; this load tool only targets this machine", raw)
		}
	}
	return nil
}

func fetchToken(client *http.Client, tokenURL string) (string, error) {
	resp, err := client.Get(tokenURL)
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

func post(ctx context.Context, client *http.Client, endpoint, body string) error {
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
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func report(out io.Writer, o options, lat []time.Duration, failed int64, elapsed time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Fprintf(out, "concurrency=%d duration=%s exchanges=%d failed=%d exchanges/s=%.0f p50=%s p99=%s\n",
		o.concurrency, elapsed.Round(time.Millisecond), len(lat), failed,
		float64(len(lat))/elapsed.Seconds(), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
}
