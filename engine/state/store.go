package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/outage"
)

// Defaults of Options fields left zero.
const (
	DefaultOpTimeout     = 2 * time.Second
	DefaultOpenTimeout   = 15 * time.Second
	DefaultSweepInterval = time.Minute
	DefaultSweepBatch    = 500
	// DefaultRequestRetention keeps a finished just-in-time request (denied,
	// cancelled, expired, revoked) with its reviews and history this long.
	DefaultRequestRetention = 90 * 24 * time.Hour
	// DefaultNotificationRetention keeps a delivered notification this long.
	DefaultNotificationRetention = 7 * 24 * time.Hour
)

// ErrUnavailable is matched by every error of a Store operation: the
// database could not answer (down, unreachable, closed, timed out). It is
// never a "no": callers fail closed and may retry later.
var ErrUnavailable = errors.New("state store unavailable")

// ErrBadURL is matched by the error of Open for a state URL it cannot use.
var ErrBadURL = errors.New("bad state URL")

// SchemaTooNewError is Open's error for a database migrated by a newer
// binary: this one does not know its schema and refuses to touch it.
type SchemaTooNewError struct {
	// Database is the schema version found; Binary is the newest this
	// binary knows.
	Database, Binary int64
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("state database schema version %d is newer than this binary's %d: "+
		"run a trustgate at least as new as the one that migrated it", e.Database, e.Binary)
}

// Options configures Open. Zero values get the documented defaults.
type Options struct {
	// PasswordFile holds the PostgreSQL password (trailing newline
	// ignored). Only for postgres URLs, which must then carry no password.
	PasswordFile string
	// Logger receives migration and sweeper logs and the store's outages
	// (engine/outage: one line when it becomes unreachable, a summary at
	// most every 30s, one when it is back); never a token or a password
	// (default: none).
	Logger *zap.Logger
	// Registerer receives trustgate_state_errors_total and
	// trustgate_state_operation_seconds (default: unregistered).
	Registerer prometheus.Registerer
	// OpenTimeout bounds connecting and migrating in Open (default 15s).
	OpenTimeout time.Duration
	// OpTimeout bounds each operation, so a database that hangs gives
	// ErrUnavailable rather than a request that hangs (default 2s).
	OpTimeout time.Duration
	// SweepInterval is how often expired rows are deleted (default 1m);
	// SweepBatch is how many rows one DELETE removes at most (default 500).
	SweepInterval time.Duration
	SweepBatch    int
	// RequestRetention is how long a finished just-in-time request is kept
	// after its last transition (default 90 days); NotificationRetention
	// how long a delivered notification is (default 7 days).
	RequestRetention      time.Duration
	NotificationRetention time.Duration
	// HistoryKeep is how long a decision stays in the decision history
	// after it was last seen; zero or less: no history, and the sweep
	// empties it. HistoryMaxRows bounds its rows; the least recently seen
	// go first (default DefaultHistoryMaxRows).
	HistoryKeep    time.Duration
	HistoryMaxRows int64
	// ReadOnly opens a database without migrating or sweeping it (replay
	// reading a server's history): a schema older or newer than this
	// binary's is refused, and a SQLite file must exist.
	ReadOnly bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store is the durable state of one Trustgate process. It is safe for
// concurrent use; many Stores (replicas) may share one PostgreSQL database.
type Store struct {
	db        *sql.DB
	backend   string
	closers   []func() error // after db.Close, in order
	now       func() time.Time
	opTimeout time.Duration
	log       *zap.Logger
	outage    *outage.Log
	metrics   *metrics
	sweep     sweeper
	retention retention
	closeOnce sync.Once
	closeErr  error
}

// Open connects to the database that rawURL names (sqlite:PATH,
// postgres://…, postgresql://… or memory:), applies the migrations it lacks
// and starts the sweeper. Errors name the problem in one line: ErrBadURL,
// a *SchemaTooNewError, an unreachable database or a refused password.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	fillDefaults(&opts)
	ctx, cancel := context.WithTimeout(ctx, opts.OpenTimeout)
	defer cancel()
	c, err := connect(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:        c.db,
		backend:   c.backend,
		closers:   c.closers,
		now:       opts.Now,
		opTimeout: opts.OpTimeout,
		log:       opts.Logger,
		outage: outage.New(outage.Config{Logger: opts.Logger, Dependency: "state store",
			Fields: []zap.Field{zap.String("backend", c.backend), zap.String("url", c.redacted)}}),
		metrics: newMetrics(opts.Registerer),
		retention: retention{requests: opts.RequestRetention, notifications: opts.NotificationRetention,
			history: opts.HistoryKeep, historyRows: opts.HistoryMaxRows},
	}
	if opts.ReadOnly {
		err = checkSchema(ctx, c)
	} else {
		err = migrate(ctx, c, s.log)
	}
	if c.unlock != nil {
		c.unlock()
	}
	if err != nil {
		_ = s.closeDB()
		return nil, fmt.Errorf("state: %s: %w", c.redacted, err)
	}
	if !opts.ReadOnly {
		s.sweep = startSweeper(s, opts.SweepInterval, opts.SweepBatch)
	}
	return s, nil
}

func fillDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.SweepBatch <= 0 {
		o.SweepBatch = DefaultSweepBatch
	}
	if o.RequestRetention <= 0 {
		o.RequestRetention = DefaultRequestRetention
	}
	if o.NotificationRetention <= 0 {
		o.NotificationRetention = DefaultNotificationRetention
	}
	if o.HistoryMaxRows <= 0 {
		o.HistoryMaxRows = DefaultHistoryMaxRows
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Backend is "sqlite", "postgres" or "memory".
func (s *Store) Backend() string { return s.backend }

// Close stops the sweeper and closes the database. Operations after Close
// fail with ErrUnavailable. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.sweep.stop()
		s.closeErr = s.closeDB()
	})
	return s.closeErr
}

func (s *Store) closeDB() error {
	errs := []error{s.db.Close()}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// op runs one database operation under the operation timeout, records its
// latency and outcome, tells the outage log whether the database answered
// (a caller that gave up says nothing of it), and wraps a failure in
// ErrUnavailable.
func (s *Store) op(ctx context.Context, name string, f func(ctx context.Context) error) error {
	octx, cancel := context.WithTimeout(ctx, s.opTimeout)
	defer cancel()
	start := time.Now()
	err := f(octx)
	s.metrics.observe(name, time.Since(start), err)
	switch {
	case err == nil:
		s.outage.Answered()
		return nil
	case ctx.Err() == nil:
		s.outage.Failed(err)
		s.outage.Refused(name)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, name, err)
}

// unixCeil is t in Unix seconds, rounded up: a row kept until then is kept
// at least as long as asked.
func unixCeil(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}
