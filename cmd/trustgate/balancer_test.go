package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// haproxyPath is where Debian's haproxy package puts the binary
// (scripts/ensure-packages.sh installs it).
const haproxyPath = "/usr/sbin/haproxy"

// requireHAProxy returns the haproxy binary; when it is missing the test
// fails in CI (CI=true) and skips elsewhere, naming `make test`, which
// installs it.
func requireHAProxy(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	if _, err := os.Stat(haproxyPath); err == nil {
		return haproxyPath
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("haproxy is not installed: `make test` installs it (scripts/ensure-packages.sh)")
	}
	t.Skip("haproxy is not installed: run `make test`, which installs it from Debian's packages")
	return ""
}

// balancer is HAProxy in front of replicas, set as load balancers commonly
// are: a health check GET /readyz every second, a server out after one
// failed check and back after two good ones, three retries and redispatch
// to another server when a connection fails.
type balancer struct {
	url   string // the frontend
	stats string // the stats page, CSV
}

// balancerConfig is the HAProxy configuration of a balancer listening on
// front with its stats page on stats, over the named backends.
func balancerConfig(front, stats string, backends map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  retries 3
  option redispatch
frontend api
  bind %s
  default_backend trustgate
frontend stats
  bind %s
  stats enable
  stats uri /stats
backend trustgate
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 1 rise 2
`, front, stats)
	for _, name := range slices.Sorted(maps.Keys(backends)) {
		fmt.Fprintf(&b, "  server %s %s check\n", name, backends[name])
	}
	return b.String()
}

// startBalancer runs haproxy over backends (name → host:port) until the
// test ends.
func startBalancer(t *testing.T, haproxy string, backends map[string]string) *balancer {
	t.Helper()
	front, stats := freeAddr(t), freeAddr(t)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(balancerConfig(front, stats, backends)), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lockedWriter{w: &bytes.Buffer{}}
	cmd := exec.CommandContext(context.Background(), haproxy, "-db", "-f", path) // stopped by the cleanup
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	b := &balancer{url: "http://" + front, stats: "http://" + stats + "/stats;csv"}
	for name := range backends {
		b.waitUp(t, name)
	}
	return b
}

// status is what HAProxy says of server name: "UP", "DOWN", "UP 1/2"...
func (b *balancer) status(name string) (string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, b.stats, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(bufio.NewReader(resp.Body)).ReadAll()
	if err != nil || len(rows) == 0 {
		return "", fmt.Errorf("stats: %w", err)
	}
	col := slices.Index(rows[0], "status")
	for _, r := range rows[1:] {
		if r[0] == "trustgate" && r[1] == name && col >= 0 {
			return r[col], nil
		}
	}
	return "", fmt.Errorf("stats: no server %s", name)
}

// waitUp waits until HAProxy sends to server name again (rise 2: two good
// checks a second apart).
func (b *balancer) waitUp(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := b.status(name)
		if err == nil && st == "UP" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy does not have %s up: %q %v", name, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serveProcess is one `trustgate serve` process that a test stops and
// starts again on the same address.
type serveProcess struct {
	bin, config, base string
	stderr            *lockedWriter
	cmd               *exec.Cmd
	exited            chan error
}

// newServeProcess writes cfg and starts bin serve on it; the test's end
// stops it if it still runs.
func newServeProcess(t *testing.T, bin, addr, cfg string) *serveProcess {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trustgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{bin: bin, config: path, base: "http://" + addr, stderr: &lockedWriter{w: &bytes.Buffer{}}}
	p.start(t)
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Kill()
			_ = p.wait(t, 10*time.Second) // killed: an error, and no news
		}
	})
	return p
}

// start runs the process and waits until it is ready.
func (p *serveProcess) start(t *testing.T) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), p.bin, "serve", "--config", p.config) // outlives subtests
	cmd.Dir = filepath.Dir(p.config)
	cmd.Stderr, cmd.Stdout = p.stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.exited = cmd, make(chan error, 1)
	go func() { p.exited <- cmd.Wait() }()
	waitReady(t, p.base)
}

// signal sends sig to the process.
func (p *serveProcess) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits at most limit for the process to exit and returns how it did.
func (p *serveProcess) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.cmd = nil
		return err
	case <-time.After(limit):
		t.Fatalf("%s did not exit within %s", p.base, limit)
		return nil
	}
}

// load drives exchanges of one subject token through the balancer from
// workers goroutines until stop is called or max exchanges are done, and
// keeps the figures: exchanges, failures (a status other than 200),
// connection errors and the longest time without a completed exchange.
type load struct {
	mu         sync.Mutex
	exchanges  int
	failed     int
	connErrors int
	first      []string // the first few failures, for the message
	last       time.Time
	longestGap time.Duration
	started    time.Time
	ended      time.Time

	stop    chan struct{}
	stopped sync.Once
	done    sync.WaitGroup
}

func startLoad(client *http.Client, url, token string, workers, maxExchanges int) *load {
	l := &load{stop: make(chan struct{}), started: time.Now()}
	l.last = l.started
	body := exchangeValues(token).Encode()
	for range workers {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				status, _, err := postForm(client, url+"/oauth2/token", body)
				if !l.record(status, err, maxExchanges) {
					return
				}
			}
		}()
	}
	return l
}

// record counts one exchange; false once max exchanges are done.
func (l *load) record(status int, err error, maxExchanges int) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exchanges++
	switch {
	case err != nil:
		l.connErrors++
		l.note(err.Error())
	case status != http.StatusOK:
		l.failed++
		l.note(fmt.Sprintf("HTTP %d", status))
	default:
		l.longestGap = max(l.longestGap, now.Sub(l.last))
		l.last = now
	}
	return l.exchanges < maxExchanges
}

func (l *load) note(s string) {
	if len(l.first) < 5 {
		l.first = append(l.first, s)
	}
}

// end stops the workers and returns the figures; a test calls it again
// from its cleanup, in case it failed before.
func (l *load) end() string {
	l.stopped.Do(func() {
		close(l.stop)
		l.done.Wait()
		l.ended = time.Now()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d exchanges in %s (%.0f/s), %d failed, %d connection errors, longest gap %s",
		l.exchanges, l.ended.Sub(l.started).Round(time.Millisecond), l.rate(), l.failed, l.connErrors, l.longestGap.Round(time.Millisecond))
}

func (l *load) rate() float64 { return float64(l.exchanges) / l.ended.Sub(l.started).Seconds() }

// postForm POSTs a form body and returns the status and Retry-After.
func postForm(client *http.Client, url, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// loadClient is a keep-alive client for workers connections to one host,
// on loopback only.
func loadClient(workers int) *http.Client {
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second, Proxy: nil}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
