package engine

import (
	"context"
	"fmt"
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
			ast.Item(ast.StringTerm("ends_at"), ast.StringTerm(g.EndsAt.UTC().Format(time.RFC3339))),
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

// grantEnd is when the grant a decision names ends: the issued token must
// not outlive it. A decision naming a grant the engine did not hand the
// policy, or one that does not bind the token, is an internal error.
func grantEnd(d policy.Decision, grants []access.Grant) (time.Time, error) {
	if d.Grant == "" {
		return time.Time{}, nil
	}
	for _, g := range grants {
		if g.ID == d.Grant && g.Binds {
			return g.EndsAt, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: the policy granted through grant %q, which does not cover this token", ErrInternal, d.Grant)
}
