package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// pg is this package's PostgreSQL cluster (TestMain).
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// backend is one kind of database the conformance suite runs on.
type backend struct {
	name string
	// fresh returns the URL of a new, empty database.
	fresh func(t *testing.T) string
	// shared: a second Store can open the database fresh returned.
	shared bool
}

func backends() []backend {
	return []backend{
		{name: "memory", fresh: func(*testing.T) string { return "memory:" }},
		{name: "sqlite", shared: true, fresh: func(t *testing.T) string {
			return "sqlite:" + filepath.Join(t.TempDir(), "state.db")
		}},
		{name: "postgres", shared: true, fresh: func(t *testing.T) string { return pg.Require(t).NewDatabase(t) }},
	}
}

// TestConformance runs every backend through the same tests: what one
// backend does, they all do.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"A one-time key is fresh once, used until it expires, then fresh again", testReplay},
		{"A revoked jti is revoked until its time and no longer after", testRevocation},
		{"Sweeping deletes expired rows in batches and keeps live ones", testSweep},
		{"The background sweeper deletes expired rows and stops on Close", testBackgroundSweeper},
		{"Of many goroutines using one key exactly one is fresh", testConcurrentUse},
		{"Of two Stores on one database using one key exactly one is fresh", testTwoStores},
		{"A revocation through one Store is in force at once through another", testRevokedEverywhere},
		{"Stores opened together on a fresh database migrate it once", testMigrateOnce},
		{"A database with a newer schema is refused naming both versions", testNewerSchema},
		{"A closed store answers errors, never fresh or not revoked", testClosed},
		{"State survives closing and opening the database again", testDurable},
	}
	tests = append(append(append(tests, accessTests...), outboxTests...), historyTests...)
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
			}
		})
	}
}

// clock is a settable clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// open opens url with clk (nil: the system clock), closed when t ends.
func open(t *testing.T, url string, clk *clock) *Store {
	t.Helper()
	opts := Options{}
	if clk != nil {
		opts.Now = clk.Now
	}
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open %s: %v", redact(url), err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func needShared(t *testing.T, b backend) {
	t.Helper()
	if !b.shared {
		t.Skipf("%s: a database private to one Store has no second opener", b.name)
	}
}

func testReplay(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	until := clk.Now().Add(5 * time.Minute)
	steps := []struct {
		name     string
		advance  time.Duration
		iss, jti string
		until    time.Time
		fresh    bool
	}{
		{"the first use of a key is fresh", 0, "https://a", "j1", until, true},
		{"the second use is not (RFC 7519 §4.1.7)", 0, "https://a", "j1", until, false},
		{"another jti is fresh", 0, "https://a", "j2", until, true},
		{"the same jti of another issuer is fresh", 0, "https://b", "j1", until, true},
		{"issuer and jti do not run together", 0, "https://a", "j", until, true},
		{"issuer and jti do not run together either way", 0, "https://aj", "", until, true},
		{"a use just before the key's time is refused", 5*time.Minute - time.Second, "https://a", "j1", until, false},
		{"once the key's time has passed it is fresh again", time.Second, "https://a", "j1", clk.Now().Add(10 * time.Minute), true},
		{"and used again before its new time", 4 * time.Minute, "https://a", "j1", clk.Now().Add(time.Hour), false},
		{"a key whose time has already passed is fresh", 0, "https://c", "old", clk.Now().Add(-time.Minute), true},
		{"and stays fresh: nothing live was recorded", 0, "https://c", "old", clk.Now().Add(-time.Minute), true},
		{"a live key is used whatever time the caller gives", 0, "https://a", "j1", clk.Now().Add(-time.Minute), false},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		fresh, err := s.Use(ctx, st.iss, st.jti, st.until)
		if err != nil || fresh != st.fresh {
			t.Fatalf("%s: fresh %v, err %v; want fresh %v", st.name, fresh, err, st.fresh)
		}
	}
}

