package config

import (
	"fmt"
	"os"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/weburl"
)

// BundlePolling is bundle_polling: how often remote bundles are polled.
type BundlePolling struct {
	// MinDelay and MaxDelay bound the random wait between two polls of a
	// bundle server (defaults 10s and 30s).
	MinDelay Duration `json:"min_delay"`
	MaxDelay Duration `json:"max_delay"`
}

// BundleCredentials is bundle_credentials: what remote bundle requests carry.
type BundleCredentials struct {
	// BearerTokenFile holds the token sent as Authorization: Bearer to
	// every bundle URL; read at each request, never logged.
	BearerTokenFile string `json:"bearer_token_file"`
}

// Bounds of bundle_polling: below a second is for tests.
const (
	minPollDelay = 100 * time.Millisecond
	maxPollDelay = time.Hour
)

func (c *Config) fillBundleDefaults() {
	if c.BundlePolling.MinDelay == 0 {
		c.BundlePolling.MinDelay = Duration(policy.DefaultMinDelay)
	}
	if c.BundlePolling.MaxDelay == 0 {
		c.BundlePolling.MaxDelay = max(Duration(policy.DefaultMaxDelay), c.BundlePolling.MinDelay)
	}
}

// remoteBundles counts the bundles that are URLs.
func (c *Config) remoteBundles() int {
	n := 0
	for _, b := range c.Bundles {
		if policy.IsRemote(b) {
			n++
		}
	}
	return n
}

// bundleProblems checks bundles (local paths exist; URLs are https, or
// loopback http with allow_insecure_issuers) and the remote bundle keys.
func (c *Config) bundleProblems() []string {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	if len(c.Bundles) == 0 {
		add("bundles", "at least one bundle directory, .tar.gz file or https URL is required")
	}
	for i, b := range c.Bundles {
		key := fmt.Sprintf("bundles[%d]", i)
		if policy.IsRemote(b) {
			if err := weburl.Check(b, c.AllowInsecureIssuers); err != nil {
				add(key, "%v", err)
			}
			continue
		}
		if _, err := os.Stat(b); err != nil {
			add(key, "%v", err)
		}
	}
	poll := c.BundlePolling
	if poll.MinDelay < Duration(minPollDelay) || poll.MaxDelay > Duration(maxPollDelay) || poll.MaxDelay < poll.MinDelay {
		add("bundle_polling", "want %s <= min_delay <= max_delay <= %s, not %s and %s",
			minPollDelay, maxPollDelay, time.Duration(poll.MinDelay), time.Duration(poll.MaxDelay))
	}
	if cr := c.BundleCredentials; cr != nil {
		switch {
		case cr.BearerTokenFile == "":
			add("bundle_credentials.bearer_token_file", "is required")
		case c.remoteBundles() == 0:
			add("bundle_credentials", "no bundle is a URL: nothing would use the token")
		default:
			if _, err := os.Stat(cr.BearerTokenFile); err != nil {
				add("bundle_credentials.bearer_token_file", "%v", err)
			}
		}
	}
	if dir := c.BundleCacheDir; dir != "" {
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			add("bundle_cache_dir", "%s is not a directory", dir)
		}
	}
	return p
}

// RemoteOptions are the policy options of remote bundles.
func (c *Config) RemoteOptions(observer policy.FetchObserver) policy.RemoteOptions {
	o := policy.RemoteOptions{
		CacheDir: c.BundleCacheDir,
		MinDelay: time.Duration(c.BundlePolling.MinDelay),
		MaxDelay: time.Duration(c.BundlePolling.MaxDelay),
		Observer: observer,
	}
	if c.BundleCredentials != nil {
		o.BearerTokenFile = c.BundleCredentials.BearerTokenFile
	}
	return o
}
