package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/trustgate/trustgate/engine/verify"
)

// Policy is a set of bundles compiled with the library, its data validated
// and indexed, its queries prepared. It is immutable and safe for
// concurrent use; a reload builds a new one.
type Policy struct {
	decision      rego.PreparedEvalQuery
	outcome       rego.PreparedEvalQuery
	explain       rego.PreparedEvalQuery
	accessRequest rego.PreparedEvalQuery
	accessReview  rego.PreparedEvalQuery
	reviewer      rego.PreparedEvalQuery
	evalTimeout   time.Duration
	index         index
	revisions     []Revision
	digest        string // of every bundle's content: equal digests, equal policies
	loadedAt      time.Time
}

// ProviderByIssuer returns the provider whose issuer is exactly iss; it
// makes a Policy a verify.Providers. The provider must not be modified.
func (p *Policy) ProviderByIssuer(iss string) (*verify.Provider, bool) {
	v, ok := p.index.byIssuer[iss]
	return v, ok
}

// ProviderByName returns the provider a bundle names name. The provider
// must not be modified.
func (p *Policy) ProviderByName(name string) (*verify.Provider, bool) {
	v, ok := p.index.providers[name]
	return v, ok
}

// IdentityByEmail returns the name of the identity whose email is email.
func (p *Policy) IdentityByEmail(email string) (name string, ok bool) {
	if email == "" {
		return "", false
	}
	name, ok = p.index.byEmail[email]
	return name, ok
}

// Revisions returns the revision of each bundle, in the order given to Load.
func (p *Policy) Revisions() []Revision { return slices.Clone(p.revisions) }

// LoadedAt is when the policy finished loading.
func (p *Policy) LoadedAt() time.Time { return p.loadedAt }

// Evaluate evaluates data.trustgate.decision for input (DESIGN §4) under the
// evaluation deadline. Anything but exactly one result that decodes
// strictly into a Decision is ErrEvaluation, and so is an allow that grants
// more than the identity's data holds: an unknown identity, another
// subject, roles, scopes or audiences it does not have, a longer ttl.
func (p *Policy) Evaluate(ctx context.Context, input ast.Value) (Decision, error) {
	return p.evalDecision(ctx, p.decision, decisionQuery, input)
}

// Outcome is Evaluate without a denial's reasons (Reasons is nil): whether
// input is allowed, and the grant or the denial's error, checked as
// Evaluate checks them. It spares the cost of explaining a denial, which
// `trustgate replay` needs only for the one example it shows of a change.
func (p *Policy) Outcome(ctx context.Context, input ast.Value) (Decision, error) {
	d, err := p.evalDecision(ctx, p.outcome, outcomeQuery, input)
	d.Reasons = nil
	return d, err
}

// evalDecision evaluates a decision query q and decodes and checks its
// result.
func (p *Policy) evalDecision(ctx context.Context, q rego.PreparedEvalQuery, query string, input ast.Value) (Decision, error) {
	v, err := p.eval(ctx, q, query, input)
	if err != nil {
		return Decision{}, err
	}
	d, err := decodeDecision(v)
	if err == nil && d.Allow {
		err = p.checkGrant(d)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %s: %w", ErrEvaluation, query, err)
	}
	return d, nil
}

// Explain evaluates data.trustgate.explain for input: what matched and what
// did not, identity by identity, federation by federation.
func (p *Policy) Explain(ctx context.Context, input ast.Value) (Explanation, error) {
	var ex Explanation
	err := p.evalInto(ctx, p.explain, explainQuery, input, &ex)
	if err == nil && ex.Identities == nil {
		err = fmt.Errorf("%w: %s: the explanation has no identities", ErrEvaluation, explainQuery)
	}
	if err != nil {
		return Explanation{}, err
	}
	return ex, nil
}

// eval runs a prepared query under the deadline and returns its one value.
func (p *Policy) eval(ctx context.Context, q rego.PreparedEvalQuery, query string, input ast.Value) (ast.Value, error) {
	if _, ok := input.(ast.Object); !ok {
		return nil, fmt.Errorf("%w: %s: the input is %s, not an object", ErrEvaluation, query, valueName(input))
	}
	ctx, cancel := context.WithTimeout(ctx, p.evalTimeout)
	defer cancel()
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		if topdown.IsCancel(err) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s did not finish in time: %w", ErrEvaluation, query, ctx.Err())
		}
		if topdown.IsCancel(err) && ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s was cancelled: %w", ErrEvaluation, query, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrEvaluation, query, err)
	}
	switch {
	case len(rs) == 0:
		return nil, fmt.Errorf("%w: %s is undefined", ErrEvaluation, query)
	case len(rs) > 1 || len(rs[0].Expressions) != 1:
		return nil, fmt.Errorf("%w: %s has %d results, want exactly one", ErrEvaluation, query, len(rs))
	}
	v, ok := rs[0].Expressions[0].Value.(ast.Value)
	if !ok {
		return nil, fmt.Errorf("%w: %s: unexpected result %T", ErrEvaluation, query, rs[0].Expressions[0].Value)
	}
	return v, nil
}

// checkGrant holds an allow to the identity's data, whatever the Rego says.
func (p *Policy) checkGrant(d Decision) error {
	id, ok := p.index.identities[d.Identity]
	if !ok {
		return fmt.Errorf("allows identity %q, which the bundles do not define", d.Identity)
	}
	subject := id.email
	if subject == "" {
		subject = id.name
	}
	switch {
	case d.Subject != subject:
		return fmt.Errorf("allows identity %s with subject %q, want %q", id.name, d.Subject, subject)
	case !subset(d.Roles, id.roles):
		return fmt.Errorf("grants identity %s roles %q beyond its %q", id.name, d.Roles, id.roles)
	case !subset(d.Scopes, id.scopes):
		return fmt.Errorf("grants identity %s scopes %q beyond its %q", id.name, d.Scopes, id.scopes)
	case !subset(d.Audiences, id.audiences):
		return fmt.Errorf("grants identity %s audiences %q beyond its %q", id.name, d.Audiences, id.audiences)
	case d.TTLSeconds > int64(id.ttl/time.Second):
		return fmt.Errorf("grants identity %s a ttl of %ds, longer than its %s", id.name, d.TTLSeconds, id.ttl)
	case id.jit != nil && d.Grant == "":
		return fmt.Errorf("grants just-in-time identity %s without a grant", id.name)
	case id.jit == nil && d.Grant != "":
		return fmt.Errorf("grants standing identity %s through grant %q", id.name, d.Grant)
	}
	return nil
}

func subset(xs, of []string) bool {
	for _, x := range xs {
		if !slices.Contains(of, x) {
			return false
		}
	}
	return true
}

func valueName(v ast.Value) string {
	if v == nil {
		return "missing"
	}
	return ast.ValueName(v)
}

// JustInTime returns the jit block of a just-in-time identity; false for a
// standing identity or one the bundles do not define.
func (p *Policy) JustInTime(name string) (JIT, bool) {
	id, ok := p.index.identities[name]
	if !ok || id.jit == nil {
		return JIT{}, false
	}
	return *id.jit, true
}

// JustInTimeIdentities are the names of the just-in-time identities,
// sorted.
func (p *Policy) JustInTimeIdentities() []string {
	return slices.Clone(p.index.jitNames)
}
