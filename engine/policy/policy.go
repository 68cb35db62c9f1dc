package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/trustgate/trustgate/engine/verify"
)

// Policy is compiled bundles and the library, ready to evaluate. It is
// immutable and safe for concurrent use.
type Policy struct {
	decision    rego.PreparedEvalQuery
	explain     rego.PreparedEvalQuery
	evalTimeout time.Duration
	index       index
	revisions   []Revision
	loadedAt    time.Time
}

// ProviderByIssuer finds the provider whose issuer is exactly iss.
func (p *Policy) ProviderByIssuer(iss string) (*verify.Provider, bool) {
	v, ok := p.index.byIssuer[iss]
	return v, ok
}

// ProviderByName finds a provider by its name in the bundle.
func (p *Policy) ProviderByName(name string) (*verify.Provider, bool) {
	v, ok := p.index.byName[name]
	return v, ok
}

// IdentityByEmail finds the identity whose email is email.
func (p *Policy) IdentityByEmail(email string) (string, bool) {
	if email == "" {
		return "", false
	}
	name, ok := p.index.emails[email]
	return name, ok
}

// Revisions are the loaded bundles' revisions.
func (p *Policy) Revisions() []Revision { return p.revisions }

// LoadedAt is when the policy was compiled.
func (p *Policy) LoadedAt() time.Time { return p.loadedAt }

// Evaluate asks data.trustgate.decision about input under the evaluation
// deadline. Anything but exactly one well-formed Decision is ErrEvaluation.
func (p *Policy) Evaluate(ctx context.Context, input ast.Value) (Decision, error) {
	v, err := p.eval(ctx, p.decision, input)
	if err != nil {
		return Decision{}, err
	}
	d, err := decodeDecision(v)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	return d, nil
}

// Explain asks data.trustgate.explain about input.
func (p *Policy) Explain(ctx context.Context, input ast.Value) (Explanation, error) {
	v, err := p.eval(ctx, p.explain, input)
	if err != nil {
		return Explanation{}, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Explanation{}, fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	var ex Explanation
	if err := json.Unmarshal(b, &ex); err != nil {
		return Explanation{}, fmt.Errorf("%w: explain: %w", ErrEvaluation, err)
	}
	return ex, nil
}

func (p *Policy) eval(ctx context.Context, q rego.PreparedEvalQuery, input ast.Value) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, p.evalTimeout)
	defer cancel()
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("%w: the query is undefined or has %d results", ErrEvaluation, len(rs))
	}
	return rs[0].Expressions[0].Value, nil
}

// decodeDecision reads a decision strictly: an object with exactly the
// known fields, each of its type; an allow must name an identity and a
// subject.
func decodeDecision(v any) (Decision, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Decision{}, fmt.Errorf("decision is a %T, not an object", v)
	}
	var d Decision
	var err error
	for k, f := range obj {
		switch k {
		case "allow":
			d.Allow, ok = f.(bool)
			if !ok {
				err = fmt.Errorf("allow is not a boolean")
			}
		case "identity":
			d.Identity, err = asString(k, f)
		case "subject":
			d.Subject, err = asString(k, f)
		case "error":
			d.Error, err = asString(k, f)
		case "roles":
			d.Roles, err = asStrings(k, f)
		case "scopes":
			d.Scopes, err = asStrings(k, f)
		case "audiences":
			d.Audiences, err = asStrings(k, f)
		case "reasons":
			d.Reasons, err = asStrings(k, f)
		case "ttl_seconds":
			d.TTLSeconds, err = asInt(k, f)
		default:
			err = fmt.Errorf("unknown decision field %q", k)
		}
		if err != nil {
			return Decision{}, err
		}
	}
	if _, has := obj["allow"]; !has {
		return Decision{}, fmt.Errorf("decision has no allow")
	}
	if d.Allow && (d.Identity == "" || d.Subject == "") {
		return Decision{}, fmt.Errorf("an allow without identity or subject")
	}
	if d.TTLSeconds < 0 {
		return Decision{}, fmt.Errorf("ttl_seconds is negative")
	}
	return d, nil
}

func asString(k string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is not a string", k)
	}
	return s, nil
}

func asStrings(k string, v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", k)
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is not a string", k, i)
		}
		out[i] = s
	}
	return out, nil
}

func asInt(k string, v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s is not a number", k)
	}
	i, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number", k)
	}
	return i, nil
}
