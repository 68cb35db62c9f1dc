package outage

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// DefaultSummaryEvery is Config.SummaryEvery when it is zero.
const DefaultSummaryEvery = 30 * time.Second

// Config configures a Log. Zero values get the defaults named here.
type Config struct {
	// Logger receives the lines (default: none).
	Logger *zap.Logger
	// Dependency names what is down in the lines' messages, such as "state
	// store": "state store unreachable". Required.
	Dependency string
	// Fields identify it in every line (a backend, a URL); never a secret.
	Fields []zap.Field
	// SummaryEvery is the least time between two lines of one outage
	// (default DefaultSummaryEvery).
	SummaryEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Log follows one dependency. It is safe for concurrent use; while the
// dependency is up, Answered costs one atomic load.
type Log struct {
	cfg  Config
	down atomic.Bool

	mu       sync.Mutex
	since    time.Time      // the outage's first failure
	lastLine time.Time      // of the outage's latest line
	failures int            // since the latest line
	refused  map[string]int // by kind, since the latest line
	total    int            // requests refused in the whole outage
	lastErr  error
}

// New returns the Log of cfg.Dependency, which is up until Failed says
// otherwise.
func New(cfg Config) *Log {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.SummaryEvery <= 0 {
		cfg.SummaryEvery = DefaultSummaryEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Log{cfg: cfg, refused: map[string]int{}}
}

// Failed records that the dependency did not answer with err. The first
// failure of an outage logs it at Error; later ones count toward the next
// summary.
func (l *Log) Failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	l.lastErr = err
	if !l.down.Load() {
		l.down.Store(true)
		l.since, l.lastLine = now, now
		l.cfg.Logger.Error(l.cfg.Dependency+" unreachable", append(l.fields(), zap.Error(err))...)
		return
	}
	l.failures++
	l.summarize(now)
}

// Refused records a request of kind refused because the dependency is
// down; outside an outage it is not counted (the refusal has another
// cause, logged where it happens).
func (l *Log) Refused(kind string) {
	if !l.lockIfDown() {
		return
	}
	defer l.mu.Unlock()
	l.refused[kind]++
	l.total++
	l.summarize(l.cfg.Now())
}

// Answered records that the dependency answered: an outage ends, with a
// line saying how long it lasted and how many requests it refused.
func (l *Log) Answered() {
	if !l.lockIfDown() {
		return
	}
	defer l.mu.Unlock()
	l.down.Store(false)
	l.cfg.Logger.Info(l.cfg.Dependency+" reachable again", append(l.fields(),
		zap.Duration("outage", l.cfg.Now().Sub(l.since)), zap.Int("refused_total", l.total))...)
	clear(l.refused)
	l.failures, l.total, l.lastErr = 0, 0, nil
}

// lockIfDown takes l.mu and reports true while the dependency is down;
// while it is up it reports false without taking the lock (one atomic load).
func (l *Log) lockIfDown() bool {
	if !l.down.Load() {
		return false
	}
	l.mu.Lock()
	if !l.down.Load() {
		l.mu.Unlock()
		return false
	}
	return true
}

// summarize logs what happened since the latest line, when it is at least
// SummaryEvery old. l.mu is held.
func (l *Log) summarize(now time.Time) {
	if now.Sub(l.lastLine) < l.cfg.SummaryEvery {
		return
	}
	l.cfg.Logger.Warn(l.cfg.Dependency+" still unreachable", append(l.fields(),
		zap.Duration("down_for", now.Sub(l.since)), zap.Int("failures", l.failures),
		zap.Object("refused", counts(maps.Clone(l.refused))), zap.NamedError("last_error", l.lastErr))...)
	l.lastLine = now
	l.failures = 0
	clear(l.refused)
}

func (l *Log) fields() []zap.Field { return slices.Clip(l.cfg.Fields) }

// counts are refusals by kind, logged as an object in the kinds' order.
type counts map[string]int

func (c counts) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, k := range slices.Sorted(maps.Keys(c)) {
		enc.AddInt(k, c[k])
	}
	return nil
}
