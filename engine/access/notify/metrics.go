package notify

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Notifier's Prometheus metrics.
type metrics struct {
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	pending   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_notifications_delivered_total",
			Help: "Notifications a receiver accepted (2xx), by target.",
		}, []string{"target"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_notifications_failed_total",
			Help: "Delivery attempts that failed and will be retried (non-2xx answer, timeout, refused connection), by target.",
		}, []string{"target"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_notifications_dropped_total",
			Help: "Notifications dropped without delivery, by reason (unconfigured: their target is no longer configured; unreadable: a payload that does not parse).",
		}, []string{"reason"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trustgate_notifications_pending",
			Help: "Notifications in the outbox not yet delivered (all replicas), as this replica last counted them.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.delivered, err = register(reg, m.delivered)
	if err == nil {
		m.failed, err = register(reg, m.failed)
	}
	if err == nil {
		m.dropped, err = register(reg, m.dropped)
	}
	if err == nil {
		m.pending, err = register(reg, m.pending)
	}
	return m, err
}

// register registers c, or returns the collector already registered under
// its name (two Notifiers on one registry share the metrics).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
