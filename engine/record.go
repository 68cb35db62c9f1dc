package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// record is one exchange as the decision log keeps it. It holds no token:
// the subject token appears only as its SHA-256.
type record struct {
	id         string
	start      time.Time
	latency    time.Duration
	tokenHash  string
	clientIP   string
	requested  string
	reqScopes  []string
	reqAud     []string
	provider   string
	srcIss     string
	srcSub     string
	srcJTI     string
	revisions  []policy.Revision
	decision   *policy.Decision
	eval       *Evaluation // what the policy was asked; nil before evaluation
	input      []byte      // eval as JSON, masked: encoded once per record
	erased     []string    // the mask's rules that removed a field of input
	reasons    []string
	errReasons bool // the error's text holds reasons already (failed, an access denial)
	result     string
	retryAfter time.Duration
}

// decisionPath names trustgate's decisions in OPA-format events.
const decisionPath = "trustgate/decision"

// Results of an exchange, as the decision log and metrics name them.
const (
	resultIssued       = "issued"
	resultDenied       = "denied"
	resultInvalidToken = "invalid_token"
	resultRateLimited  = "rate_limited"
	resultOverloaded   = "overloaded"
	resultCancelled    = "cancelled" // the caller went away first
	resultError        = "error"
)

func newRecord(now time.Time, req Request) *record {
	return &record{
		id:        newDecisionID(),
		start:     now,
		tokenHash: tokenSHA256(req.SubjectToken),
		clientIP:  req.ClientIP,
		requested: req.Identity,
		reqScopes: req.Scopes,
		reqAud:    req.Audiences,
	}
}

// tokenSHA256 is how a token appears in a log: its SHA-256, hex-encoded,
// never the token.
func tokenSHA256(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// newDecisionID returns 128 random bits as a UUID-shaped string.
func newDecisionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

func (r *record) verified(v *verify.Verified) {
	r.provider, r.srcIss, r.srcSub, r.srcJTI = v.Provider.Name, v.Issuer, v.Subject, v.JTI
}

func (r *record) decided(d policy.Decision) {
	r.decision = &d
	r.reasons, r.errReasons = d.Reasons, false
}

// failed records err's text as the reason of a refusal the policy did not
// give.
func (r *record) failed(err error) {
	r.reasons, r.errReasons = []string{err.Error()}, true
}

// refusal is the *Error of a refusal recorded in r.
func (r *record) refusal(err error) *Error {
	return &Error{DecisionID: r.id, Reasons: r.reasons, RetryAfter: r.retryAfter, Err: err, errReasons: r.errReasons}
}

func (r *record) finish(now time.Time, tok *Token, err error) {
	r.latency = now.Sub(r.start)
	switch {
	case err == nil:
		r.result = resultIssued
	case errors.Is(err, ErrInvalidToken):
		r.result = resultInvalidToken
	case errors.Is(err, ErrDenied), errors.Is(err, ErrInvalidScope), errors.Is(err, ErrInvalidTarget):
		r.result = resultDenied
	case errors.Is(err, ErrRateLimited):
		r.result = resultRateLimited
	case errors.Is(err, context.Canceled):
		r.result = resultCancelled
	case errors.Is(err, ErrOverloaded):
		r.result = resultOverloaded
	default:
		r.result = resultError
	}
}

func (e *Engine) writeRecord(r *record) {
	r.encodeInput(e.cfg.DecisionMask, e.log)
	if ce := e.decLog.Check(zapcore.InfoLevel, "decision"); ce != nil {
		ce.Write(zap.Inline(r))
	}
	if e.cfg.DecisionSink != nil {
		e.cfg.DecisionSink.Record(r.event())
	}
	e.keepHistory(r)
}

// encodeInput encodes the evaluation's input once, masked, for every place
// the record goes. A mask that fails withholds the whole input (named
// "/input" in erased): it is never written unmasked.
func (r *record) encodeInput(mask *decisionlog.Mask, log *zap.Logger) {
	if r.eval == nil {
		return
	}
	in, erased, err := mask.Apply(r.eval.AppendJSON(make([]byte, 0, 1024)))
	if err != nil {
		log.Error("decision record: masking the input failed; input withheld", zap.String("decision_id", r.id), zap.Error(err))
		in, erased = nil, []string{"/input"}
	}
	r.input, r.erased = in, erased
}

// MarshalLogObject writes the record's fields straight into the decision
// log's encoder: no field slice, no boxing, per exchange.
func (r *record) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("decision_id", r.id)
	enc.AddString("timestamp", timestamp(r.start))
	enc.AddString("result", r.result)
	enc.AddBool("allow", r.result == resultIssued)
	enc.AddString("provider", r.provider)
	enc.AddString("source_iss", r.srcIss)
	enc.AddString("source_sub", r.srcSub)
	enc.AddString("source_jti", r.srcJTI)
	enc.AddString("source_token_sha256", r.tokenHash)
	enc.AddString("client_ip", r.clientIP)
	enc.AddString("requested_identity", r.requested)
	err := errors.Join(
		enc.AddArray("requested_scopes", stringArray(r.reqScopes)),
		enc.AddArray("requested_audiences", stringArray(r.reqAud)),
		enc.AddArray("reasons", stringArray(r.reasons)),
		enc.AddArray("bundles", revisions(r.revisions)),
	)
	enc.AddDuration("latency", r.latency)
	if d := r.decision; d != nil {
		enc.AddString("identity", d.Identity)
		enc.AddString("subject", d.Subject)
		err = errors.Join(err,
			enc.AddArray("roles", stringArray(d.Roles)),
			enc.AddArray("scopes", stringArray(d.Scopes)),
			enc.AddArray("audiences", stringArray(d.Audiences)),
			enc.AddObject("decision", decisionObject{d}),
		)
	}
	return errors.Join(err, addInput(enc, r.input, r.erased))
}

