package config

import (
	"strings"
	"testing"
)

func TestEachValueOutsideItsRangeIsRefusedByName(t *testing.T) {
	const base = "issuer: https://sts.example.com\nbundles: [.]\n"
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
