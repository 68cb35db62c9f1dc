package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// AccessRequestDecision is what data.trustgate.access.request evaluates to
// (DESIGN §13): whether a requester may ask for a just-in-time identity,
// at what risk and with how many approvals.
type AccessRequestDecision struct {
	Allow              bool   `json:"allow"`
	Risk               string `json:"risk"`
	ApprovalsRequired  int    `json:"approvals_required"`
	DurationSeconds    int64  `json:"duration_seconds"`
	MaxDurationSeconds int64  `json:"max_duration_seconds"`
	// Scopes are what a grant of the request carries: the scopes named,
	// or all of the identity's when none are. Audiences are the audiences
	// named (none: the identity's).
	Scopes    []string `json:"scopes"`
	Audiences []string `json:"audiences"`
	// RequesterPersons are the persons behind the request (person.rego):
	// none of them may review it.
	RequesterPersons []string `json:"requester_persons"`
	Reasons          []string `json:"reasons"`
}

// AccessReviewDecision is what data.trustgate.access.review evaluates to:
// whether a person may give a verdict on a request.
type AccessReviewDecision struct {
	Allow bool `json:"allow"`
	// Person is who the reviewer is (person.rego): one person reviews a
	// request once, whatever provider their token comes through.
	Person  string   `json:"person"`
	Reasons []string `json:"reasons"`
}

// ReviewerDecision is what data.trustgate.access.reviewer evaluates to:
// whether a person approves any just-in-time identity and, when not, the
// claims the approvers of their provider match on that their token
// lacks. It names no identity, pattern or request.
type ReviewerDecision struct {
	Approver      bool     `json:"approver"`
	MissingClaims []string `json:"missing_claims"`
}

// Reviewer evaluates data.trustgate.access.reviewer for input.
func (p *Policy) Reviewer(ctx context.Context, in ReviewerInput) (ReviewerDecision, error) {
	var d ReviewerDecision
	if err := p.evalInto(ctx, p.reviewer, reviewerQuery, in.value(), &d); err != nil {
		return ReviewerDecision{}, err
	}
	return d, nil
}

// AccessRequest evaluates data.trustgate.access.request for input. An
// allow without a risk, or a denial without reasons, is ErrEvaluation.
func (p *Policy) AccessRequest(ctx context.Context, in AccessRequestInput) (AccessRequestDecision, error) {
	var d AccessRequestDecision
	err := p.evalInto(ctx, p.accessRequest, accessRequestQuery, in.value(), &d)
	switch {
	case err != nil:
	case d.Allow && (d.Risk == "" || d.ApprovalsRequired < 0 || d.DurationSeconds <= 0 || len(d.RequesterPersons) == 0):
		err = fmt.Errorf("%w: %s: an allow without a risk, approvals, duration or requester", ErrEvaluation, accessRequestQuery)
	case !d.Allow && len(d.Reasons) == 0:
		err = fmt.Errorf("%w: %s: a denial without reasons", ErrEvaluation, accessRequestQuery)
	}
	if err != nil {
		return AccessRequestDecision{}, err
	}
	return d, nil
}

// AccessReview evaluates data.trustgate.access.review for input.
func (p *Policy) AccessReview(ctx context.Context, in AccessReviewInput) (AccessReviewDecision, error) {
	var d AccessReviewDecision
	err := p.evalInto(ctx, p.accessReview, accessReviewQuery, in.value(), &d)
	switch {
	case err != nil:
	case d.Allow && d.Person == "":
		err = fmt.Errorf("%w: %s: an allow that names no person", ErrEvaluation, accessReviewQuery)
	case !d.Allow && len(d.Reasons) == 0:
		err = fmt.Errorf("%w: %s: a denial without reasons", ErrEvaluation, accessReviewQuery)
	}
	if err != nil {
		return AccessReviewDecision{}, err
	}
	return d, nil
}

// evalInto evaluates q and decodes its one value strictly into dst: an
// object with no field dst lacks.
func (p *Policy) evalInto(ctx context.Context, q rego.PreparedEvalQuery, query string, input ast.Value, dst any) error {
	v, err := p.eval(ctx, q, query, input)
	if err != nil {
		return err
	}
	if err := decodeStrict(v, dst); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrEvaluation, query, err)
	}
	return nil
}

// decodeStrict decodes an object value into dst, refusing unknown fields.
func decodeStrict(v ast.Value, dst any) error {
	if _, ok := v.(ast.Object); !ok {
		return fmt.Errorf("the result is %s, not an object", ast.ValueName(v))
	}
	x, err := ast.JSON(v)
	if err != nil {
		return err
	}
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("the result does not match its shape: %w", err)
	}
	return nil
}
