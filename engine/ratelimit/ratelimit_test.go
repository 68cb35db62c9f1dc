package ratelimit

import (
	"testing"
	"time"
)

func TestKeyed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	k := New(1, 2, clock)

	for i := range 2 {
		if _, ok := k.Allow("a"); !ok {
			t.Fatalf("event %d within the burst was refused", i)
		}
	}
	wait, ok := k.Allow("a")
	if ok {
		t.Fatal("an event past the burst was allowed")
	}
	if wait <= 0 || wait > time.Second {
		t.Fatalf("retry after %s, want within (0, 1s]", wait)
	}
	if _, ok := k.Allow("b"); !ok {
		t.Fatal("another key was limited by the first key's events")
	}
	now = now.Add(time.Second)
	if _, ok := k.Allow("a"); !ok {
		t.Fatal("an event after the refill interval was refused")
	}
}

func TestKeyedForgetsIdleKeys(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := New(1, 1, func() time.Time { return now })
	k.Allow("a")
	now = now.Add(time.Hour)
	k.Allow("b")
	if _, found := k.buckets["a"]; found {
		t.Fatal("an idle key was kept")
	}
}

func TestNilKeyedAllowsEverything(t *testing.T) {
	k := New(0, 0, nil)
	for range 100 {
		if _, ok := k.Allow("a"); !ok {
			t.Fatal("a disabled limiter refused an event")
		}
	}
}
