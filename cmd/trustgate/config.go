package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/engine/weburl"
	"github.com/trustgate/trustgate/server"
)

// config is trustgate.yaml (DESIGN §8).
type config struct {
	// Issuer is the public URL of this STS.
	Issuer string `json:"issuer"`
	// Listen is the address the server listens on.
	Listen string `json:"listen"`
	// Bundles are directories or .tar.gz files, watched and hot-reloaded,
	// or https URLs of a bundle server, polled (config_bundles.go).
	Bundles []string `json:"bundles"`
	// BundlePolling, BundleCredentials and BundleCacheDir configure the
	// bundles that are URLs.
	BundlePolling     bundlePolling      `json:"bundle_polling"`
	BundleCredentials *bundleCredentials `json:"bundle_credentials,omitempty"`
	// BundleCacheDir keeps the last good download of each remote bundle.
	BundleCacheDir string `json:"bundle_cache_dir"`
	// BundleVerification, when set, requires every bundle to be signed.
	BundleVerification *bundleVerification `json:"bundle_verification,omitempty"`
	Signing            signingConfig       `json:"signing"`
	Tokens             tokensConfig        `json:"tokens"`
	Limits             limitsConfig        `json:"limits"`
	Log                logConfig           `json:"log"`
	State              stateConfig         `json:"state"`
	// AllowInsecureIssuers allows http issuers on loopback (development, tests).
	AllowInsecureIssuers bool `json:"allow_insecure_issuers"`
	// RevealReasons puts deny reasons in error_description.
	RevealReasons bool `json:"reveal_reasons"`
	// ShutdownGrace is how long in-flight requests get on SIGTERM.
	ShutdownGrace duration `json:"shutdown_grace"`
	// TrustedProxies are the CIDRs of the load balancers in front: only
	// their X-Forwarded-For / Forwarded name the client (config_network.go).
	TrustedProxies []string `json:"trusted_proxies"`
	// Introspection names the clients allowed to introspect tokens.
	Introspection introspectionConfig `json:"introspection"`
	// Notifications are webhooks told of just-in-time events, and
	// ConsoleURL the console their links point to (config_notify.go).
	Notifications []notificationConfig `json:"notifications"`
	ConsoleURL    string               `json:"console_url"`
	// Console is the approval console's sign-in (config_console.go).
	Console *consoleConfig `json:"console,omitempty"`
}

type bundleVerification struct {
	// PublicKeyFile is the PEM public key bundles are signed with.
	PublicKeyFile string `json:"public_key_file"`
	// KeyID is the key id the signatures name (opa sign --signing-key ... default "default").
	KeyID string `json:"key_id"`
	// Algorithm of the bundle signatures (default RS256).
	Algorithm string `json:"algorithm"`
}

type signingConfig struct {
	Algorithm        string   `json:"algorithm"`
	KeyFile          string   `json:"key_file"`
	PreviousKeyFiles []string `json:"previous_key_files"`
}

type tokensConfig struct {
	DefaultTTL duration `json:"default_ttl"`
	MaxTTL     duration `json:"max_ttl"`
}

type limitsConfig struct {
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// ClientRate is exchanges per second per client IP (0: no limit).
	ClientRate  float64 `json:"client_rate"`
	ClientBurst int     `json:"client_burst"`
	// SubjectRate is exchanges per second per source token subject (0: no limit).
	SubjectRate  float64 `json:"subject_rate"`
	SubjectBurst int     `json:"subject_burst"`
	// ClockSkew is the leeway on exp, nbf and iat of subject tokens.
	ClockSkew duration `json:"clock_skew"`
	// EvalTimeout bounds one policy evaluation (default 500ms): a runaway
	// policy fails its request with a 500, it cannot hold the server.
	EvalTimeout duration `json:"eval_timeout"`
	// MaxConcurrentEvaluations bounds evaluations running at once (default
	// 2 x the CPUs Go uses); QueueTimeout is how long an exchange waits for
	// one before a 503 with Retry-After (default 1s).
	MaxConcurrentEvaluations int      `json:"max_concurrent_evaluations"`
	QueueTimeout             duration `json:"queue_timeout"`
}

type logConfig struct {
	Level  string `json:"level"`
	Format string `json:"format"`
	// DecisionLog is where decision records go, as JSON lines: "stdout"
	// (the operational logs are on stderr) or a file path.
	DecisionLog string `json:"decision_log"`
	// DecisionLogURL, when set, also receives every decision in OPA's
	// decision-log format, batched; a slow sink drops events, never slows exchanges.
	DecisionLogURL string `json:"decision_log_url"`
}

// duration is a time.Duration written as a Go duration string ("15m").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"15m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"15m\": %w", err)
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// devConfig is what `serve` runs with when no config file is given.
func devConfig() config {
	c := config{
		Issuer:               "http://127.0.0.1:8080",
		Listen:               "127.0.0.1:8080",
		Bundles:              []string{"bundles/example"},
		AllowInsecureIssuers: true,
		Log:                  logConfig{Format: "console", Level: "info"},
	}
	c.Console = devConsole(c.Issuer)
	c.fillDefaults()
	return c
}

// loadConfig reads, parses, defaults and validates a config file, reporting
// every problem at once, each with its key.
func loadConfig(path string) (config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return config{}, err
	}
	return parseConfig(data)
}

