package policydiff

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

// identity compares one identity present in base and head.
func (c *comparison) identity(name string, b, h policy.Identity) []Change {
	var out []Change
	out = append(out, email(b.Email, h.Email)...)
	if b.Description != h.Description {
		out = append(out, Change{What: "description", Kind: Changed, Before: b.Description, After: h.Description, Why: "words only"})
	}
	out = append(out, grantList("roles", b.Roles, h.Roles)...)
	out = append(out, grantList("scopes", b.Scopes, h.Scopes)...)
	out = append(out, grantList("audiences", b.Audiences, h.Audiences)...)
	if len(b.Audiences) > 0 && len(h.Audiences) > 0 && b.Audiences[0] != h.Audiences[0] {
		out = append(out, Change{What: "default audience", Kind: Changed, Before: b.Audiences[0], After: h.Audiences[0], Effect: Widens,
			Why: "a token that asks for no audience is now issued for another", Example: "aud=" + h.Audiences[0] + " without asking for it"})
	}
	out = append(out, ttl(b.TTL, h.TTL)...)
	out = append(out, expiry(b.ExpiresAt, h.ExpiresAt)...)
	out = append(out, access(b.JIT, h.JIT)...)
	if b.JIT != nil && h.JIT != nil {
		out = append(out, jitBlock(*b.JIT, *h.JIT)...)
		out = append(out, c.matchers("approver", b.Approvers, h.Approvers).changes()...)
	}
	out = append(out, c.matchers("federation", b.Federations, h.Federations).changes()...)
	return out
}

func (c *comparison) matchers(kind string, base, head []policy.Federation) matchers {
	return matchers{kind: kind, base: base, head: head, samePlatform: c.samePlatform}
}

func email(b, h string) []Change {
	switch {
	case b == h:
		return nil
	case h == "":
		return []Change{{What: "email", Kind: Removed, Before: b, Effect: Narrows, Why: "callers can no longer name the identity by it"}}
	}
	return []Change{{What: "email", Kind: changeKind(b), Before: b, After: h, Effect: Widens | narrowsIf(b != ""),
		Why: "a caller naming " + h + " now gets this identity, and issued tokens carry it as sub", Example: "identity=" + h}}
}

func changeKind(before string) string {
	if before == "" {
		return Added
	}
	return Changed
}

func narrowsIf(b bool) Effect {
	if b {
		return Narrows
	}
	return None
}

// grantList compares roles, scopes or audiences: more grants more.
func grantList(what string, b, h []string) []Change {
	return listChange(what, b, h, func(more []string) string {
		return fmt.Sprintf("%s %s granted", what, strings.Join(more, ", "))
	})
}

// listChange compares a list whose added entries widen and whose removed
// ones narrow; example tells what the added entries let through.
func listChange(what string, b, h []string, example func(more []string) string) []Change {
	more, fewer := minus(h, b), minus(b, h)
	if len(more) == 0 && len(fewer) == 0 {
		return nil
	}
	c := Change{What: what, Kind: Changed, Before: list(b), After: list(h)}
	if len(more) > 0 {
		c.Effect |= Widens
		c.Example = example(more)
	}
	if len(fewer) > 0 {
		c.Effect |= Narrows
	}
	return []Change{c}
}

func minus(xs, ys []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(ys, x) {
			out = append(out, x)
		}
	}
	return out
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return "[" + strings.Join(xs, ", ") + "]"
}

// ttl compares issued tokens' lifetimes; none given is the server's
// default, which the bundles do not say.
func ttl(b, h time.Duration) []Change {
	if b == h {
		return nil
	}
	c := Change{What: "ttl", Kind: Changed, Before: durationText(b), After: durationText(h)}
	switch {
	case b == 0 || h == 0:
		c.Effect = Both
		c.Why = "the server's default ttl is not in the bundles: counted as either"
	case h > b:
		c.Effect = Widens
		c.Example = "tokens that live " + h.String()
	default:
		c.Effect = Narrows
	}
	return []Change{c}
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "(server default)"
	}
	return d.String()
}

