package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// The stop settings of the replicas behind HAProxy: the delay exceeds what
// HAProxy takes to see /readyz fail (a check every second, out after one).
const (
	rollingDelay = 3 * time.Second
	rollingGrace = 5 * time.Second
	// loadWorkers is the load's concurrency; loadMax bounds its count.
	loadWorkers = 16
	loadMax     = 1_000_000
)

// TestRestartsBehindHAProxyDropNothing runs two real `trustgate serve`
// processes on one PostgreSQL behind a real HAProxy (Debian's), set as load
// balancers commonly are, under a load of exchanges through it: each replica
// given SIGTERM and started again in turn, then PostgreSQL restarted.
//
// make test-go runs it on its own, after the other packages, so that its
// load has the CPUs to itself (TRUSTGATE_HAPROXY_TEST=later skips it in the
// run of every package; =alone holds the load to 1,000 exchanges/s).
func TestRestartsBehindHAProxyDropNothing(t *testing.T) {
	if os.Getenv("TRUSTGATE_HAPROXY_TEST") == "later" {
		t.Skip("run on its own after the other packages by make test-go")
	}
	haproxy := requireHAProxy(t)
	db := ownCluster(t) // this test restarts it
	bin := buildTrustgate(t)
	once, plain := enginetest.NewIssuer(t), enginetest.NewIssuer(t)
	cfg := rollingConfig(t, replicaBundle(t, once.URL(), plain.URL()), db)
	addrs := map[string]string{"a": freeAddr(t), "b": freeAddr(t)}
	procs := map[string]*serveProcess{}
	for name, addr := range addrs {
		procs[name] = newServeProcess(t, bin, addr, fmt.Sprintf("listen: %s\n%s", addr, cfg))
	}
	lb := startBalancer(t, haproxy, addrs)
	client := loadClient(loadWorkers + 1)
	subject := plain.Mint(t, enginetest.GitLabClaims(plain.URL(), "https://sts.example.com"), enginetest.ES256())

	t.Run("Each replica given SIGTERM and started again under load: no exchange fails, no connection breaks", func(t *testing.T) {
		l := startLoad(client, lb.url, subject, loadWorkers, loadMax)
		t.Cleanup(func() { l.end() })
		time.Sleep(time.Second)
		for _, name := range []string{"a", "b"} {
			p := procs[name]
			p.signal(t, syscall.SIGTERM)
			if err := p.wait(t, rollingDelay+rollingGrace+5*time.Second); err != nil {
				t.Errorf("%s exited with %v on SIGTERM:\n%s", name, err, p.stderr.String())
			}
			p.start(t)
			lb.waitUp(t, name)
		}
		time.Sleep(time.Second)
		figures := l.end()
		t.Log(figures)
		checkLoad(t, l, figures)
	})

	t.Run("PostgreSQL restarted under load: one-time tokens used once, 503 with Retry-After only while it is down, all back within 5s", func(t *testing.T) {
		tokens := make([]string, 1000)
		for i := range tokens {
			tokens[i] = once.Mint(t, enginetest.GitLabClaims(once.URL(), "https://sts.example.com"), enginetest.ES256())
		}
		l := startLoad(client, lb.url, subject, loadWorkers, loadMax)
		t.Cleanup(func() { l.end() })
		ot := startOneTime(client, lb.url, tokens)
		t.Cleanup(ot.end)
		time.Sleep(time.Second)
		down := time.Now()
		if err := db.Stop(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if err := db.Start(); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		time.Sleep(6 * time.Second)
		figures := l.end()
		ot.end()
		t.Logf("%s; PostgreSQL down %s", figures, back.Sub(down).Round(time.Millisecond))
		checkLoad(t, l, figures)
		ot.retryRefused(client, lb.url)
		ot.check(t, down, back)
		for name, p := range procs {
			checkOneOutageLogged(t, name, p.stderr.String())
		}
	})
	t.Run("A second SIGTERM stops a replica at once, within its shutdown_delay", func(t *testing.T) {
		p := procs["a"]
		p.signal(t, syscall.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		first := time.Now()
		p.signal(t, syscall.SIGTERM)
		err := p.wait(t, rollingDelay)
		if took := time.Since(first); err == nil || took >= rollingDelay {
			t.Fatalf("after a second SIGTERM the replica exited %v after %s, want a failure within shutdown_delay %s", err, took, rollingDelay)
		}
		if !strings.Contains(p.stderr.String(), "a second signal: stopping at once") {
			t.Fatalf("the replica did not say why it stopped at once:\n%s", p.stderr.String())
		}
	})
	for _, p := range procs {
		checkNoTokenLogged(t, p.stderr.String())
	}
}

// rollingConfig is the config of both replicas but for listen: one
// PostgreSQL, one signing key, the bundle, the stop settings.
func rollingConfig(t *testing.T, bundle string, db *pgtest.Cluster) string {
	t.Helper()
	keyFile, pwFile := replicaSecrets(t, db)
	return fmt.Sprintf(`issuer: https://sts.example.com
bundles: [%s]
allow_insecure_issuers: true
signing: {algorithm: ES256, key_file: %s}
state: {url: %q, password_file: %s}
log: {level: info, decision_log: %s}
shutdown_delay: %s
shutdown_grace: %s
`, bundle, keyFile, db.URLWithoutPassword(pgtest.Database), pwFile, filepath.Join(t.TempDir(), "decisions.log"), rollingDelay, rollingGrace)
}

// checkLoad fails unless every exchange succeeded. The load is unpaced and
// runs at 1,500-2,500 exchanges/s on 2 vCPUs when this test runs alone, as
// make test-go runs it (TRUSTGATE_HAPROXY_TEST=alone), where less than
// 1,000/s fails; when other packages share the CPUs a lower rate is said,
// not failed: the run still shows no drop at the rate it had.
func checkLoad(t *testing.T, l *load, figures string) {
	t.Helper()
	if l.failed > 0 || l.connErrors > 0 {
		t.Errorf("exchanges failed: %s; first: %v", figures, l.first)
	}
	if l.rate() < 1000 && os.Getenv("TRUSTGATE_HAPROXY_TEST") == "alone" {
		t.Errorf("the load ran below 1,000 exchanges/s with the CPUs to itself: %s", figures)
	} else if l.rate() < 1000 {
		t.Logf("NOTE: the load ran below 1,000 exchanges/s (the CPUs are shared with other tests): %s", figures)
	}
}

// oneTime uses each one-time token twice in a row through the balancer and
// keeps every answer.
type oneTime struct {
	tokens   []string
	mu       sync.Mutex
	attempts map[int][]attempt // by token index
	stop     chan struct{}
	stopped  sync.Once
	done     chan struct{}
}

// attempt is one answer to a one-time token.
type attempt struct {
	status     int
	retryAfter string
	err        error
	at         time.Time // when the answer came
}

func startOneTime(client *http.Client, url string, tokens []string) *oneTime {
	o := &oneTime{tokens: tokens, attempts: map[int][]attempt{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		tick := time.NewTicker(4 * time.Millisecond)
		defer tick.Stop()
		for i := range tokens {
			select {
			case <-o.stop:
				return
			case <-tick.C:
			}
			o.use(client, url, i)
			o.use(client, url, i)
		}
	}()
	return o
}

func (o *oneTime) use(client *http.Client, url string, i int) {
	status, retryAfter, err := postForm(client, url+"/oauth2/token", exchangeValues(o.tokens[i]).Encode())
	o.mu.Lock()
	o.attempts[i] = append(o.attempts[i], attempt{status: status, retryAfter: retryAfter, err: err, at: time.Now()})
	o.mu.Unlock()
}

func (o *oneTime) end() {
	o.stopped.Do(func() { close(o.stop) })
	<-o.done
}

// retryRefused uses again, once the database is back, each token that got
// only 503s.
func (o *oneTime) retryRefused(client *http.Client, url string) {
	for i, as := range o.attempts {
		if !anyStatus(as, http.StatusOK) && anyStatus(as, http.StatusServiceUnavailable) {
			o.use(client, url, i)
		}
	}
}

func anyStatus(as []attempt, status int) bool {
	for _, a := range as {
		if a.status == status {
			return true
		}
	}
	return false
}

// check fails for a token issued twice, a 503 outside the outage (from
// down to 5s after the database is back) or without Retry-After, any other
// answer than 200, 400 (used) and 503, and when no one-time token was
// issued within 5s of the database coming back.
func (o *oneTime) check(t *testing.T, down, back time.Time) {
	t.Helper()
	backBy := back.Add(5 * time.Second)
	var issued, refused, lastRefused int
	var last, firstIssued time.Time
	for i, as := range o.attempts {
		ok := 0
		for _, a := range as {
			switch {
			case a.err != nil:
				t.Errorf("token %d: %v", i, a.err)
			case a.status == http.StatusOK:
				ok++
				if a.at.After(back) && (firstIssued.IsZero() || a.at.Before(firstIssued)) {
					firstIssued = a.at
				}
			case a.status == http.StatusServiceUnavailable:
				refused++
				if a.at.Before(down) || a.at.After(backBy) || a.retryAfter == "" {
					t.Errorf("token %d: 503 at %s (Retry-After %q) outside the outage %s..%s", i, a.at.Format(time.StampMilli), a.retryAfter,
						down.Format(time.StampMilli), backBy.Format(time.StampMilli))
				}
				if a.at.After(last) {
					last = a.at
					lastRefused = i
				}
			case a.status != http.StatusBadRequest:
				t.Errorf("token %d: HTTP %d", i, a.status)
			}
		}
		if ok > 1 {
			t.Errorf("token %d was exchanged %d times", i, ok)
		}
		issued += ok
	}
	t.Logf("one-time tokens: %d used, %d issued once each, %d answers 503, the last %s after PostgreSQL was back (token %d); "+
		"the first issued %s after it was back", len(o.attempts), issued, refused, last.Sub(back).Round(time.Millisecond), lastRefused,
		firstIssued.Sub(back).Round(time.Millisecond))
	if refused == 0 {
		t.Error("no one-time exchange was refused while PostgreSQL was down: the test did not see the outage")
	}
	if firstIssued.IsZero() || firstIssued.After(backBy) {
		t.Errorf("no one-time token was issued within 5s of PostgreSQL coming back (first at %s)", firstIssued.Format(time.StampMilli))
	}
}

// checkOneOutageLogged: a replica's log holds the database's outage as one
// error line and one line when it was back, and no line per refused
// request.
func checkOneOutageLogged(t *testing.T, name, logs string) {
	t.Helper()
	var outage []string
	down, back, perRequest := 0, 0, 0
	for _, l := range strings.Split(logs, "\n") {
		switch {
		case strings.Contains(l, `"msg":"state store unreachable"`):
			down++
		case strings.Contains(l, `"msg":"state store reachable again"`):
			back++
		case strings.Contains(l, `"msg":"request failed"`):
			perRequest++
			continue
		default:
			if !strings.Contains(l, `"msg":"state store still unreachable"`) {
				continue
			}
		}
		outage = append(outage, l)
	}
	t.Logf("%s logged the outage as:\n%s", name, strings.Join(outage, "\n"))
	if down != 1 || back != 1 || perRequest != 0 {
		t.Errorf("%s logged %d lines saying the store is unreachable, %d that it is back and %d per failed request; want 1, 1 and 0",
			name, down, back, perRequest)
	}
}
