package config

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/engine/weburl"
	"github.com/trustgate/trustgate/server"
)

// Defaults of the shutdown keys (DESIGN §8).
const (
	DefaultShutdownDelay = 5 * time.Second
	DefaultShutdownGrace = 20 * time.Second
)

// FillDefaults sets every key left empty to its default (DESIGN §8);
// Parse calls it before Validate.
func (c *Config) FillDefaults() {
	if c.Listen == "" {
		c.Listen = "0.0.0.0:8080"
	}
	if c.Signing.Algorithm == "" {
		c.Signing.Algorithm = mint.ES256
	}
	if c.Tokens.DefaultTTL == 0 {
		c.Tokens.DefaultTTL = Duration(engine.DefaultTTL)
	}
	if c.Tokens.MaxTTL == 0 {
		c.Tokens.MaxTTL = Duration(engine.DefaultMaxTTL)
	}
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = server.DefaultMaxBodyBytes
	}
	if c.Limits.EvalTimeout == 0 {
		c.Limits.EvalTimeout = Duration(policy.DefaultEvalTimeout)
	}
	if c.Limits.ClockSkew == 0 {
		c.Limits.ClockSkew = Duration(verify.DefaultSkew)
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Log.DecisionLog == "" {
		c.Log.DecisionLog = "stdout"
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = Duration(DefaultShutdownGrace)
	}
	if c.ShutdownDelay == nil {
		d := Duration(DefaultShutdownDelay)
		c.ShutdownDelay = &d
	}
	c.fillBundleDefaults()
	c.DecisionHistory.fillDefaults()
	if len(c.ShadowBundles) > 0 && c.ShadowSampleRate == 0 {
		c.ShadowSampleRate = 1
	}
	c.fillNotifyDefaults()
	if v := c.BundleVerification; v != nil {
		if v.KeyID == "" {
			v.KeyID = policy.DefaultVerificationKeyID
		}
		if v.Algorithm == "" {
			v.Algorithm = policy.DefaultVerificationAlgorithm
		}
	}
}

// problemList collects problems, each starting with the key it is about.
type problemList []string

func (p *problemList) add(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

// Validate returns every problem of c, each starting with its key; none
// when c can be served. Call it again after changing c (serve's flags).
func (c *Config) Validate() []string {
	var p problemList
	if err := checkURL(c.Issuer, c.AllowInsecureIssuers); err != nil {
		p.add("issuer", "%v", err)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p.add("listen", "want host:port: %v", err)
	}
	p = append(p, c.bundleProblems()...)
	p = append(p, c.shadowProblems()...)
	p = append(p, c.DecisionHistory.problems()...)
	switch c.Signing.Algorithm {
	case mint.ES256, mint.EdDSA, mint.RS256:
	default:
		p.add("signing.algorithm", "want ES256, EdDSA or RS256, not %q", c.Signing.Algorithm)
	}
	if c.Tokens.DefaultTTL < 0 || c.Tokens.MaxTTL <= 0 {
		p.add("tokens", "default_ttl and max_ttl must be positive")
	} else if c.Tokens.DefaultTTL > c.Tokens.MaxTTL {
		p.add("tokens.default_ttl", "%s is longer than max_ttl %s", time.Duration(c.Tokens.DefaultTTL), time.Duration(c.Tokens.MaxTTL))
	}
	p = append(p, c.Limits.problems()...)
	p = append(p, c.shutdownProblems()...)
	p = append(p, c.logProblems()...)
	if v := c.BundleVerification; v != nil && v.PublicKeyFile == "" {
		p.add("bundle_verification.public_key_file", "is required")
	}
	p = append(p, c.validateNetwork()...)
	p = append(p, c.notifyProblems()...)
	p = append(p, c.consoleProblems()...)
	return append(p, c.State.problems()...)
}

// problems checks limits, each problem naming its key.
func (l Limits) problems() problemList {
	var p problemList
	if l.MaxBodyBytes < 1024 {
		p.add("limits.max_body_bytes", "must be at least 1024")
	}
	if l.ClientRate < 0 || l.SubjectRate < 0 || l.ClientBurst < 0 || l.SubjectBurst < 0 {
		p.add("limits", "rates and bursts must not be negative")
	}
	if l.EvalTimeout < Duration(time.Millisecond) || l.EvalTimeout > Duration(10*time.Second) {
		p.add("limits.eval_timeout", "must be between 1ms and 10s")
	}
	if l.MaxConcurrentEvaluations < 0 || l.MaxConcurrentEvaluations > 4096 {
		p.add("limits.max_concurrent_evaluations", "must be between 0 (2 x CPUs) and 4096")
	}
	if l.QueueTimeout < 0 || l.QueueTimeout > Duration(time.Minute) {
		p.add("limits.queue_timeout", "must be between 0 (%s) and 1m", engine.DefaultQueueTimeout)
	}
	if l.ClockSkew < 0 || l.ClockSkew > Duration(5*time.Minute) {
		p.add("limits.clock_skew", "must be between 0 and 5m")
	}
	return p
}

// shutdownProblems checks shutdown_delay and shutdown_grace.
func (c *Config) shutdownProblems() problemList {
	var p problemList
	if d := c.ShutdownDelay; d != nil && (*d < 0 || *d > Duration(time.Minute)) {
		p.add("shutdown_delay", "must be between 0s and 1m")
	}
	if c.ShutdownGrace <= 0 || c.ShutdownGrace > Duration(10*time.Minute) {
		p.add("shutdown_grace", "must be positive and at most 10m")
	}
	return p
}

// logProblems checks log, each problem naming its key.
func (c *Config) logProblems() problemList {
	var p problemList
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "want debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		p.add("log.format", "want json or console, not %q", c.Log.Format)
	}
	if c.Log.DecisionLogURL != "" {
		if err := checkURL(c.Log.DecisionLogURL, c.AllowInsecureIssuers); err != nil {
			p.add("log.decision_log_url", "%v", err)
		}
	}
	if _, err := decisionlog.ParseMask(c.Log.DecisionMask); err != nil {
		p.add("log.decision_mask", "%v", err)
	}
	return p
}

// checkURL applies the one URL rule (weburl) to a URL key that is required.
func checkURL(raw string, insecure bool) error {
	if raw == "" {
		return errors.New("is required")
	}
	return weburl.Check(raw, insecure)
}
