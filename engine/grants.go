package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// party is a verified token as just-in-time access sees it.
func party(v *verify.Verified) access.Party {
	return access.Party{Provider: v.Provider.Name, Issuer: v.Provider.Issuer, Platform: v.Provider.Platform, Claims: v.Claims}
}

// grantsFor reads the active grants of the identity req names, when it is
// just-in-time; exchanges for standing identities (and unnamed ones, which
// never select a just-in-time identity) read nothing.
func (e *Engine) grantsFor(ctx context.Context, pol *policy.Policy, v *verify.Verified, req Request) ([]access.Grant, error) {
	name := req.Identity
	if n, ok := pol.IdentityByEmail(name); ok {
		name = n
	}
	if _, jit := pol.JustInTime(name); !jit || e.access == nil {
		return nil, nil
	}
	gs, err := e.access.Grants(ctx, party(v), name)
	if err != nil {
		return nil, stateUnavailable(err)
	}
	return gs, nil
}

// WithGrants adds input.grants to an exchange's input (data.trustgate.decision):
// the active grants of the identity asked for, each marked with whether it
// binds the token. `trustgate explain --grants` uses it too.
func WithGrants(input ast.Value, grants []access.Grant) ast.Value {
	obj, ok := input.(ast.Object)
	if !ok || grants == nil {
		return input
	}
	terms := make([]*ast.Term, len(grants))
	for i, g := range grants {
		terms[i] = ast.ObjectTerm(
			ast.Item(ast.StringTerm("id"), ast.StringTerm(g.ID)),
			ast.Item(ast.StringTerm("identity"), ast.StringTerm(g.Identity)),
			ast.Item(ast.StringTerm("starts_at"), ast.StringTerm(rfc3339(g.StartsAt))),
			ast.Item(ast.StringTerm("ends_at"), ast.StringTerm(g.EndsAt.UTC().Format(time.RFC3339))),
			ast.Item(ast.StringTerm("scopes"), stringsTerm(g.Scopes)),
			ast.Item(ast.StringTerm("audiences"), stringsTerm(g.Audiences)),
			ast.Item(ast.StringTerm("binds"), ast.BooleanTerm(g.Binds)),
			ast.Item(ast.StringTerm("binding"), ast.ObjectTerm(
				ast.Item(ast.StringTerm("kind"), ast.StringTerm(g.Binding.Kind)),
				ast.Item(ast.StringTerm("provider"), ast.StringTerm(g.Binding.Provider)),
				ast.Item(ast.StringTerm("issuer"), ast.StringTerm(g.Binding.Issuer)),
				ast.Item(ast.StringTerm("sub"), ast.StringTerm(g.Binding.Subject)),
				ast.Item(ast.StringTerm("project"), ast.StringTerm(g.Binding.Project)),
				ast.Item(ast.StringTerm("ref"), ast.StringTerm(g.Binding.Ref)),
				ast.Item(ast.StringTerm("pipeline"), ast.StringTerm(g.Binding.Pipeline)),
			)),
		)
	}
	out := obj.Copy()
	out.Insert(ast.StringTerm("grants"), ast.ArrayTerm(terms...))
	return out
}

// rfc3339 is t as the policy reads times; "" for none.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// holdToGrant is the engine's own check of an allow against the grants it
// handed the policy, whatever a (possibly custom, possibly buggy) policy
// returned (DESIGN §13): a just-in-time identity is granted only through
// an active grant of that identity that binds the token, with no scope and
// no audience (aud being what the token will carry) beyond what the grant
// carries. It returns when the grant ends, which the token must not
// outlive. Anything else is ErrInternal, never a token.
func holdToGrant(pol *policy.Policy, d policy.Decision, aud []string, grants []access.Grant, now time.Time) (time.Time, error) {
	_, jit := pol.JustInTime(d.Identity)
	if !jit && d.Grant == "" {
		return time.Time{}, nil
	}
	if !jit {
		return time.Time{}, fmt.Errorf("%w: the policy granted standing identity %s through grant %q", ErrInternal, d.Identity, d.Grant)
	}
	i := slices.IndexFunc(grants, func(g access.Grant) bool { return d.Grant != "" && g.ID == d.Grant })
	if i < 0 {
		return time.Time{}, fmt.Errorf("%w: the policy granted just-in-time identity %s without an active grant (%q)", ErrInternal, d.Identity, d.Grant)
	}
	g := grants[i]
	var problem string
	switch {
	case !g.Binds:
		problem = "which does not cover this token"
	case g.Identity != d.Identity:
		problem = "which is for identity " + g.Identity
	case now.Before(g.StartsAt) || !now.Before(g.EndsAt):
		// The store hands over active grants only: this one ended since.
		return time.Time{}, fmt.Errorf("%w: grant %s is not active now", ErrDenied, g.ID)
	case !subset(d.Scopes, g.Scopes):
		problem = fmt.Sprintf("with scopes %q beyond its %q", d.Scopes, g.Scopes)
	case len(g.Audiences) > 0 && !subset(aud, g.Audiences):
		problem = fmt.Sprintf("with audiences %q beyond its %q", aud, g.Audiences)
	default:
		return g.EndsAt, nil
	}
	return time.Time{}, fmt.Errorf("%w: the policy granted %s through grant %s, %s", ErrInternal, d.Identity, g.ID, problem)
}

func subset(xs, of []string) bool {
	for _, x := range xs {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}
