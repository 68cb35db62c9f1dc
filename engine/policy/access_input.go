package policy

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Party is a verified token as the access queries see it: the provider's
// name, issuer and platform, and the strictly parsed claims.
type Party struct {
	Provider, Issuer, Platform string
	Claims                     map[string]any
}

// AccessRequestInput is the input of data.trustgate.access.request: who
// asks, for what, and when.
type AccessRequestInput struct {
	Who             Party
	Identity        string
	DurationSeconds int64 // 0: the identity's default_duration
	Reason, Ticket  string
	Scopes          []string
	Audiences       []string
	StartsAt        time.Time // zero: from approval
	Now             time.Time
}

// AccessReviewInput is the input of data.trustgate.access.review: the
// stored request, who reviews it, the verdict asked about, and when.
type AccessReviewInput struct {
	Request ReviewedRequest
	Who     Party
	Verdict string
	Now     time.Time
}

// ReviewedRequest is a stored request as the review query sees it.
type ReviewedRequest struct {
	ID, Identity, State string
	// Requester is who asked: provider, issuer, sub, the persons behind
	// the request (as the request query named them) and the kept facts.
	RequesterProvider, RequesterIssuer, RequesterSubject string
	RequesterPersons                                     []string
	RequesterFacts                                       map[string]string
	Reviews                                              []PastReview
}

// PastReview is a review already given: who (issuer, sub and person) and
// the verdict.
type PastReview struct {
	Issuer, Subject, Person, Verdict string
}

// ReviewerInput is the input of data.trustgate.access.reviewer: a
// person's verified token and the just-in-time identities.
type ReviewerInput struct {
	Who        Party
	Identities []string
}

func (in ReviewerInput) value() ast.Value {
	return inputValue(map[string]any{"token": in.Who.Claims, "provider": in.Who.provider(), "identities": anyStrings(in.Identities)})
}

func (in AccessRequestInput) value() ast.Value {
	starts := ""
	if !in.StartsAt.IsZero() {
		starts = in.StartsAt.UTC().Format(time.RFC3339)
	}
	return inputValue(map[string]any{
		"token":    in.Who.Claims,
		"provider": in.Who.provider(),
		"request": map[string]any{
			"identity":         in.Identity,
			"duration_seconds": in.DurationSeconds,
			"reason":           in.Reason,
			"ticket":           in.Ticket,
			"scopes":           anyStrings(in.Scopes),
			"audiences":        anyStrings(in.Audiences),
			"starts_at":        starts,
		},
		"now": in.Now.UTC().Format(time.RFC3339),
	})
}

func (in AccessReviewInput) value() ast.Value {
	r := in.Request
	reviews := make([]any, len(r.Reviews))
	for i, rv := range r.Reviews {
		reviews[i] = map[string]any{
			"reviewer": map[string]any{"issuer": rv.Issuer, "sub": rv.Subject, "person": rv.Person},
			"verdict":  rv.Verdict,
		}
	}
	facts := make(map[string]any, len(r.RequesterFacts))
	for k, v := range r.RequesterFacts {
		facts[k] = v
	}
	return inputValue(map[string]any{
		"request": map[string]any{
			"id":       r.ID,
			"identity": r.Identity,
			"state":    r.State,
			"requester": map[string]any{
				"provider": r.RequesterProvider,
				"issuer":   r.RequesterIssuer,
				"sub":      r.RequesterSubject,
				"persons":  anyStrings(r.RequesterPersons),
				"claims":   facts,
			},
			"reviews": reviews,
		},
		"token":    in.Who.Claims,
		"provider": in.Who.provider(),
		"verdict":  in.Verdict,
		"now":      in.Now.UTC().Format(time.RFC3339),
	})
}

func (p Party) provider() map[string]any {
	return map[string]any{"name": p.Provider, "issuer": p.Issuer, "platform": p.Platform}
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// inputValue converts an input built of JSON types; they always convert.
func inputValue(x map[string]any) ast.Value {
	v, err := ast.InterfaceToValue(x)
	if err != nil {
		return ast.NewObject()
	}
	return v
}
