package engine

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/policy"
)

// DefaultShadowQueue is how many exchanges wait at most for the shadow
// policy (Config.ShadowQueue); more are dropped and counted.
const DefaultShadowQueue = 1024

// Outcomes of a shadow evaluation, as its metric and records name them.
const (
	ShadowSame         = "same"
	ShadowNewlyAllowed = "newly_allowed"
	ShadowNewlyDenied  = "newly_denied"
	ShadowChanged      = "changed"
	ShadowError        = "error"
)

// shadow evaluates a candidate policy beside the live one, off the request
// path: an exchange hands it a job without waiting, and one goroutine
// (RunShadow) evaluates, compares and records. Nothing it does reaches a
// caller.
type shadow struct {
	policy  atomic.Pointer[policy.Policy]
	jobs    chan shadowJob
	rate    float64
	metrics *Metrics

	mu     sync.Mutex
	status reloadStatus
}

// shadowJob is one exchange as the shadow policy sees it: what the live
// policy was asked and answered (nil: its evaluation failed).
type shadowJob struct {
	id     string
	at     time.Time
	eval   *Evaluation
	input  []byte
	erased []string
	live   *policy.Decision
}

func newShadow(rate float64, queue int, m *Metrics) *shadow {
	return &shadow{jobs: make(chan shadowJob, queue), rate: rate, metrics: m}
}

// offer queues r for the shadow policy when one is loaded and r is in the
// sample; a full queue drops it.
func (s *shadow) offer(r *record) {
	if r.eval == nil || s.policy.Load() == nil || (s.rate < 1 && rand.Float64() >= s.rate) {
		return
	}
	select {
	case s.jobs <- shadowJob{id: r.id, at: r.start, eval: r.eval, input: r.input, erased: r.erased, live: r.decision}:
	default:
		s.metrics.shadowDrops.Inc()
	}
}

// SetShadowPolicy makes p the shadow policy: exchanges from now on are
// also evaluated against it (DESIGN §14).
func (e *Engine) SetShadowPolicy(p *policy.Policy) {
	e.shadow.policy.Store(p)
	e.shadow.mu.Lock()
	e.shadow.status = reloadStatus{}
	e.shadow.mu.Unlock()
	e.metrics.shadowLoaded(p)
}

// ShadowFailed records a shadow load that was refused; the last good
// shadow policy, if any, stays. Callers never see it.
func (e *Engine) ShadowFailed(err error) {
	e.shadow.mu.Lock()
	e.shadow.status = reloadStatus{lastError: err.Error(), lastErrorAt: e.now()}
	e.shadow.mu.Unlock()
	e.metrics.shadowFailed()
}

// RunShadow evaluates queued exchanges against the shadow policy until ctx
// ends. Run it in one goroutine when shadow bundles are configured.
func (e *Engine) RunShadow(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-e.shadow.jobs:
			e.evaluateShadow(ctx, j)
		}
	}
}

func (e *Engine) evaluateShadow(ctx context.Context, j shadowJob) {
	pol := e.shadow.policy.Load()
	d, err := Evaluate(ctx, pol, j.eval)
	outcome := shadowOutcome(j.live, d, err)
	e.metrics.shadowDecided(outcome)
	r := shadowRecord{job: j, revisions: pol.Revisions(), outcome: outcome}
	if err == nil {
		r.shadow = &d
	} else {
		r.err = err.Error()
	}
	if ce := e.decLog.Check(zapcore.InfoLevel, "decision"); ce != nil {
		ce.Write(zap.Inline(r))
	}
	if e.cfg.DecisionSink != nil {
		e.cfg.DecisionSink.Record(r.event())
	}
}

// shadowOutcome compares the shadow's decision with the live one; a live
// evaluation that failed counts as a deny.
func shadowOutcome(live *policy.Decision, d policy.Decision, err error) string {
	liveAllows := live != nil && live.Allow
	switch {
	case err != nil:
		return ShadowError
	case !liveAllows && d.Allow:
		return ShadowNewlyAllowed
	case liveAllows && !d.Allow:
		return ShadowNewlyDenied
	case liveAllows:
		if fields, _ := policy.GrantChanges(*live, d); len(fields) > 0 {
			return ShadowChanged
		}
	}
	return ShadowSame
}

// shadowRecord is a shadow evaluation as the decision log keeps it: the
// exchange's decision id and input, both decisions, the outcome.
type shadowRecord struct {
	job       shadowJob
	revisions []policy.Revision
	outcome   string
	shadow    *policy.Decision
	err       string
}

func (r shadowRecord) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("decision_id", r.job.id)
	enc.AddString("timestamp", timestamp(r.job.at))
	enc.AddBool("shadow", true)
	enc.AddString("outcome", r.outcome)
	err := enc.AddArray("bundles", revisions(r.revisions))
	if r.job.live != nil {
		err = errors.Join(err, enc.AddObject("decision", decisionObject{r.job.live}))
	}
	if r.shadow != nil {
		err = errors.Join(err, enc.AddObject("shadow_decision", decisionObject{r.shadow}))
	}
	if r.err != "" {
		enc.AddString("shadow_error", r.err)
	}
	return errors.Join(err, addInput(enc, r.job.input, r.job.erased))
}

func (r shadowRecord) event() decisionlog.Event {
	result := map[string]any{"outcome": r.outcome, "decision": r.job.live, "shadow_decision": r.shadow}
	if r.err != "" {
		result["shadow_error"] = r.err
	}
	ev := decisionlog.Event{
		Labels:     map[string]string{"app": "trustgate", "shadow": "true"},
		DecisionID: r.job.id,
		Path:       decisionPath,
		Timestamp:  r.job.at.UTC(),
		Result:     result,
		Erased:     r.job.erased,
		Shadow:     true,
	}
	if r.job.input != nil {
		ev.Input = json.RawMessage(r.job.input)
	}
	return ev
}
