package state

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// benchStore opens a fresh database of one of the backends the benchmarks
// measure: the embedded default (a file in a temp dir) and PostgreSQL (the
// throwaway cluster of TestMain, which runs with fsync off).
func benchStore(b *testing.B, backend string) *Store {
	b.Helper()
	url := "sqlite:" + filepath.Join(b.TempDir(), "state.db")
	if backend == "postgres" {
		url = pg.Require(b).NewDatabase(b)
	}
	s, err := Open(context.Background(), url, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkUse is the one-time-use check of an exchange: one fresh
// (iss, jti) per iteration, one atomic INSERT … ON CONFLICT.
func BenchmarkUse(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := benchStore(b, name)
			until := time.Now().Add(time.Hour)
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					jti := strconv.FormatInt(n.Add(1), 10)
					if fresh, err := s.Use(context.Background(), "https://gitlab.example.com", jti, until); !fresh || err != nil {
						b.Fatalf("fresh %v, err %v", fresh, err)
					}
				}
			})
		})
	}
}

// BenchmarkRevoked is the revocation check of introspection and whoami:
// one indexed read per call (read-through, no cache), over 10,000 revoked
// ids, half the lookups hitting one.
func BenchmarkRevoked(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := benchStore(b, name)
			ctx := context.Background()
			for i := range 10_000 {
				if err := s.Revoke(ctx, "jti-"+strconv.Itoa(i), time.Now().Add(time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					want := i%2 == 0
					jti := "jti-" + strconv.FormatInt(i%10_000, 10)
					if !want {
						jti = "live-" + strconv.FormatInt(i, 10)
					}
					if revoked, err := s.Revoked(ctx, jti); revoked != want || err != nil {
						b.Fatalf("revoked %v, err %v; want %v", revoked, err, want)
					}
				}
			})
		})
	}
}

// grantStore is a store with 1,000 requests for 50 identities: per
// identity 10 active grants, 5 ended and 5 pending.
func grantStore(b *testing.B, backend string) (*Store, time.Time) {
	b.Helper()
	s := benchStore(b, backend)
	now := time.Now()
	for i := range 1000 {
		r := newRequest("r"+strconv.Itoa(i), "id-"+strconv.Itoa(i%50), "g/p"+strconv.Itoa(i), 0, now.Add(-time.Hour))
		switch i / 50 % 4 {
		case 0, 1:
			r.State, r.ExpiresAt = access.StateApproved, now.Add(time.Hour)
		case 2:
			r.State, r.ExpiresAt = access.StateApproved, now.Add(-time.Minute)
		}
		if err := s.CreateAccessRequest(context.Background(), r, nil); err != nil {
			b.Fatal(err)
		}
	}
	return s, now
}

// BenchmarkActiveGrants is the read of an exchange for a just-in-time
// identity: its active grants, read through (no cache).
func BenchmarkActiveGrants(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s, now := grantStore(b, name)
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					gs, err := s.ActiveGrants(context.Background(), "id-"+strconv.FormatInt(n.Add(1)%50, 10), now)
					if len(gs) != 10 || err != nil {
						b.Fatalf("%d grants, err %v; want 10", len(gs), err)
					}
				}
			})
		})
	}
}

// BenchmarkGrantActive is the check of introspection and whoami for a
// token issued under a grant: one indexed read, half the ids active.
func BenchmarkGrantActive(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s, now := grantStore(b, name)
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1) % 200
					ok, err := s.GrantActive(context.Background(), "r"+strconv.FormatInt(i, 10), now)
					if want := i < 100; ok != want || err != nil {
						b.Fatalf("r%d: active %v, err %v; want %v", i, ok, err, want)
					}
				}
			})
		})
	}
}
