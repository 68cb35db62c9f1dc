package engine

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/ratelimit"
	"github.com/trustgate/trustgate/engine/verify"
)

// Defaults of Config.
const (
	DefaultTTL          = 15 * time.Minute
	DefaultMaxTTL       = time.Hour
	DefaultQueueTimeout = time.Second
)

// Config is what New needs. Every field is documented; zero values that have
// a sensible default get it in New.
type Config struct {
	// Issuer is this server's public URL: `iss` of issued tokens and the
	// audience of a token when the policy names none.
	Issuer string
	// DefaultTTL applies when the identity has no ttl (zero: the package's
	// DefaultTTL).
	DefaultTTL time.Duration
	// MaxTTL caps every issued token's lifetime (zero: DefaultMaxTTL).
	MaxTTL time.Duration
	// Verifier checks subject tokens. Required.
	Verifier *verify.Verifier
	// Keys signs issued tokens. Required.
	Keys *mint.KeyRing
	// Revocations records revoked token ids (an engine/state Store).
	// Required.
	Revocations RevocationStore
	// Access runs just-in-time access (DESIGN §13). Nil: just-in-time
	// identities are never granted and the access calls fail with
	// ErrNoAccess.
	Access *access.Service
	// SubjectRate and SubjectBurst limit exchanges per (issuer, subject);
	// zero rate: no limit.
	SubjectRate  float64
	SubjectBurst int
	// Logger receives operational logs. Nil: no logs.
	Logger *zap.Logger
	// DecisionLog receives one record per exchange. Nil: Logger.
	DecisionLog *zap.Logger
	// DecisionSink also receives every decision, in OPA's decision-log
	// format (for example a decisionlog.HTTPSink). Record must not block.
	DecisionSink DecisionSink
	// History keeps evaluated decisions for replay (nil: none); its Keep
	// must not block.
	History DecisionHistory
	// DecisionMask removes fields from every record's input (nil: none).
	DecisionMask *decisionlog.Mask
	// MaxConcurrentEvaluations bounds policy evaluations running at once
	// (default 2 x GOMAXPROCS); QueueTimeout is how long an exchange waits
	// for one before it fails with ErrOverloaded (zero: DefaultQueueTimeout).
	MaxConcurrentEvaluations int
	QueueTimeout             time.Duration
	// ShadowSampleRate is the share of exchanges also evaluated against the
	// shadow policy (SetShadowPolicy), 0 < rate <= 1 (zero: 1); ShadowQueue
	// is how many wait at most (zero: DefaultShadowQueue).
	ShadowSampleRate float64
	ShadowQueue      int
	// Metrics records counters and latencies. Nil: not recorded.
	Metrics *Metrics
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// DecisionSink receives decision events; Record must not block.
type DecisionSink interface {
	Record(decisionlog.Event)
}

// Request is one exchange as the caller asked for it.
type Request struct {
	// SubjectToken is the raw OIDC ID token. It is never logged.
	SubjectToken string
	// Identity is an identity name or email; empty: the one that matches.
	Identity string
	// Scopes requested; empty: all the identity has.
	Scopes []string
	// Audiences requested; empty: the identity's default.
	Audiences []string
	// ClientIP is the caller's address, for policy input and the log.
	ClientIP string
}

// Token is an issued access token and what the caller is told about it.
type Token struct {
	AccessToken string
	ExpiresIn   time.Duration
	Scopes      []string
	Audiences   []string
	Identity    string
	Subject     string
	DecisionID  string
}

// Engine exchanges tokens. It is safe for concurrent use.
type Engine struct {
	cfg      Config
	log      *zap.Logger
	decLog   *zap.Logger
	now      func() time.Time
	policy   atomic.Pointer[policy.Policy]
	keys     atomic.Pointer[mint.KeyRing]
	limiter  *ratelimit.Keyed
	revoked  RevocationStore
	access   *access.Service
	slots    *slots
	metrics  *Metrics
	shadow   *shadow
	statusMu sync.Mutex
	status   reloadStatus
}

type reloadStatus struct {
	lastError   string
	lastErrorAt time.Time
}

// New checks cfg, fills its defaults and returns an Engine with no policy:
// Exchange fails with ErrNoPolicy until SetPolicy is called.
func New(cfg Config) (*Engine, error) {
	if err := fillDefaults(&cfg); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		log:     cfg.Logger,
		decLog:  cfg.DecisionLog,
		now:     cfg.Now,
		limiter: ratelimit.New(cfg.SubjectRate, cfg.SubjectBurst, cfg.Now),
		revoked: cfg.Revocations,
		access:  cfg.Access,
		slots:   newSlots(cfg.MaxConcurrentEvaluations, cfg.QueueTimeout),
		metrics: cfg.Metrics,
		shadow:  newShadow(cfg.ShadowSampleRate, cfg.ShadowQueue, cfg.Metrics),
	}
	e.keys.Store(cfg.Keys)
	return e, nil
}

