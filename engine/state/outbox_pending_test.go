package state

import (
	"context"
	"testing"
	"time"
)

// PendingNotifications counts what is not delivered, claimed or not, on
// every backend.
func TestPendingNotificationsCountsWhatIsNotDelivered(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := open(t, b.fresh(t), clk)
			pending := func(want int) {
				t.Helper()
				if n, err := s.PendingNotifications(ctx); err != nil || n != want {
					t.Fatalf("pending = %d, %v; want %d", n, err, want)
				}
			}
			pending(0)
			create(t, s, newRequest("r1", "prod-db", "g/p", 1, clk.Now())) // slack and audit
			pending(2)
			ns, err := s.DueNotifications(ctx, clk.Now(), 10, time.Minute)
			if err != nil || len(ns) != 2 {
				t.Fatalf("claimed %d, %v", len(ns), err)
			}
			pending(2)
			if err := s.NotificationDelivered(ctx, ns[0].ID); err != nil {
				t.Fatal(err)
			}
			pending(1)
			_ = s.Close()
			if _, err := s.PendingNotifications(ctx); err == nil {
				t.Fatal("a closed store counted")
			}
		})
	}
}
