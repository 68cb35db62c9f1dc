package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustgate/trustgate/engine/policy"
)

// stage is a stage of an exchange; stageNames are its histogram labels.
type stage int

const (
	stageVerify stage = iota
	stageQueue        // waiting for an evaluation slot
	stageEvaluate
	stageSign
	numStages
)

var stageNames = [numStages]string{"verify", "queue", "evaluate", "sign"}

// Metrics are the engine's Prometheus metrics. Its KeysFetched method makes
// it the verify.Observer of JWKS fetches.
type Metrics struct {
	exchanges   *prometheus.CounterVec
	stages      *prometheus.HistogramVec
	observers   [numStages]prometheus.Observer // stages' children, resolved once
	reloads     *prometheus.CounterVec
	revision    *prometheus.GaugeVec
	shadow      *prometheus.CounterVec // shadow decisions by outcome
	shadowDrops prometheus.Counter
	jwks        *prometheus.CounterVec
	fetches     *prometheus.CounterVec // remote bundle fetches
	fetchedAt   *prometheus.GaugeVec   // last good answer of a bundle server
}

// NewMetrics creates the engine's metrics and registers them with reg; a nil
// reg leaves them unregistered (they still count, nobody scrapes them).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_exchanges_total",
			Help: "Token exchanges by result (issued, denied, invalid_token, rate_limited, overloaded, cancelled, error) and provider.",
		}, []string{"result", "provider"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "trustgate_exchange_stage_seconds",
			Help:    "Latency of the exchange stages: verify, queue (waiting for an evaluation slot), evaluate, sign.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5, 2.5},
		}, []string{"stage"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_policy_reloads_total",
			Help: "Policy loads by outcome (success, failure; shadow_success, shadow_failure: the shadow bundles').",
		}, []string{"outcome"}),
		revision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trustgate_policy_revision_info",
			Help: "1 for each bundle revision of the active policy (policy=\"live\") and of the shadow policy (policy=\"shadow\").",
		}, []string{"bundle", "revision", "policy"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_shadow_decisions_total",
			Help: "Exchanges also evaluated against the shadow policy, by outcome (same, newly_allowed, newly_denied, changed, error).",
		}, []string{"outcome"}),
		shadowDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trustgate_shadow_dropped_total",
			Help: "Exchanges not evaluated against the shadow policy because its queue was full.",
		}),
		jwks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_jwks_fetches_total",
			Help: "JWKS and discovery fetches by provider and outcome.",
		}, []string{"provider", "outcome"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trustgate_bundle_fetches_total",
			Help: "Fetches of remote bundles by bundle URL and outcome (updated, not_modified, failed).",
		}, []string{"bundle", "outcome"}),
		fetchedAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trustgate_bundle_last_fetch_success_timestamp_seconds",
			Help: "Unix time of the last fetch of a remote bundle that the bundle server answered (200 or 304).",
		}, []string{"bundle"}),
	}
	for i, name := range stageNames {
		m.observers[i] = m.stages.WithLabelValues(name)
	}
	if reg != nil {
		reg.MustRegister(m.exchanges, m.stages, m.reloads, m.revision, m.shadow, m.shadowDrops, m.jwks, m.fetches, m.fetchedAt)
	}
	return m
}

func (m *Metrics) exchanged(r *record) {
	m.exchanges.WithLabelValues(r.result, r.provider).Inc()
}

func (m *Metrics) stage(s stage, d time.Duration) {
	m.observers[s].Observe(d.Seconds())
}

func (m *Metrics) policyLoaded(p *policy.Policy) {
	m.reloads.WithLabelValues("success").Inc()
	m.revisions(p, "live")
}

// revisions makes p's bundle revisions the ones of role (live, shadow).
func (m *Metrics) revisions(p *policy.Policy, role string) {
	m.revision.DeletePartialMatch(prometheus.Labels{"policy": role})
	for _, r := range p.Revisions() {
		m.revision.WithLabelValues(r.Path, r.Revision, role).Set(1)
	}
}

func (m *Metrics) shadowLoaded(p *policy.Policy) {
	m.reloads.WithLabelValues("shadow_success").Inc()
	m.revisions(p, "shadow")
}

func (m *Metrics) shadowFailed() {
	m.reloads.WithLabelValues("shadow_failure").Inc()
}

func (m *Metrics) shadowDecided(outcome string) {
	m.shadow.WithLabelValues(outcome).Inc()
}

func (m *Metrics) policyFailed() {
	m.reloads.WithLabelValues("failure").Inc()
}

// KeysFetched counts one JWKS or discovery fetch.
func (m *Metrics) KeysFetched(provider, outcome string) {
	m.jwks.WithLabelValues(provider, outcome).Inc()
}

// BundleFetched counts one fetch of a remote bundle; it makes Metrics a
// policy.FetchObserver.
func (m *Metrics) BundleFetched(bundle, outcome string) {
	m.fetches.WithLabelValues(bundle, outcome).Inc()
	if outcome != policy.FetchFailed {
		m.fetchedAt.WithLabelValues(bundle).SetToCurrentTime()
	}
}
