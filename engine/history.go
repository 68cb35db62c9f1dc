package engine

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"slices"
	"strconv"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
)

// DecisionHistory keeps decisions for `trustgate replay` (a
// state.HistoryWriter); Keep must not block.
type DecisionHistory interface {
	Keep(state.HistoryEntry)
}

// perJobClaims differ from one job or run of a pipeline to the next but
// name no different workload: decisions that differ only in them are one
// row of the history (the latest kept as its example).
var perJobClaims = map[string]bool{
	"jti": true, "iat": true, "nbf": true, "exp": true, "auth_time": true,
	"job_id": true, "pipeline_id": true, "run_id": true, "run_number": true, "run_attempt": true,
	"sha": true, "ci_config_sha": true, "workflow_sha": true, "job_workflow_sha": true,
}

// keepHistory hands an evaluated decision to the history.
func (e *Engine) keepHistory(r *record) {
	if e.cfg.History == nil || r.eval == nil || r.decision == nil || r.input == nil {
		return
	}
	e.cfg.History.Keep(state.HistoryEntry{Key: historyKey(r.eval, r.decision), Record: r.historyRecord(), At: r.start, Count: 1})
}

// historyRecord is the record as the history keeps it: what replay reads
// (decision_id, timestamp, decision, input, erased), hand-encoded.
func (r *record) historyRecord() []byte {
	b := make([]byte, 0, len(r.input)+512)
	b = append(b, `{"decision_id":`...)
	b = appendString(b, r.id)
	b = append(b, `,"timestamp":`...)
	b = appendString(b, timestamp(r.start))
	b = append(b, `,"decision":`...)
	b = appendDecision(b, r.decision)
	b = append(b, `,"input":`...)
	b = append(b, r.input...)
	if r.erased != nil {
		b = append(b, `,"erased":`...)
		b = appendStrings(b, r.erased)
	}
	return append(b, '}')
}

func appendDecision(b []byte, d *policy.Decision) []byte {
	b = append(b, `{"allow":`...)
	b = strconv.AppendBool(b, d.Allow)
	b = append(b, `,"identity":`...)
	b = appendString(b, d.Identity)
	b = append(b, `,"subject":`...)
	b = appendString(b, d.Subject)
	b = append(b, `,"roles":`...)
	b = appendStrings(b, d.Roles)
	b = append(b, `,"scopes":`...)
	b = appendStrings(b, d.Scopes)
	b = append(b, `,"audiences":`...)
	b = appendStrings(b, d.Audiences)
	b = append(b, `,"ttl_seconds":`...)
	b = strconv.AppendInt(b, d.TTLSeconds, 10)
	b = append(b, `,"reasons":`...)
	b = appendStrings(b, d.Reasons)
	if d.Grant != "" {
		b = append(b, `,"grant":`...)
		b = appendString(b, d.Grant)
	}
	if d.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, d.Error)
	}
	return append(b, '}')
}

// historyKey hashes what a decision depends on and what it was: the
// provider, the claims but the per-job ones, the request (not the client
// address, which changes with the runner), the grants and the decision.
func historyKey(ev *Evaluation, d *policy.Decision) [sha256.Size]byte {
	h := sha256.New()
	field(h, ev.Provider.Name)
	names := make([]string, 0, len(ev.Claims))
	for name := range ev.Claims {
		if !perJobClaims[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		field(h, name)
		field(h, claimText(ev.Claims[name]))
	}
	field(h, "\x00request", ev.Request.Identity)
	field(h, ev.Request.Scopes...)
	field(h, ev.Request.Audiences...)
	for _, g := range ev.Grants {
		field(h, "\x00grant", g.ID, strconv.FormatBool(g.Binds))
	}
	field(h, "\x00decision", strconv.FormatBool(d.Allow), d.Identity, d.Error, strconv.FormatInt(d.TTLSeconds, 10))
	field(h, d.Roles...)
	field(h, d.Scopes...)
	field(h, d.Audiences...)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// field writes each string length-prefixed, so no two lists hash alike,
// and the list's length.
func field(h hash.Hash, ss ...string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(ss)))
	_, _ = h.Write(n[:])
	for _, s := range ss {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		_, _ = h.Write(n[:])
		_, _ = h.Write([]byte(s))
	}
}

// claimText is a claim's value as text: strings and numbers as they are,
// anything else as JSON.
func claimText(v any) string {
	switch v := v.(type) {
	case string:
		return "s" + v
	case json.Number:
		return "n" + v.String()
	case bool:
		return "b" + strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return "j" + string(b)
}
