package access

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// requestInput is the input of data.trustgate.access.request: the
// requester's verified token and provider, the request, now.
func requestInput(who Party, in NewRequest, now time.Time) ast.Value {
	scopes := make([]any, len(in.Scopes))
	for i, sc := range in.Scopes {
		scopes[i] = sc
	}
	return value(map[string]any{
		"token":    who.Claims,
		"provider": providerInput(who),
		"request": map[string]any{
			"identity":         in.Identity,
			"duration_seconds": int64(in.Duration / time.Second),
			"reason":           in.Reason,
			"ticket":           in.Ticket,
			"scopes":           scopes,
		},
		"now": now.UTC().Format(time.RFC3339),
	})
}

// reviewInput is the input of data.trustgate.access.review: the stored
// request with its requester's facts, the reviewer's token and provider,
// the verdict, now.
func reviewInput(r Request, who Party, verdict string, now time.Time) ast.Value {
	reviews := make([]any, len(r.Reviews))
	for i, rv := range r.Reviews {
		reviews[i] = map[string]any{
			"reviewer": map[string]any{"issuer": rv.Reviewer.Issuer, "sub": rv.Reviewer.Subject},
			"verdict":  rv.Verdict,
		}
	}
	facts := make(map[string]any, len(r.Requester.Facts))
	for k, v := range r.Requester.Facts {
		facts[k] = v
	}
	return value(map[string]any{
		"request": map[string]any{
			"id":       r.ID,
			"identity": r.Identity,
			"state":    string(r.State),
			"requester": map[string]any{
				"provider": r.Requester.Provider,
				"issuer":   r.Requester.Issuer,
				"sub":      r.Requester.Subject,
				"claims":   facts,
			},
			"reviews": reviews,
		},
		"token":    who.Claims,
		"provider": providerInput(who),
		"verdict":  verdict,
		"now":      now.UTC().Format(time.RFC3339),
	})
}

// reviewerInput is the input of data.trustgate.access.reviewer: the
// person's verified token and provider, the just-in-time identities.
func reviewerInput(who Party, identities []string) ast.Value {
	names := make([]any, len(identities))
	for i, n := range identities {
		names[i] = n
	}
	return value(map[string]any{"token": who.Claims, "provider": providerInput(who), "identities": names})
}

func providerInput(who Party) map[string]any {
	return map[string]any{"name": who.Provider, "issuer": who.Issuer, "platform": who.Platform}
}

// value converts an input built of JSON types; they always convert.
func value(x map[string]any) ast.Value {
	v, err := ast.InterfaceToValue(x)
	if err != nil {
		return ast.NewObject()
	}
	return v
}