func parseConfig(data []byte) (config, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return config{}, fmt.Errorf("not valid YAML: %w", err)
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return config{}, fmt.Errorf("not valid YAML: %w", err)
	}
	if _, isObj := raw.(map[string]any); !isObj && raw != nil {
		return config{}, errors.New("the config must be a mapping of keys")
	}
	var problems []string
	unknownKeys(raw, reflect.TypeOf(config{}), "", &problems)
	var c config
	if len(problems) == 0 {
		if err := json.Unmarshal(js, &c); err != nil {
			problems = append(problems, typeProblem(err))
		}
	}
	if len(problems) == 0 {
		c.fillDefaults()
		problems = c.validate()
	}
	if len(problems) > 0 {
		return config{}, fmt.Errorf("%d problem(s):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	return c, nil
}

// unknownKeys reports every key of raw that t has no json field for.
func unknownKeys(raw any, t reflect.Type, prefix string, problems *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			items, _ := raw.([]any)
			for i, it := range items {
				unknownKeys(it, t.Elem(), fmt.Sprintf("%s[%d]", prefix, i), problems)
			}
			return
		}
		t = t.Elem()
	}
	obj, ok := raw.(map[string]any)
	if !ok || t.Kind() != reflect.Struct {
		return
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		fields[name] = t.Field(i).Type
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := strings.TrimPrefix(prefix+"."+k, ".")
		ft, known := fields[k]
		if !known {
			*problems = append(*problems, key+": unknown key")
			continue
		}
		unknownKeys(obj[k], ft, key, problems)
	}
}

func typeProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: want a %s", te.Field, te.Type)
	}
	return err.Error()
}

func (c *config) fillDefaults() {
	if c.Listen == "" {
		c.Listen = "0.0.0.0:8080"
	}
	if c.Signing.Algorithm == "" {
		c.Signing.Algorithm = mint.ES256
	}
	if c.Tokens.DefaultTTL == 0 {
		c.Tokens.DefaultTTL = duration(engine.DefaultTTL)
	}
	if c.Tokens.MaxTTL == 0 {
		c.Tokens.MaxTTL = duration(engine.DefaultMaxTTL)
	}
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = server.DefaultMaxBodyBytes
	}
	if c.Limits.EvalTimeout == 0 {
		c.Limits.EvalTimeout = duration(policy.DefaultEvalTimeout)
	}
	if c.Limits.ClockSkew == 0 {
		c.Limits.ClockSkew = duration(verify.DefaultSkew)
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
		c.ShutdownGrace = duration(20 * time.Second)
	}
	c.fillBundleDefaults()
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

func (c *config) validate() []string {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	if err := checkURL(c.Issuer, c.AllowInsecureIssuers); err != nil {
		add("issuer", "%v", err)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "want host:port: %v", err)
	}
	p = append(p, c.bundleProblems()...)
	switch c.Signing.Algorithm {
	case mint.ES256, mint.EdDSA, mint.RS256:
	default:
		add("signing.algorithm", "want ES256, EdDSA or RS256, not %q", c.Signing.Algorithm)
	}
	if c.Tokens.DefaultTTL < 0 || c.Tokens.MaxTTL <= 0 {
		add("tokens", "default_ttl and max_ttl must be positive")
	} else if c.Tokens.DefaultTTL > c.Tokens.MaxTTL {
		add("tokens.default_ttl", "%s is longer than max_ttl %s", time.Duration(c.Tokens.DefaultTTL), time.Duration(c.Tokens.MaxTTL))
	}
	if c.Limits.MaxBodyBytes < 1024 {
		add("limits.max_body_bytes", "must be at least 1024")
	}
	if c.Limits.ClientRate < 0 || c.Limits.SubjectRate < 0 || c.Limits.ClientBurst < 0 || c.Limits.SubjectBurst < 0 {
		add("limits", "rates and bursts must not be negative")
	}
	if c.Limits.EvalTimeout < duration(time.Millisecond) || c.Limits.EvalTimeout > duration(10*time.Second) {
		add("limits.eval_timeout", "must be between 1ms and 10s")
	}
	if c.Limits.MaxConcurrentEvaluations < 0 || c.Limits.MaxConcurrentEvaluations > 4096 {
		add("limits.max_concurrent_evaluations", "must be between 0 (2 x CPUs) and 4096")
	}
	if c.Limits.QueueTimeout < 0 || c.Limits.QueueTimeout > duration(time.Minute) {
		add("limits.queue_timeout", "must be between 0 (%s) and 1m", engine.DefaultQueueTimeout)
	}
	if c.Limits.ClockSkew < 0 || c.Limits.ClockSkew > duration(5*time.Minute) {
		add("limits.clock_skew", "must be between 0 and 5m")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "want debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format", "want json or console, not %q", c.Log.Format)
	}
	if c.Log.DecisionLogURL != "" {
		if err := checkURL(c.Log.DecisionLogURL, c.AllowInsecureIssuers); err != nil {
			add("log.decision_log_url", "%v", err)
		}
	}
	if v := c.BundleVerification; v != nil && v.PublicKeyFile == "" {
		add("bundle_verification.public_key_file", "is required")
	}
	p = append(p, c.validateNetwork()...)
	p = append(p, c.notifyProblems()...)
	p = append(p, c.consoleProblems()...)
	return append(p, c.State.problems()...)
}

// checkURL applies the one URL rule (weburl) to a URL key that is required.
func checkURL(raw string, insecure bool) error {
	if raw == "" {
		return errors.New("is required")
	}
	return weburl.Check(raw, insecure)
}
