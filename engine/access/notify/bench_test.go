package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access/notify"
)

// BenchmarkDelivery is the notifier's throughput to one signed JSON
// receiver on loopback from a SQLite outbox: b.N notifications queued,
// then delivered (claim, render, sign, post, mark).
func BenchmarkDelivery(b *testing.B) {
	s := openStore(b, sqliteURL(b))
	rcv := newReceiver(b, nil, 0)
	targets := []notify.Target{jsonTarget("audit", rcv)}
	subs := notify.Subscribers(targets)
	now := time.Now()
	for i := range b.N {
		if err := s.CreateAccessRequest(context.Background(), pendingRequest(requestID(i), now), subs); err != nil {
			b.Fatal(err)
		}
	}
	n, err := notify.New(notify.Config{Outbox: s, Targets: targets, PollInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	go func() { _ = n.Run(ctx) }()
	for {
		if p, _ := s.PendingNotifications(ctx); p == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}
