package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is trustgate.yaml (DESIGN §8).
type Config struct {
	// Issuer is the public URL of this STS.
	Issuer string `json:"issuer"`
	// Listen is the address the server listens on.
	Listen string `json:"listen"`
	// Bundles are directories or .tar.gz files, watched and hot-reloaded,
	// or https URLs of a bundle server, polled (bundles.go).
	Bundles []string `json:"bundles"`
	// ShadowBundles are a candidate policy (paths or URLs, loaded, polled
	// and verified as Bundles) evaluated beside the live one, off the
	// request path; it never changes an answer (shadow.go).
	ShadowBundles []string `json:"shadow_bundles"`
	// ShadowSampleRate is the share of exchanges the shadow policy
	// evaluates (default 1).
	ShadowSampleRate float64 `json:"shadow_sample_rate"`
	// BundlePolling, BundleCredentials and BundleCacheDir configure the
	// bundles that are URLs.
	BundlePolling     BundlePolling      `json:"bundle_polling"`
	BundleCredentials *BundleCredentials `json:"bundle_credentials,omitempty"`
	// BundleCacheDir keeps the last good download of each remote bundle.
	BundleCacheDir string `json:"bundle_cache_dir"`
	// BundleVerification, when set, requires every bundle to be signed.
	BundleVerification *BundleVerification `json:"bundle_verification,omitempty"`
	Signing            Signing             `json:"signing"`
	Tokens             Tokens              `json:"tokens"`
	Limits             Limits              `json:"limits"`
	Log                Log                 `json:"log"`
	State              State               `json:"state"`
	// DecisionHistory is the state store's history of decisions, for
	// `trustgate replay --state` (history.go).
	DecisionHistory DecisionHistory `json:"decision_history"`
	// AllowInsecureIssuers allows http issuers on loopback (development, tests).
	AllowInsecureIssuers bool `json:"allow_insecure_issuers"`
	// RevealReasons puts deny reasons in error_description.
	RevealReasons bool `json:"reveal_reasons"`
	// ShutdownDelay is how long the server keeps accepting and serving
	// after SIGTERM, with /readyz failing and every response saying
	// Connection: close, so that load balancers and Kubernetes, which learn
	// of readiness only at their next probe, stop sending before the
	// listener closes (default 5s; 0s: close at once). It must exceed the
	// time they take to take a replica out: probe period x failure
	// threshold, plus their own propagation.
	ShutdownDelay *Duration `json:"shutdown_delay,omitempty"`
	// ShutdownGrace is how long in-flight requests get to finish once the
	// listener has closed, after ShutdownDelay.
	ShutdownGrace Duration `json:"shutdown_grace"`
	// TrustedProxies are the CIDRs of the load balancers in front: only
	// their X-Forwarded-For / Forwarded name the client (network.go).
	TrustedProxies []string `json:"trusted_proxies"`
	// Introspection names the clients allowed to introspect tokens.
	Introspection Introspection `json:"introspection"`
	// Notifications are webhooks told of just-in-time events, and
	// ConsoleURL the console their links point to (notify.go).
	Notifications []Notification `json:"notifications"`
	ConsoleURL    string         `json:"console_url"`
	// Console is the approval console's sign-in (console.go).
	Console *Console `json:"console,omitempty"`

	// devIssuer is where the dev issuer listens: development defaults
	// only (dev.go).
	devIssuer string
}

type BundleVerification struct {
	// PublicKeyFile is the PEM public key bundles are signed with.
	PublicKeyFile string `json:"public_key_file"`
	// KeyID is the key id the signatures name (opa sign --signing-key ... default "default").
	KeyID string `json:"key_id"`
	// Algorithm of the bundle signatures (default RS256).
	Algorithm string `json:"algorithm"`
}

type Signing struct {
	Algorithm        string   `json:"algorithm"`
	KeyFile          string   `json:"key_file"`
	PreviousKeyFiles []string `json:"previous_key_files"`
}

type Tokens struct {
	DefaultTTL Duration `json:"default_ttl"`
	MaxTTL     Duration `json:"max_ttl"`
}

type Limits struct {
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// ClientRate is exchanges per second per client IP (0: no limit).
	ClientRate  float64 `json:"client_rate"`
	ClientBurst int     `json:"client_burst"`
	// SubjectRate is exchanges per second per source token subject (0: no limit).
	SubjectRate  float64 `json:"subject_rate"`
	SubjectBurst int     `json:"subject_burst"`
	// ClockSkew is the leeway on exp, nbf and iat of subject tokens.
	ClockSkew Duration `json:"clock_skew"`
	// EvalTimeout bounds one policy evaluation (default 500ms): a runaway
	// policy fails its request with a 500, it cannot hold the server.
	EvalTimeout Duration `json:"eval_timeout"`
	// MaxConcurrentEvaluations bounds evaluations running at once (default
	// 2 x the CPUs Go uses); QueueTimeout is how long an exchange waits for
	// one before a 503 with Retry-After (default 1s).
	MaxConcurrentEvaluations int      `json:"max_concurrent_evaluations"`
	QueueTimeout             Duration `json:"queue_timeout"`
}

type Log struct {
	Level  string `json:"level"`
	Format string `json:"format"`
	// DecisionLog is where decision records go, as JSON lines: "stdout"
	// (the operational logs are on stderr) or a file path.
	DecisionLog string `json:"decision_log"`
	// DecisionLogURL, when set, also receives every decision in OPA's
	// decision-log format, batched; a slow sink drops events, never slows exchanges.
	DecisionLogURL string `json:"decision_log_url"`
	// DecisionMask are JSON pointers (/input/token/user_email) of fields
	// removed from every record's input; the record names them in "erased".
	DecisionMask []string `json:"decision_mask"`
}

// Duration is a time.Duration written as a Go duration string ("15m").
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "0" { // keep: 0
		*d = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a Duration string such as \"15m\" or \"14d\"")
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			*d = Duration(time.Duration(n) * 24 * time.Hour)
			return nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a Duration string such as \"15m\": %w", err)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