func expiry(b, h time.Time) []Change {
	if b.Equal(h) {
		return nil
	}
	c := Change{What: "expires_at", Kind: Changed, Before: timeText(b), After: timeText(h)}
	switch {
	case h.IsZero():
		c.Kind, c.Effect = Removed, Widens
		c.Example = "tokens after " + timeText(b)
	case b.IsZero():
		c.Kind, c.Effect = Added, Narrows
	case h.After(b):
		c.Effect = Widens
		c.Example = "tokens between " + timeText(b) + " and " + timeText(h)
	default:
		c.Effect = Narrows
	}
	return []Change{c}
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "(never)"
	}
	return t.UTC().Format(time.RFC3339)
}

func access(b, h *policy.JIT) []Change {
	switch {
	case b == nil && h != nil:
		return []Change{{What: "access", Kind: Changed, Before: "standing", After: policy.AccessJustInTime, Effect: Narrows,
			Why: "tokens are granted only through an approved request"}}
	case b != nil && h == nil:
		return []Change{{What: "access", Kind: Changed, Before: policy.AccessJustInTime, After: "standing", Effect: Widens,
			Why: "tokens are granted without an approved request", Example: "any matching token, without approval"}}
	}
	return nil
}

// bindBreadth orders bindings from the narrowest; subject is apart.
var bindBreadth = map[string]int{policy.BindPipeline: 1, policy.BindRef: 2, policy.BindProject: 3}

func jitBlock(b, h policy.JIT) []Change {
	var out []Change
	longer := func(what string, bd, hd time.Duration) {
		switch {
		case hd > bd:
			out = append(out, Change{What: "jit." + what, Kind: Changed, Before: bd.String(), After: hd.String(), Effect: Widens,
				Example: what + " " + hd.String()})
		case hd < bd:
			out = append(out, Change{What: "jit." + what, Kind: Changed, Before: bd.String(), After: hd.String(), Effect: Narrows})
		}
	}
	longer("max_duration", b.MaxDuration, h.MaxDuration)
	longer("default_duration", b.DefaultDuration, h.DefaultDuration)
	longer("max_lead_time", b.MaxLeadTime, h.MaxLeadTime)
	longer("pending_ttl", b.PendingTTL, h.PendingTTL)
	if b.Bind != h.Bind {
		c := Change{What: "jit.bind", Kind: Changed, Before: b.Bind, After: h.Bind}
		bb, hb := bindBreadth[b.Bind], bindBreadth[h.Bind]
		switch {
		case bb == 0 || hb == 0:
			c.Effect, c.Why = Both, "subject and project bindings cover different tokens"
		case hb > bb:
			c.Effect, c.Example = Widens, "one grant covers every token of the "+h.Bind
		default:
			c.Effect = Narrows
		}
		out = append(out, c)
	}
	return out
}

// riskLevels compares the approvals each level needs: fewer approvals, or
// a level gone (a request rated at it is then rated lower), widen.
func riskLevels(b, h map[string]int) []Change {
	var out []Change
	names := slices.Sorted(maps.Keys(b))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if _, ok := b[name]; !ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		bn, inB := b[name]
		hn, inH := h[name]
		what := "risk level " + name
		switch {
		case inB && !inH:
			out = append(out, Change{What: what, Kind: Removed, Before: approvals(bn), Effect: Widens,
				Why: "a request rated " + name + " is rated by the levels left", Example: "requests rated " + name + " approved with fewer approvals"})
		case !inB && inH:
			out = append(out, Change{What: what, Kind: Added, After: approvals(hn), Effect: Narrows})
		case hn < bn:
			out = append(out, Change{What: what, Kind: Changed, Before: approvals(bn), After: approvals(hn), Effect: Widens,
				Example: "requests rated " + name + " approved by " + approvals(hn)})
		case hn > bn:
			out = append(out, Change{What: what, Kind: Changed, Before: approvals(bn), After: approvals(hn), Effect: Narrows})
		}
	}
	return out
}

func approvals(n int) string { return fmt.Sprintf("%d approvals", n) }