func fillDefaults(cfg *Config) error {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("engine: Issuer is required"))
	}
	if cfg.Verifier == nil {
		errs = append(errs, errors.New("engine: Verifier is required"))
	}
	if cfg.Keys == nil {
		errs = append(errs, errors.New("engine: Keys is required"))
	}
	if cfg.Revocations == nil {
		errs = append(errs, errors.New("engine: Revocations is required"))
	}
	if cfg.DefaultTTL == 0 {
		cfg.DefaultTTL = DefaultTTL
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.MaxConcurrentEvaluations == 0 {
		cfg.MaxConcurrentEvaluations = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.QueueTimeout == 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	if cfg.ShadowSampleRate == 0 {
		cfg.ShadowSampleRate = 1
	}
	if cfg.ShadowQueue == 0 {
		cfg.ShadowQueue = DefaultShadowQueue
	}
	if cfg.ShadowSampleRate < 0 || cfg.ShadowSampleRate > 1 || cfg.ShadowQueue < 0 {
		errs = append(errs, errors.New("engine: ShadowSampleRate must be in (0, 1] and ShadowQueue not negative"))
	}
	if cfg.MaxConcurrentEvaluations < 0 || cfg.QueueTimeout < 0 {
		errs = append(errs, errors.New("engine: MaxConcurrentEvaluations and QueueTimeout must not be negative"))
	}
	if cfg.DefaultTTL > cfg.MaxTTL {
		errs = append(errs, fmt.Errorf("engine: DefaultTTL %s exceeds MaxTTL %s", cfg.DefaultTTL, cfg.MaxTTL))
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.DecisionLog == nil {
		cfg.DecisionLog = cfg.Logger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return errors.Join(errs...)
}

// SetPolicy makes p the active policy. Requests already running keep the
// policy they read; new ones see p.
func (e *Engine) SetPolicy(p *policy.Policy) {
	e.policy.Store(p)
	e.statusMu.Lock()
	e.status = reloadStatus{}
	e.statusMu.Unlock()
	e.metrics.policyLoaded(p)
}

// PolicyFailed records a reload that was refused; the active policy stays.
func (e *Engine) PolicyFailed(err error) {
	e.statusMu.Lock()
	e.status = reloadStatus{lastError: err.Error(), lastErrorAt: e.now()}
	e.statusMu.Unlock()
	e.metrics.policyFailed()
}

// SetKeys makes r the signing key ring (key rotation without restart).
func (e *Engine) SetKeys(r *mint.KeyRing) { e.keys.Store(r) }

// Issuer is the server's issuer URL.
func (e *Engine) Issuer() string { return e.cfg.Issuer }

// JWKS returns the public keys that verify tokens this server issued.
func (e *Engine) JWKS() jose.JSONWebKeySet { return e.keys.Load().JWKS() }

// Ready reports whether the engine can issue tokens: a policy is loaded and
// signing keys are present.
func (e *Engine) Ready() error {
	if e.policy.Load() == nil {
		return ErrNoPolicy
	}
	if e.keys.Load() == nil {
		return errors.New("no signing keys")
	}
	return nil
}

// PolicyStatus describes the active policy and the last refused reload.
type PolicyStatus struct {
	Loaded      bool
	LoadedAt    time.Time
	Revisions   []policy.Revision
	LastError   string
	LastErrorAt time.Time
	// Shadow describes the shadow policy; nil when none was ever set or
	// refused.
	Shadow *PolicyStatus
}

// PolicyStatus returns the current PolicyStatus.
func (e *Engine) PolicyStatus() PolicyStatus {
	e.statusMu.Lock()
	st := PolicyStatus{LastError: e.status.lastError, LastErrorAt: e.status.lastErrorAt}
	e.statusMu.Unlock()
	if p := e.policy.Load(); p != nil {
		st.Loaded, st.LoadedAt, st.Revisions = true, p.LoadedAt(), p.Revisions()
	}
	st.Shadow = e.shadowStatus()
	return st
}

func (e *Engine) shadowStatus() *PolicyStatus {
	e.shadow.mu.Lock()
	st := PolicyStatus{LastError: e.shadow.status.lastError, LastErrorAt: e.shadow.status.lastErrorAt}
	e.shadow.mu.Unlock()
	if p := e.shadow.policy.Load(); p != nil {
		st.Loaded, st.LoadedAt, st.Revisions = true, p.LoadedAt(), p.Revisions()
	}
	if !st.Loaded && st.LastError == "" {
		return nil
	}
	return &st
}

func (e *Engine) activePolicy() (*policy.Policy, error) {
	p := e.policy.Load()
	if p == nil {
		return nil, ErrNoPolicy
	}
	return p, nil
}
