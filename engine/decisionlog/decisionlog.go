// Package decisionlog ships decision records to an HTTP sink in OPA's
// decision-log format: gzip-compressed JSON arrays of events POSTed in
// batches. Record never blocks: when the sink is slow and the buffer is full,
// events are dropped and counted, so a slow sink never slows exchanges.
package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Event is one decision as OPA's decision log describes it.
type Event struct {
	Labels     map[string]string     `json:"labels"`
	DecisionID string                `json:"decision_id"`
	Path       string                `json:"path"`
	Input      any                   `json:"input,omitempty"`
	Result     any                   `json:"result,omitempty"`
	Bundles    map[string]BundleInfo `json:"bundles,omitempty"`
	Timestamp  time.Time             `json:"timestamp"`
	Metrics    map[string]int64      `json:"metrics,omitempty"`
	// Erased names the mask rules (JSON pointers) that removed a field of
	// Input, as OPA's decision logs do.
	Erased []string `json:"erased,omitempty"`
	// Shadow marks a shadow policy's evaluation of a decision (DESIGN §14):
	// its result holds both decisions; it granted nothing.
	Shadow bool `json:"shadow,omitempty"`
}

// BundleInfo names the revision of one bundle that made a decision.
type BundleInfo struct {
	Revision string `json:"revision"`
}

// Config configures an HTTPSink.
type Config struct {
	// URL receives POSTs of gzip-compressed JSON arrays of events.
	URL string
	// Client sends them (default: a client with a 10s timeout that follows
	// no redirect).
	Client *http.Client
	// BufferSize is how many events wait at most (default 10000); more are dropped.
	BufferSize int
	// BatchSize is the most events in one POST (default 500).
	BatchSize int
	// FlushInterval sends a partial batch after this long (default 5s).
	FlushInterval time.Duration
	// Logger reports failed uploads.
	Logger *zap.Logger
	// Registerer, when set, gets counters of the events dropped (buffer
	// full) and lost in failed uploads.
	Registerer prometheus.Registerer
}

// HTTPSink batches events and uploads them. Run it in a goroutine.
type HTTPSink struct {
	cfg     Config
	events  chan Event
	dropped atomic.Int64
	failed  atomic.Int64
}

// NewHTTPSink checks cfg and fills its defaults.
func NewHTTPSink(cfg Config) (*HTTPSink, error) {
	if cfg.URL == "" {
		return nil, errors.New("decisionlog: URL is required")
	}
	if cfg.Client == nil {
		// Batches hold subjects and client addresses: a redirect, to any
		// host or scheme, is a failed upload, never a second destination.
		cfg.Client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 10000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &HTTPSink{cfg: cfg, events: make(chan Event, cfg.BufferSize)}
	if cfg.Registerer != nil {
		err := errors.Join(
			cfg.Registerer.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "trustgate_decision_log_dropped_events_total",
				Help: "Decision events dropped because the HTTP sink's buffer was full.",
			}, func() float64 { return float64(s.Dropped()) })),
			cfg.Registerer.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "trustgate_decision_log_failed_events_total",
				Help: "Decision events lost in uploads to the HTTP sink that failed.",
			}, func() float64 { return float64(s.Failed()) })),
		)
		if err != nil {
			return nil, fmt.Errorf("decisionlog: metrics: %w", err)
		}
	}
	return s, nil
}

// Record queues e without ever blocking; it drops e when the buffer is full.
func (s *HTTPSink) Record(e Event) {
	select {
	case s.events <- e:
	default:
		s.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the buffer was full.
func (s *HTTPSink) Dropped() int64 { return s.dropped.Load() }

// Failed is how many events were lost in uploads that failed.
func (s *HTTPSink) Failed() int64 { return s.failed.Load() }

// drainTimeout bounds the uploads after Run's context ends.
const drainTimeout = 2 * time.Second

// Run uploads batches until ctx ends, then flushes what is queued once.
func (s *HTTPSink) Run(ctx context.Context) error {
	batch := make([]Event, 0, s.cfg.BatchSize)
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	// An upload running when ctx ends may finish within drainTimeout, like
	// the drain after it: stopping loses no batch that was on its way.
	up, cancelUp := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelUp()
	stopUp := context.AfterFunc(ctx, func() { time.AfterFunc(drainTimeout, cancelUp) })
	defer stopUp()
	for {
		select {
		case e := <-s.events:
			batch = append(batch, e)
			if len(batch) >= s.cfg.BatchSize {
				batch = s.flush(up, batch)
			}
		case <-tick.C:
			batch = s.flush(up, batch)
		case <-ctx.Done():
			s.drain(batch)
			return nil
		}
	}
}

// drain sends what is left with a short deadline of its own.
func (s *HTTPSink) drain(batch []Event) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for {
		select {
		case e := <-s.events:
			batch = append(batch, e)
			if len(batch) >= s.cfg.BatchSize {
				batch = s.flush(ctx, batch)
			}
		default:
			s.flush(ctx, batch)
			return
		}
	}
}

func (s *HTTPSink) flush(ctx context.Context, batch []Event) []Event {
	if len(batch) == 0 {
		return batch
	}
	if err := s.upload(ctx, batch); err != nil {
		s.failed.Add(int64(len(batch)))
		s.cfg.Logger.Warn("decision log upload failed; events lost", zap.Int("events", len(batch)), zap.Error(err))
	}
	return batch[:0]
}

func (s *HTTPSink) upload(ctx context.Context, batch []Event) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(batch); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, &buf)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sink answered HTTP %d", resp.StatusCode)
	}
	return nil
}
