package notify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/access"
)

// Outbox is what a Notifier needs of the store (engine/state implements
// it): due notifications claimed for a lease, then marked delivered or
// failed, and a count of those not yet delivered.
type Outbox interface {
	DueNotifications(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]access.Notification, error)
	NotificationDelivered(ctx context.Context, id int64) error
	NotificationFailed(ctx context.Context, id int64, next time.Time, errText string) error
	PendingNotifications(ctx context.Context) (int, error)
}

// Defaults of Config.
const (
	DefaultPollInterval = time.Second
	DefaultLease        = 2 * time.Minute
	DefaultBatch        = 20
	DefaultBaseDelay    = 5 * time.Second
	DefaultMaxDelay     = 10 * time.Minute
	// workers is how many deliveries of one batch run at once.
	workers = 4
	// countEvery is how often the pending gauge is recounted.
	countEvery = 15 * time.Second
)

// Config is what New needs.
type Config struct {
	// Outbox is the store's outbox. Required.
	Outbox Outbox
	// Targets are the configured webhooks, by unique name.
	Targets []Target
	// ConsoleURL links each request (<ConsoleURL>/requests/<id>); "": no link.
	ConsoleURL string
	// Client posts the notifications; nil: NewClient(DefaultTimeout). Its
	// timeout must be well under Lease.
	Client *http.Client
	// PollInterval is how often the outbox is polled (default 1s).
	PollInterval time.Duration
	// Lease is how long a claimed notification is held before another
	// replica may claim it (default 2m): longer than a batch's deliveries.
	Lease time.Duration
	// Batch is the most notifications claimed at once (default 20).
	Batch int
	// BaseDelay is the wait after the first failure (default 5s); each
	// further failure doubles it, up to MaxDelay (default 10m); each wait
	// is jittered down by up to half.
	BaseDelay, MaxDelay time.Duration
	// Logger receives operational logs; nil: none.
	Logger *zap.Logger
	// Registerer receives the metrics; nil: none.
	Registerer prometheus.Registerer
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Notifier delivers the outbox's notifications until its Run ends.
type Notifier struct {
	cfg       Config
	targets   map[string]Target
	log       *zap.Logger
	metrics   *metrics
	lastCount time.Time
}

// New checks cfg and returns a Notifier.
func New(cfg Config) (*Notifier, error) {
	if cfg.Outbox == nil {
		return nil, errors.New("notify: Outbox is required")
	}
	targets := make(map[string]Target, len(cfg.Targets))
	for _, t := range cfg.Targets {
		if err := t.check(); err != nil {
			return nil, err
		}
		if _, dup := targets[t.Name]; dup {
			return nil, fmt.Errorf("notify: two targets named %q", t.Name)
		}
		targets[t.Name] = t
	}
	fillDefaults(&cfg)
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, targets: targets, log: cfg.Logger, metrics: m}, nil
}

func fillDefaults(cfg *Config) {
	if cfg.Client == nil {
		cfg.Client = NewClient(DefaultTimeout)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = max(DefaultMaxDelay, cfg.BaseDelay)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

func (t Target) check() error {
	switch {
	case t.Name == "":
		return errors.New("notify: a target has no name")
	case t.URL == "":
		return fmt.Errorf("notify: target %s has no URL", t.Name)
	case t.Format != FormatSlack && t.Format != FormatJSON:
		return fmt.Errorf("notify: target %s: format %q is not slack or json", t.Name, t.Format)
	case t.Format == FormatJSON && len(t.Secret) == 0:
		return fmt.Errorf("notify: target %s: a json target needs a secret", t.Name)
	}
	return nil
}

// Run polls the outbox every PollInterval and delivers what is due until
// ctx ends; it returns nil then. A store that cannot be reached is logged
// and polled again.
func (n *Notifier) Run(ctx context.Context) error {
	tick := time.NewTicker(n.cfg.PollInterval)
	defer tick.Stop()
	for {
		n.drain(ctx)
		n.count(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// drain claims and delivers batches until one comes back short.
func (n *Notifier) drain(ctx context.Context) {
	for ctx.Err() == nil {
		due, err := n.cfg.Outbox.DueNotifications(ctx, n.cfg.Now(), n.cfg.Batch, n.cfg.Lease)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("notifications: cannot claim due notifications; polling again", zap.Error(err))
			}
			return
		}
		n.deliverAll(ctx, due)
		if len(due) < n.cfg.Batch {
			return
		}
	}
}

// deliverAll delivers a batch, a few at once.
func (n *Notifier) deliverAll(ctx context.Context, due []access.Notification) {
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, note := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n.deliver(ctx, note)
		})
	}
	wg.Wait()
}

// count refreshes the pending gauge every countEvery.
func (n *Notifier) count(ctx context.Context) {
	if now := n.cfg.Now(); now.Sub(n.lastCount) >= countEvery {
		if c, err := n.cfg.Outbox.PendingNotifications(ctx); err == nil {
			n.metrics.pending.Set(float64(c))
			n.lastCount = now
		}
	}
}

// backoff is the wait before attempt+1: BaseDelay doubled per failure,
// capped at MaxDelay, jittered into [d/2, d].
func (n *Notifier) backoff(attempts int) time.Duration {
	d := n.cfg.BaseDelay
	for i := 1; i < attempts && d < n.cfg.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, n.cfg.MaxDelay)
	return d/2 + rand.N(d/2+1)
}