func testRevocation(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	check := func(what, jti string, want bool) {
		t.Helper()
		got, err := s.Revoked(ctx, jti)
		if err != nil || got != want {
			t.Fatalf("%s: revoked %v, err %v; want %v", what, got, err, want)
		}
	}
	check("a jti never revoked", "a", false)
	if err := s.Revoke(ctx, "a", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	check("a revoked jti", "a", true)
	check("another jti", "b", false)
	// A second revocation with an earlier time does not shorten the first.
	if err := s.Revoke(ctx, "a", clk.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Second)
	check("a jti revoked twice, before the later time", "a", true)
	clk.Advance(30 * time.Second)
	check("a jti whose token has expired", "a", false)
}

func testBackgroundSweeper(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s, err := Open(ctx, b.fresh(t), Options{Now: clk.Now, SweepInterval: 10 * time.Millisecond, SweepBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, jti := range []string{"a", "b", "c"} {
		if err := s.Revoke(ctx, jti, clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	left := func() (n int) {
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM revocation").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := 0; left() > 0; i++ {
		if i == 500 {
			t.Fatalf("%d expired rows left after 5s of sweeping every 10ms", left())
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: the sweeper did not stop")
	}
}

func testSweep(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s := open(t, b.fresh(t), clk)
	for i := range 7 {
		jti := string(rune('a' + i))
		if _, err := s.Use(ctx, "https://a", jti, clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, jti, clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Use(ctx, "https://a", "live", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "live", clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(ctx, 2); n != 0 || err != nil {
		t.Fatalf("a sweep before anything expired deleted %d rows (err %v), want 0", n, err)
	}
	clk.Advance(2 * time.Minute)
	if n, err := s.Sweep(ctx, 2); n != 14 || err != nil {
		t.Fatalf("the sweep deleted %d rows (err %v), want the 14 expired ones in batches of 2", n, err)
	}
	for table, want := range map[string]int{"replay": 1, "revocation": 1} {
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != want {
			t.Fatalf("%s holds %d rows (err %v), want %d live", table, n, err, want)
		}
	}
	if fresh, err := s.Use(ctx, "https://a", "live", clk.Now().Add(time.Hour)); fresh || err != nil {
		t.Fatalf("a live key after the sweep: fresh %v, err %v", fresh, err)
	}
	if _, err := s.Sweep(ctx, 0); err == nil {
		t.Fatal("a sweep with batch 0 must be refused")
	}
}

// useConcurrently uses one key from n goroutines per store and returns how
// many were fresh; any error fails the test.
func useConcurrently(t *testing.T, n int, stores ...*Store) int64 {
	t.Helper()
	var fresh, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	until := time.Now().Add(time.Minute)
	for _, s := range stores {
		for range n {
			wg.Go(func() {
				<-start
				ok, err := s.Use(context.Background(), "https://ci", "one-jti", until)
				if err != nil {
					failed.Add(1)
				}
				if ok {
					fresh.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d concurrent uses failed", failed.Load())
	}
	return fresh.Load()
}

func testConcurrentUse(t *testing.T, b backend) {
	s := open(t, b.fresh(t), nil)
	if n := useConcurrently(t, 64, s); n != 1 {
		t.Fatalf("%d of 64 concurrent uses were fresh, want 1", n)
	}
}

func testTwoStores(t *testing.T, b backend) {
	needShared(t, b)
	url := b.fresh(t)
	a, c := open(t, url, nil), open(t, url, nil)
	if n := useConcurrently(t, 32, a, c); n != 1 {
		t.Fatalf("%d of 2 x 32 concurrent uses on two Stores were fresh, want 1", n)
	}
}

func testRevokedEverywhere(t *testing.T, b backend) {
	needShared(t, b)
	ctx := context.Background()
	url := b.fresh(t)
	a, c := open(t, url, nil), open(t, url, nil)
	if revoked, err := c.Revoked(ctx, "shared"); revoked || err != nil {
		t.Fatalf("before the revocation: %v, %v", revoked, err)
	}
	if err := a.Revoke(ctx, "shared", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Read-through: the next check on the other Store sees it, no waiting.
	if revoked, err := c.Revoked(ctx, "shared"); !revoked || err != nil {
		t.Fatalf("the other Store right after the revocation: %v, %v", revoked, err)
	}
}

func testMigrateOnce(t *testing.T, b backend) {
	needShared(t, b)
	url := b.fresh(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), url, Options{}) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("open %d of %d racing: %v", i+1, n, errs[i])
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var applied int
	q := "SELECT count(*) FROM " + versionTable + " WHERE version_id = 1"
	if err := stores[0].db.QueryRowContext(t.Context(), q).Scan(&applied); err != nil || applied != 1 {
		t.Fatalf("migration 1 recorded %d times (err %v), want once", applied, err)
	}
}

func testNewerSchema(t *testing.T, b backend) {
	needShared(t, b)
	url := b.fresh(t)
	s := open(t, url, nil)
	if _, err := s.db.ExecContext(t.Context(), "INSERT INTO "+versionTable+" (version_id, is_applied) VALUES (999, true)"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err := Open(context.Background(), url, Options{})
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != 999 || tooNew.Binary != 4 {
		t.Fatalf("open of a newer database: %v, want SchemaTooNewError{999, 4}", err)
	}
}

func testClosed(t *testing.T, b backend) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s, err := Open(ctx, b.fresh(t), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "r", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fresh, err := s.Use(ctx, "https://a", "j", time.Now().Add(time.Minute)); fresh || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Use on a closed store: fresh %v, err %v; want ErrUnavailable", fresh, err)
	}
	if revoked, err := s.Revoked(ctx, "r"); revoked || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Revoked on a closed store: %v, %v; want ErrUnavailable", revoked, err)
	}
	if err := s.Revoke(ctx, "x", time.Now().Add(time.Minute)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Revoke on a closed store: %v; want ErrUnavailable", err)
	}
	for _, op := range []string{"replay_use", "revoked", "revoke"} {
		if n := testutil.ToFloat64(s.metrics.errors.WithLabelValues(op)); n != 1 {
			t.Fatalf("trustgate_state_errors_total{operation=%q} = %v, want 1", op, n)
		}
	}
	// Failed operations are timed too: one latency series per operation.
	if n := testutil.CollectAndCount(reg, "trustgate_state_operation_seconds"); n != 3 {
		t.Fatalf("trustgate_state_operation_seconds has %d series, want one per operation (3)", n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func testDurable(t *testing.T, b backend) {
	needShared(t, b)
	ctx := context.Background()
	url := b.fresh(t)
	s := open(t, url, nil)
	if err := s.Revoke(ctx, "kept", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Use(ctx, "https://a", "kept", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = open(t, url, nil)
	if revoked, err := s.Revoked(ctx, "kept"); !revoked || err != nil {
		t.Fatalf("after reopening: revoked %v, err %v", revoked, err)
	}
	if fresh, err := s.Use(ctx, "https://a", "kept", time.Now().Add(time.Hour)); fresh || err != nil {
		t.Fatalf("after reopening: fresh %v, err %v", fresh, err)
	}
}
