package config

import (
	"strings"
	"testing"
	"time"
)

// base is the least config that parses, for tests of one key.
const base = "issuer: https://sts.example.com\nbundles: [.]\n"

func TestEachValueOutsideItsRangeIsRefusedByName(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"A negative max_ttl is refused.", "tokens: {max_ttl: -1m}", "tokens: default_ttl and max_ttl must be positive"},
		{"A negative default_ttl is refused.", "tokens: {default_ttl: -1m}", "tokens: default_ttl and max_ttl must be positive"},
		{"A body limit under 1 KiB is refused.", "limits: {max_body_bytes: 1023}", "limits.max_body_bytes:"},
		{"A negative client rate is refused.", "limits: {client_rate: -1}", "limits: rates and bursts must not be negative"},
		{"A negative subject burst is refused.", "limits: {subject_burst: -1}", "limits: rates and bursts must not be negative"},
		{"An evaluation timeout over 10s is refused.", "limits: {eval_timeout: 11s}", "limits.eval_timeout:"},
		{"An evaluation timeout under 1ms is refused.", "limits: {eval_timeout: 1us}", "limits.eval_timeout:"},
		{"A clock skew over 5m is refused.", "limits: {clock_skew: 6m}", "limits.clock_skew:"},
		{"A negative clock skew is refused.", "limits: {clock_skew: -1s}", "limits.clock_skew:"},
		{"A negative shutdown delay is refused.", "shutdown_delay: -1s", "shutdown_delay: must be between 0s and 1m"},
		{"A shutdown delay over a minute is refused.", "shutdown_delay: 61s", "shutdown_delay: must be between 0s and 1m"},
		{"A negative shutdown grace is refused.", "shutdown_grace: -1s", "shutdown_grace: must be positive"},
		{"Bundle verification without a public key file is refused.", "bundle_verification: {key_id: k}", "bundle_verification.public_key_file: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(base + tc.yaml + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(base + "limits: {max_body_bytes: 1024, eval_timeout: 10s, clock_skew: 5m}\n")); err != nil {
		t.Fatalf("the limits at their bounds: %v", err)
	}
}

func TestShutdownDelayDefaultsToFiveSecondsAndZeroMeansNone(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want time.Duration
	}{
		{"A config without shutdown_delay waits the default five seconds.", "", 5 * time.Second},
		{"An explicit 0s closes the listener at once.", "shutdown_delay: 0s\n", 0},
		{"An explicit value is kept.", "shutdown_delay: 12s\n", 12 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(base + tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(*c.ShutdownDelay); got != tc.want {
				t.Fatalf("shutdown_delay %s, want %s", got, tc.want)
			}
		})
	}
}
