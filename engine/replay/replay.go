package replay

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
)

// Change is what happened to one decision under head.
type Change string

// Changes, as reports name them.
const (
	Unchanged     Change = "unchanged"
	NewlyAllowed  Change = "newly allowed"
	NewlyDenied   Change = "newly denied"
	ChangedGrant  Change = "changed grant"
	EvaluationErr Change = "error"
)

// Replayer compares head with base over recorded decisions.
type Replayer struct {
	// Head is the candidate policy. Required.
	Head *policy.Policy
	// Base is the policy to compare with; nil: the recorded decisions.
	Base *policy.Policy
}

// outcome is one policy's answer to one input.
type outcome struct {
	d   *policy.Decision // nil: the evaluation failed
	err error
}

func (o outcome) allowed() bool { return o.d != nil && o.d.Allow }

// Run replays every record of src and returns the report. It stops at the
// first record src cannot read (ErrFormat and the like) and when ctx ends.
func (r *Replayer) Run(ctx context.Context, src Source) (*Report, error) {
	rep := newReport()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, ok, err := src.Next()
		if errors.Is(err, io.EOF) {
			return rep, nil
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			rep.Skipped++
			continue
		}
		c := r.compare(ctx, rec)
		if rep.opens(rec, c) {
			r.explain(ctx, rec, &c)
		}
		rep.add(rec, c)
	}
}

// comparison is one record's base and head outcomes and what changed.
type comparison struct {
	base, head outcome
	change     Change
	fields     []string // of a changed grant: identity, roles, scopes, audiences, ttl
	widens     bool     // head grants something base did not
}

// compare evaluates rec's outcomes, without a denial's reasons: only the
// example of a group shows them (explain).
func (r *Replayer) compare(ctx context.Context, rec Record) comparison {
	eval := outcomeOf(rec)
	c := comparison{head: evaluate(ctx, r.Head, rec.Eval, eval)}
	if r.Base != nil {
		c.base = evaluate(ctx, r.Base, rec.Eval, eval)
	} else {
		c.base = outcome{d: rec.Decision, err: recordedError(rec)}
	}
	switch {
	case c.head.err != nil && c.base.err == nil:
		c.change = EvaluationErr
	case !c.base.allowed() && c.head.allowed():
		c.change, c.widens = NewlyAllowed, true
	case c.base.allowed() && !c.head.allowed():
		c.change = NewlyDenied
	case c.base.allowed():
		c.fields, c.widens = policy.GrantChanges(*c.base.d, *c.head.d)
		c.change = Unchanged
		if len(c.fields) > 0 {
			c.change = ChangedGrant
		}
	default:
		c.change = Unchanged
	}
	return c
}

// explain gives the comparison of a group's example the denying policy's
// reasons: head's for a decision newly denied, base's for one newly
// allowed (with no base, the recorded decision has its own). An outcome
// stays as it is when its explanation cannot be evaluated.
func (r *Replayer) explain(ctx context.Context, rec Record, c *comparison) {
	switch {
	case c.change == NewlyDenied:
		if o := evaluate(ctx, r.Head, rec.Eval, engine.Evaluate); o.d != nil {
			c.head = o
		}
	case c.change == NewlyAllowed && r.Base != nil:
		if o := evaluate(ctx, r.Base, rec.Eval, engine.Evaluate); o.d != nil {
			c.base = o
		}
	}
}

func recordedError(rec Record) error {
	if rec.Decision == nil {
		return errors.New("the recorded evaluation failed")
	}
	return nil
}

// evaluator is engine.Evaluate or engine.Outcome: one way of building the
// input, with or without a denial's reasons.
type evaluator func(context.Context, *policy.Policy, *engine.Evaluation) (policy.Decision, error)

// outcomeOf is the cheaper way to learn rec's outcome: a grant, which has
// no reasons, costs less through engine.Evaluate (engine.Outcome's
// replacement of the reasons has a price of its own), a denial through
// engine.Outcome. Most decisions replay as they were recorded, so the
// recorded one is the guess; a wrong guess costs time, never the result:
// both give the same decision but for a denial's reasons.
func outcomeOf(rec Record) evaluator {
	if rec.Decision != nil && rec.Decision.Allow {
		return engine.Evaluate
	}
	return engine.Outcome
}

// evaluate asks pol about ev as an exchange would: the token goes to the
// provider pol routes its issuer to (none: refused before the policy),
// and the input is built and evaluated by eval.
func evaluate(ctx context.Context, pol *policy.Policy, ev *engine.Evaluation, eval evaluator) outcome {
	p, ok := pol.ProviderByIssuer(ev.Provider.Issuer)
	if !ok {
		return outcome{d: &policy.Decision{Reasons: []string{fmt.Sprintf("no provider trusts issuer %s", ev.Provider.Issuer)}}}
	}
	routed := *ev
	routed.Provider = p
	d, err := eval(ctx, pol, &routed)
	if err != nil {
		return outcome{err: err}
	}
	return outcome{d: &d}
}
