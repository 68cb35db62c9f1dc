package verify

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable clock for tests.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemoryReplayStoreRefusesASecondUseUntilTheKeyExpires(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newMemoryReplayStore(clk.Now, 10)
	until := clk.Now().Add(5 * time.Minute)
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		fresh   bool
	}{
		{"the first use of a key is fresh", 0, "iss\x00a", true},
		{"the second use is not (RFC 7519 §4.1.7: jti prevents replay)", 0, "iss\x00a", false},
		{"another key is fresh", 0, "iss\x00b", true},
		{"the same jti of another issuer is fresh", 0, "other\x00a", true},
		{"a use just before the key's time is still refused", 5*time.Minute - time.Nanosecond, "iss\x00a", false},
		{"once the key's time has passed it is fresh again (its token has expired)", time.Nanosecond, "iss\x00a", true},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		fresh, err := s.Use(ctx, st.key, until)
		if err != nil || fresh != st.fresh {
			t.Fatalf("%s: fresh %v, err %v", st.name, fresh, err)
		}
	}
}

func TestMemoryReplayStoreIsBoundedAndSweepsExpiredKeys(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newMemoryReplayStore(clk.Now, 100)
	for i := range 100 {
		if fresh, err := s.Use(ctx, strconv.Itoa(i), clk.Now().Add(time.Minute)); !fresh || err != nil {
			t.Fatalf("use %d: %v %v", i, fresh, err)
		}
	}
	// Full of live keys: refuse rather than forget one (fail closed).
	if _, err := s.Use(ctx, "one more", clk.Now().Add(time.Minute)); !errors.Is(err, ErrReplayStoreFull) {
		t.Fatalf("a full store: %v, want ErrReplayStoreFull", err)
	}
	if fresh, err := s.Use(ctx, "5", clk.Now().Add(time.Minute)); fresh || err != nil {
		t.Fatalf("a full store must still refuse known keys: %v %v", fresh, err)
	}
	// Once they expire, they are swept and there is room again.
	clk.Advance(2 * time.Minute)
	if fresh, err := s.Use(ctx, "one more", clk.Now().Add(time.Minute)); !fresh || err != nil {
		t.Fatalf("after expiry: %v %v", fresh, err)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("%d keys held after the sweep, want 1", n)
	}
	// A key whose time has already passed needs no room.
	if fresh, err := s.Use(ctx, "past", clk.Now().Add(-time.Second)); !fresh || err != nil || s.Len() != 1 {
		t.Fatalf("a past key: %v %v, %d held", fresh, err, s.Len())
	}
}

func TestMemoryReplayStoreKeepsFixedSizeEntriesWhateverTheKey(t *testing.T) {
	s := newMemoryReplayStore(time.Now, 10)
	long := string(make([]byte, 1<<20))
	if fresh, _ := s.Use(context.Background(), long, time.Now().Add(time.Minute)); !fresh {
		t.Fatal("not fresh")
	}
	for k := range s.until {
		if len(k) != 32 {
			t.Fatalf("entry key of %d bytes, want a 32-byte SHA-256", len(k))
		}
	}
}

func TestMemoryReplayStoreLetsExactlyOneOfConcurrentUsesThrough(t *testing.T) {
	s := NewMemoryReplayStore()
	var fresh atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if ok, err := s.Use(context.Background(), "iss\x00jti", time.Now().Add(time.Minute)); ok && err == nil {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d of 64 concurrent uses were fresh, want 1", fresh.Load())
	}
}
