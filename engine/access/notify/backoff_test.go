package notify

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToItsCapWithJitter(t *testing.T) {
	n := &Notifier{cfg: Config{BaseDelay: time.Second, MaxDelay: 10 * time.Second}}
	for _, tc := range []struct {
		name     string
		attempts int
		most     time.Duration
	}{
		{"The first failure waits at most the base delay.", 1, time.Second},
		{"The second failure waits at most twice it.", 2, 2 * time.Second},
		{"The fourth failure waits at most eight times it.", 4, 8 * time.Second},
		{"The fifth failure is capped.", 5, 10 * time.Second},
		{"The hundredth failure is capped and does not overflow.", 100, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 200 {
				if d := n.backoff(tc.attempts); d < tc.most/2 || d > tc.most {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.attempts, d, tc.most/2, tc.most)
				}
			}
		})
	}
}
