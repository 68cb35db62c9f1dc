package state

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Defaults of HistoryWriterOptions.
const (
	DefaultHistoryQueue    = 4096
	DefaultHistoryBatch    = 500
	DefaultHistoryInterval = time.Second
)

// HistoryWriterOptions configures a HistoryWriter; zero values get the
// defaults.
type HistoryWriterOptions struct {
	// Queue is how many entries wait at most; more are dropped and counted.
	Queue int
	// Batch is the most distinct entries one write holds; Interval is how
	// long a partial batch waits.
	Batch    int
	Interval time.Duration
	// StatsInterval is how often the size metrics are refreshed (default
	// a minute).
	StatsInterval time.Duration
	Logger        *zap.Logger
	// Registerer gets trustgate_decision_history_{rows,decisions,bytes,
	// dropped_total,write_failures_total}.
	Registerer prometheus.Registerer
}

// HistoryWriter writes decisions to the history off the request path:
// Keep never blocks (a full queue drops and counts), and Run writes them in
// batches, equal keys of a batch folded into one entry with a count.
type HistoryWriter struct {
	store   *Store
	opts    HistoryWriterOptions
	entries chan HistoryEntry
	m       historyMetrics
}

type historyMetrics struct {
	dropped, failed         prometheus.Counter
	rows, decisions, nbytes prometheus.Gauge
}

// NewHistoryWriter returns a writer into s.
func NewHistoryWriter(s *Store, opts HistoryWriterOptions) *HistoryWriter {
	if opts.Queue <= 0 {
		opts.Queue = DefaultHistoryQueue
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultHistoryBatch
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultHistoryInterval
	}
	if opts.StatsInterval <= 0 {
		opts.StatsInterval = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	w := &HistoryWriter{store: s, opts: opts, entries: make(chan HistoryEntry, opts.Queue), m: historyMetrics{
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "trustgate_decision_history_dropped_total",
			Help: "Decisions not kept in the decision history because its writer was behind (queue full)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "trustgate_decision_history_write_failures_total",
			Help: "Decisions lost because a write to the decision history failed."}),
		rows: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trustgate_decision_history_rows",
			Help: "Rows of the decision history (one per distinct decision)."}),
		decisions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trustgate_decision_history_decisions",
			Help: "Decisions the rows of the decision history stand for."}),
		nbytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trustgate_decision_history_bytes",
			Help: "Bytes of decision records in the decision history."}),
	}}
	if reg := opts.Registerer; reg != nil {
		w.m.dropped, w.m.failed = register(reg, w.m.dropped), register(reg, w.m.failed)
		w.m.rows, w.m.decisions, w.m.nbytes = register(reg, w.m.rows), register(reg, w.m.decisions), register(reg, w.m.nbytes)
	}
	return w
}

// Keep queues e without blocking; it drops e when the writer is behind.
func (w *HistoryWriter) Keep(e HistoryEntry) {
	select {
	case w.entries <- e:
	default:
		w.m.dropped.Inc()
	}
}

// Run writes queued entries until ctx ends, then writes what is queued
// once more.
func (w *HistoryWriter) Run(ctx context.Context) {
	batch := newFold(w.opts.Batch)
	tick := time.NewTicker(w.opts.Interval)
	defer tick.Stop()
	stats := time.NewTicker(w.opts.StatsInterval)
	defer stats.Stop()
	w.refreshStats(ctx)
	for {
		select {
		case e := <-w.entries:
			if batch.add(e) {
				w.flush(ctx, batch)
			}
		case <-tick.C:
			w.flush(ctx, batch)
		case <-stats.C:
			w.refreshStats(ctx)
		case <-ctx.Done():
			w.drain(batch)
			return
		}
	}
}

func (w *HistoryWriter) drain(batch *fold) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for {
		select {
		case e := <-w.entries:
			if batch.add(e) {
				w.flush(ctx, batch)
			}
		default:
			w.flush(ctx, batch)
			return
		}
	}
}

func (w *HistoryWriter) flush(ctx context.Context, b *fold) {
	if len(b.order) == 0 {
		return
	}
	entries := b.take()
	if err := w.store.KeepDecisions(ctx, entries); err != nil {
		var lost int64
		for _, e := range entries {
			lost += e.Count
		}
		w.m.failed.Add(float64(lost))
		w.opts.Logger.Warn("decision history: a write failed; its decisions are lost", zap.Int64("decisions", lost), zap.Error(err))
	}
}

func (w *HistoryWriter) refreshStats(ctx context.Context) {
	st, err := w.store.DecisionHistoryStats(ctx)
	if err != nil {
		return
	}
	w.m.rows.Set(float64(st.Rows))
	w.m.decisions.Set(float64(st.Decisions))
	w.m.nbytes.Set(float64(st.Bytes))
}

// fold is a batch whose equal keys are one entry: counts add up, the
// latest record stays, and so does the earliest time.
type fold struct {
	max   int
	index map[[sha256.Size]byte]int
	order []HistoryEntry
}

func newFold(n int) *fold { return &fold{max: n, index: make(map[[sha256.Size]byte]int, n)} }

// add folds e in and reports whether the batch is full.
func (f *fold) add(e HistoryEntry) bool {
	e.Count = max(e.Count, 1)
	if i, ok := f.index[e.Key]; ok {
		prev := &f.order[i]
		prev.Count += e.Count
		if first := e.firstSeen(); first.Before(prev.firstSeen()) {
			prev.first = first
		}
		if !e.At.Before(prev.At) {
			prev.Record, prev.At = e.Record, e.At
		}
		return false
	}
	f.index[e.Key] = len(f.order)
	f.order = append(f.order, e)
	return len(f.order) >= f.max
}

func (f *fold) take() []HistoryEntry {
	out := f.order
	f.order = make([]HistoryEntry, 0, f.max)
	clear(f.index)
	return out
}
