package state

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
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
