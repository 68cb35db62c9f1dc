package policy

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// AccessJustInTime is the value of an identity's `access` that makes it
// just-in-time (DESIGN §13): granted only through an approved request.
const AccessJustInTime = "just-in-time"

// Bindings say which later tokens a grant covers (jit.bind).
const (
	BindSubject  = "subject"  // the same provider and sub
	BindProject  = "project"  // the same project (GitLab project_path, GitHub repository)
	BindRef      = "ref"      // the same project and ref
	BindPipeline = "pipeline" // the same project and pipeline (GitLab pipeline_id, GitHub run_id)
)

// DefaultPendingTTL is how long a request waits for approval when the
// identity's jit block does not say.
const DefaultPendingTTL = 24 * time.Hour

var (
	bindings = []string{BindSubject, BindProject, BindRef, BindPipeline}
	jitKeys  = []string{"max_duration", "default_duration", "max_lead_time", "bind", "pending_ttl", "approvers"}
)

// JIT is what the engine holds of a just-in-time identity's jit block.
// DefaultDuration and MaxLeadTime are as written, 0 when left out: their
// defaults (the lesser of 1h and max_duration; 7 days) are the policy's to
// apply (access.rego), defined there once.
type JIT struct {
	MaxDuration     time.Duration
	DefaultDuration time.Duration
	MaxLeadTime     time.Duration
	Bind            string
	PendingTTL      time.Duration
}

// jit validates an identity's access mode and jit block; nil for a
// standing identity.
func (v *validator) jit(file, key string, obj map[string]any, providers map[string]any) *JIT {
	access, hasAccess := obj["access"]
	block, hasBlock := obj["jit"]
	if !hasAccess {
		if hasBlock {
			v.add(file, key+".jit", "applies only to an identity with access: %s", AccessJustInTime)
		}
		return nil
	}
	if access != AccessJustInTime {
		v.add(file, key+".access", "want %q (or no access key for standing access), not %s", AccessJustInTime, jsonText(access))
		return nil
	}
	m, ok := block.(map[string]any)
	if !ok {
		v.add(file, key+".jit", "a just-in-time identity needs a jit mapping (%s), not %s", strings.Join(jitKeys, ", "), describe(block))
		return nil
	}
	return v.jitBlock(file, key+".jit", m, providers)
}

func (v *validator) jitBlock(file, key string, m map[string]any, providers map[string]any) *JIT {
	v.unknownKeys(file, key, m, jitKeys)
	j := &JIT{PendingTTL: DefaultPendingTTL}
	j.MaxDuration = v.jitDuration(file, key, m, "max_duration", true)
	j.DefaultDuration = v.jitDuration(file, key, m, "default_duration", false)
	j.MaxLeadTime = v.jitDuration(file, key, m, "max_lead_time", false)
	if d := v.jitDuration(file, key, m, "pending_ttl", false); d > 0 {
		j.PendingTTL = d
	}
	if j.DefaultDuration > j.MaxDuration && j.MaxDuration > 0 {
		v.add(file, key+".default_duration", "%s is longer than max_duration %s", j.DefaultDuration, j.MaxDuration)
	}
	j.Bind = v.str(file, key, m, "bind", true)
	if j.Bind != "" && !slices.Contains(bindings, j.Bind) {
		v.add(file, key+".bind", "unknown binding %q (known: %s)", j.Bind, strings.Join(bindings, ", "))
	}
	v.approvers(file, key, m["approvers"], providers)
	return j
}

// jitDuration reads a positive whole-second duration; 0 when absent or bad.
func (v *validator) jitDuration(file, key string, m map[string]any, name string, required bool) time.Duration {
	d, ok := v.duration(file, key, m, name)
	switch {
	case !ok && required && m[name] == nil:
		v.add(file, key+"."+name, "is required")
	case ok && d%time.Second != 0:
		v.add(file, key+"."+name, "want whole seconds, not %s", d)
		return 0
	}
	return d
}

// approvers validates the approver matchers: federations of the
// reviewers' providers. None is allowed only when the default risk level
// approves by itself (checked with the risk levels, in autoApproves).
func (v *validator) approvers(file, key string, raw any, providers map[string]any) {
	if raw == nil {
		if !v.autoApproves() {
			v.add(file, key+".approvers", "a just-in-time identity with no approvers can never be approved: add approvers, or give risk level %q approvals: 0 in trustgate.risk_levels", v.library.base)
		}
		return
	}
	list, ok := raw.([]any)
	if !ok {
		v.add(file, key+".approvers", "want a list of approver matchers (provider, subject, claims), not %s", describe(raw))
		return
	}
	if len(list) == 0 && !v.autoApproves() {
		v.add(file, key+".approvers", "an empty list approves nobody: add approvers, or give risk level %q approvals: 0 in trustgate.risk_levels", v.library.base)
	}
	for i, a := range list {
		v.federation(file, fedKey{identity: key, list: "approvers", index: i}, a, providers)
	}
}

// autoApproves reports whether the library's default risk level needs no
// approval under the bundle's risk levels.
func (v *validator) autoApproves() bool {
	return v.library.base != "" && v.riskLevels[v.library.base] == 0
}

// readRiskLevels validates data.trustgate.risk_levels: names with a whole,
// non-negative number of approvals. Absent: the library's levels.
func (v *validator) readRiskLevels(raw any, present bool) map[string]int {
	const key = "trustgate.risk_levels"
	if !present {
		return v.library.levels
	}
	file := v.m.owner(key)
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, key, "want a mapping of risk level to {approvals: N}, not %s", describe(raw))
		return map[string]int{}
	}
	levels := make(map[string]int, len(obj))
	for _, name := range sortedKeys(obj) {
		if n, ok := v.riskLevel(file, key+"."+name, obj[name]); ok {
			levels[name] = n
		}
	}
	if _, ok := obj[v.library.base]; !ok {
		v.add(file, key, "has no level %q, the risk every request starts at: every request would be refused", v.library.base)
	}
	return levels
}

func (v *validator) riskLevel(file, key string, raw any) (int, bool) {
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, key, "want a mapping {approvals: N}, not %s", describe(raw))
		return 0, false
	}
	v.unknownKeys(file, key, obj, []string{"approvals"})
	num, ok := obj["approvals"].(json.Number)
	n, err := num.Int64()
	if !ok || err != nil || n < 0 || n > 100 {
		v.add(file, key+".approvals", "want a whole number of approvals from 0 to 100, not %s", jsonText(obj["approvals"]))
		return 0, false
	}
	return int(n), true
}
