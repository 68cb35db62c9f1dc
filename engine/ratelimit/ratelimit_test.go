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

func TestASlowLimitDoesNotForgetAKeyBeforeItsBucketRefills(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := New(1.0/3600, 2, func() time.Time { return now }) // two an hour: full again after 2h
	for i := range 2 {
		if _, ok := k.Allow("a"); !ok {
			t.Fatalf("event %d within the burst was refused", i)
		}
	}
	now = now.Add(11 * time.Minute) // past the 10-minute floor of idleness
	k.Allow("b")                    // a sweep
	if _, ok := k.Allow("a"); ok {
		t.Fatal("waiting 11 minutes reset a limit of two an hour")
	}
}

func TestASweepKeepsAKeyThatSpentItsBurstRecently(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := New(1.0/7200, 1, func() time.Time { return now }) // one per 2h: idle keys go after 2h
	k.Allow("z")                                           // the first sweep
	now = now.Add(2*time.Hour - time.Minute)
	if _, ok := k.Allow("a"); !ok {
		t.Fatal("a first event was refused")
	}
	now = now.Add(time.Minute)
	k.Allow("b") // the next sweep, a minute after "a" spent its burst
	if _, ok := k.Allow("a"); ok {
		t.Fatal("a sweep forgot a key that spent its burst a minute ago, and reset its limit")
	}
}
