package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigChecksRemoteBundles(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("t"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := token
	tests := []struct {
		name string
		yaml string
		want string // a problem; empty: accepted
	}{
		{"An https bundle URL is accepted.", "bundles: [https://bundles.example.com/team.tar.gz]", ""},
		{"A loopback http bundle URL is accepted with allow_insecure_issuers.", "allow_insecure_issuers: true\nbundles: [http://127.0.0.1:9/b.tar.gz]", ""},
		{"A loopback http bundle URL is refused without allow_insecure_issuers.", "bundles: [http://127.0.0.1:9/b.tar.gz]", "bundles[0]: http on a loopback host is allowed only with allow_insecure_issuers"},
		{"An http bundle URL to another host is refused.", "allow_insecure_issuers: true\nbundles: [., http://bundles.example.com/b.tar.gz]", "bundles[1]: http is allowed only on a loopback host"},
		{"Another scheme is refused.", "bundles: [\"file:///etc/bundle.tar.gz\"]", "bundles[0]: want an absolute https:// URL"},
		{"A bundle URL with a query is refused.", "bundles: [\"https://b.example.com/x?token=1\"]", "bundles[0]: must not carry a query"},
		{"A min_delay above max_delay is refused.", "bundles: [.]\nbundle_polling: {min_delay: 1m, max_delay: 10s}", "bundle_polling:"},
		{"A min_delay below 100ms is refused.", "bundles: [.]\nbundle_polling: {min_delay: 1ms, max_delay: 10s}", "bundle_polling:"},
		{"Credentials without a token file are refused.", "bundles: [https://b.example.com/x]\nbundle_credentials: {}", "bundle_credentials.bearer_token_file: is required"},
		{"A token file that does not exist is refused.", "bundles: [https://b.example.com/x]\nbundle_credentials: {bearer_token_file: /does/not/exist}", "bundle_credentials.bearer_token_file:"},
		{"Credentials with no remote bundle are refused.", "bundles: [.]\nbundle_credentials: {bearer_token_file: " + token + "}", "bundle_credentials: no bundle is a URL"},
		{"Credentials with a remote bundle are accepted.", "bundles: [https://b.example.com/x]\nbundle_credentials: {bearer_token_file: " + token + "}", ""},
		{"A cache dir that is a file is refused.", "bundles: [https://b.example.com/x]\nbundle_cache_dir: " + notDir, "bundle_cache_dir:"},
		{"An unknown key under bundle_polling is refused.", "bundles: [.]\nbundle_polling: {every: 1s}", "bundle_polling.every: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte("issuer: https://sts.example.com\n" + tt.yaml + "\n"))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestConfigFillsBundlePollingDefaults(t *testing.T) {
	c, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [https://b.example.com/x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.BundlePolling.MinDelay) != 10*time.Second || time.Duration(c.BundlePolling.MaxDelay) != 30*time.Second {
		t.Fatalf("bundle_polling %+v, want DESIGN §12's 10s and 30s", c.BundlePolling)
	}
	c, err = Parse([]byte("issuer: https://sts.example.com\nbundles: [https://b.example.com/x]\nbundle_polling: {min_delay: 1m}\n"))
	if err != nil {
		t.Fatalf("a min_delay alone above the default max_delay: %v", err)
	}
	if c.BundlePolling.MaxDelay != c.BundlePolling.MinDelay {
		t.Fatalf("max_delay %s, want min_delay", time.Duration(c.BundlePolling.MaxDelay))
	}
}