// addInput writes a record's input, as encoded, and the mask rules that
// erased part of it.
func addInput(enc zapcore.ObjectEncoder, input []byte, erased []string) error {
	var err error
	if input != nil {
		err = enc.AddReflected("input", json.RawMessage(input))
	}
	if erased != nil {
		err = errors.Join(err, enc.AddArray("erased", stringArray(erased)))
	}
	return err
}

// decisionObject logs a policy decision as data.trustgate.decision gave
// it, which `trustgate replay` compares with, without reflection.
type decisionObject struct{ d *policy.Decision }

func (o decisionObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	d := o.d
	enc.AddBool("allow", d.Allow)
	enc.AddString("identity", d.Identity)
	enc.AddString("subject", d.Subject)
	enc.AddInt64("ttl_seconds", d.TTLSeconds)
	if d.Grant != "" {
		enc.AddString("grant", d.Grant)
	}
	if d.Error != "" {
		enc.AddString("error", d.Error)
	}
	return errors.Join(
		enc.AddArray("roles", stringArray(d.Roles)),
		enc.AddArray("scopes", stringArray(d.Scopes)),
		enc.AddArray("audiences", stringArray(d.Audiences)),
		enc.AddArray("reasons", stringArray(d.Reasons)),
	)
}

// timestamp is t as decision records write it: RFC 3339 in UTC with
// nanoseconds, as OPA's decision logs do (never a float epoch).
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// stringArray logs a list of strings, [] when there are none.
type stringArray []string

func (ss stringArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, s := range ss {
		enc.AppendString(s)
	}
	return nil
}

// revisions logs bundle revisions as [{"path", "revision"}], without
// reflection.
type revisions []policy.Revision

func (rs revisions) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, r := range rs {
		if err := enc.AppendObject(zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
			o.AddString("path", r.Path)
			o.AddString("revision", r.Revision)
			return nil
		})); err != nil {
			return err
		}
	}
	return nil
}

// event is the record in OPA's decision-log format. Its input holds what was
// asked and who asked, never the token.
func (r *record) event() decisionlog.Event {
	ev := decisionlog.Event{
		Labels:     map[string]string{"app": "trustgate"},
		DecisionID: r.id,
		Path:       decisionPath,
		Timestamp:  r.start.UTC(),
		Metrics:    map[string]int64{"timer_exchange_ns": r.latency.Nanoseconds()},
		Erased:     r.erased,
	}
	if r.input != nil {
		ev.Input = json.RawMessage(r.input)
	} else {
		// Not evaluated (an invalid token, a refusal before the policy):
		// who asked and what, the token as its SHA-256 only.
		ev.Input = map[string]any{
			"provider": r.provider,
			"source":   map[string]string{"iss": r.srcIss, "sub": r.srcSub, "jti": r.srcJTI, "token_sha256": r.tokenHash},
			"request":  map[string]any{"identity": r.requested, "scopes": r.reqScopes, "audiences": r.reqAud, "client_ip": r.clientIP},
		}
	}
	result := map[string]any{"result": r.result, "reasons": r.reasons}
	if d := r.decision; d != nil {
		result["decision"] = d
	}
	ev.Result = result
	if len(r.revisions) > 0 {
		ev.Bundles = make(map[string]decisionlog.BundleInfo, len(r.revisions))
		for _, b := range r.revisions {
			ev.Bundles[b.Path] = decisionlog.BundleInfo{Revision: b.Revision}
		}
	}
	return ev
}
