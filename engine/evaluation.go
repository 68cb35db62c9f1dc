package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// Evaluation is what one policy evaluation is asked: the provider that
// verified the token, its claims, the request as the caller made it, the
// time and a just-in-time identity's grants. Exchanges, shadow bundles and
// `trustgate replay` build the OPA input from it in one way (Value), so a
// recorded decision replays exactly as it was evaluated.
type Evaluation struct {
	Provider *verify.Provider
	// Claims are the verified claims (verify.ParseClaims); Payload, when
	// set, is the JSON they were parsed from, which a record reuses.
	Claims  map[string]any
	Payload []byte
	Request Request
	// Now is the evaluation's clock, to the second (as input.now).
	Now    time.Time
	Grants []access.Grant
}

// Value is the OPA input of ev under pol (DESIGN §4, with input.grants).
func (ev *Evaluation) Value(pol *policy.Policy) ast.Value {
	return WithGrants(Input(pol, ev.Provider, ev.Claims, ev.Request, ev.Now), ev.Grants)
}

// Evaluate evaluates pol for ev: the one evaluation path of exchanges,
// shadow bundles and replay.
func Evaluate(ctx context.Context, pol *policy.Policy, ev *Evaluation) (policy.Decision, error) {
	return pol.Evaluate(ctx, ev.Value(pol))
}

// Outcome is Evaluate without a denial's reasons (policy.Policy.Outcome),
// from the same input.
func Outcome(ctx context.Context, pol *policy.Policy, ev *Evaluation) (policy.Decision, error) {
	return pol.Outcome(ctx, ev.Value(pol))
}

// AppendJSON appends ev as a decision record's input: the provider, the
// verified claims (the payload's own bytes, compacted), the request (its
// identity as the caller named it), now and the grants. It holds nothing of
// the token but its claims: no header, no signature. Hand-written, so a
// record costs no reflection.
func (ev *Evaluation) AppendJSON(b []byte) []byte {
	b = append(b, `{"provider":{"name":`...)
	b = appendString(b, ev.Provider.Name)
	b = append(b, `,"issuer":`...)
	b = appendString(b, ev.Provider.Issuer)
	b = append(b, `,"platform":`...)
	b = appendString(b, ev.Provider.Platform)
	b = append(b, `},"token":`...)
	b = appendClaims(b, ev.Payload, ev.Claims)
	b = append(b, `,"request":{"identity":`...)
	b = appendString(b, ev.Request.Identity)
	b = append(b, `,"scopes":`...)
	b = appendStrings(b, ev.Request.Scopes)
	b = append(b, `,"audiences":`...)
	b = appendStrings(b, ev.Request.Audiences)
	b = append(b, `,"client_ip":`...)
	b = appendString(b, ev.Request.ClientIP)
	b = append(b, `},"now":`...)
	b = appendString(b, ev.Now.UTC().Format(time.RFC3339))
	if ev.Grants != nil {
		b = append(b, `,"grants":`...)
		b = appendGrants(b, ev.Grants)
	}
	return append(b, '}')
}

// appendClaims appends the verified payload, compacted onto one line; the
// claims are encoded only when there is no payload (or it is not JSON,
// which verification makes impossible).
func appendClaims(b []byte, payload []byte, claims map[string]any) []byte {
	if len(payload) > 0 {
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, payload); err == nil {
			return buf.Bytes()
		}
	}
	out, err := json.Marshal(claims)
	if err != nil {
		return append(b, "{}"...)
	}
	return append(b, out...)
}

func appendGrants(b []byte, gs []access.Grant) []byte {
	b = append(b, '[')
	for i, g := range gs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, g.ID)
		b = append(b, `,"identity":`...)
		b = appendString(b, g.Identity)
		b = append(b, `,"starts_at":`...)
		b = appendString(b, rfc3339(g.StartsAt))
		b = append(b, `,"ends_at":`...)
		b = appendString(b, g.EndsAt.UTC().Format(time.RFC3339))
		b = append(b, `,"scopes":`...)
		b = appendStrings(b, g.Scopes)
		b = append(b, `,"audiences":`...)
		b = appendStrings(b, g.Audiences)
		b = append(b, `,"binds":`...)
		b = strconv.AppendBool(b, g.Binds)
		b = append(b, `,"binding":{"kind":`...)
		b = appendString(b, g.Binding.Kind)
		for _, f := range [...][2]string{{"provider", g.Binding.Provider}, {"issuer", g.Binding.Issuer}, {"sub", g.Binding.Subject},
			{"project", g.Binding.Project}, {"ref", g.Binding.Ref}, {"pipeline", g.Binding.Pipeline}} {
			b = append(b, ',', '"')
			b = append(b, f[0]...)
			b = append(b, '"', ':')
			b = appendString(b, f[1])
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string. Invalid UTF-8 (a request
// field) is left to encoding/json, which replaces it.
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		out, _ := json.Marshal(s)
		return append(b, out...)
	}
	return policy.AppendJSONString(b, s)
}
