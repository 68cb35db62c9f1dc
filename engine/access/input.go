package access

import (
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

// requestInput is what data.trustgate.access.request is asked: the
// requester's verified token and provider, the request, now.
func requestInput(who Party, in NewRequest, now time.Time) policy.AccessRequestInput {
	return policy.AccessRequestInput{
		Who: who.policy(), Identity: in.Identity, DurationSeconds: int64(in.Duration / time.Second),
		Reason: in.Reason, Ticket: in.Ticket, Scopes: in.Scopes, Audiences: in.Audiences,
		StartsAt: in.StartsAt, Now: now,
	}
}

// reviewInput is what data.trustgate.access.review is asked: the stored
// request with its requester's facts and persons, the reviewer's token
// and provider, the verdict, now.
func reviewInput(r Request, who Party, verdict string, now time.Time) policy.AccessReviewInput {
	reviews := make([]policy.PastReview, len(r.Reviews))
	for i, rv := range r.Reviews {
		reviews[i] = policy.PastReview{Issuer: rv.Reviewer.Issuer, Subject: rv.Reviewer.Subject, Person: rv.Reviewer.Key, Verdict: rv.Verdict}
	}
	return policy.AccessReviewInput{
		Request: policy.ReviewedRequest{
			ID: r.ID, Identity: r.Identity, State: string(r.State),
			RequesterProvider: r.Requester.Provider, RequesterIssuer: r.Requester.Issuer, RequesterSubject: r.Requester.Subject,
			RequesterPersons: r.Requester.Persons, RequesterFacts: r.Requester.Facts, Reviews: reviews,
		},
		Who: who.policy(), Verdict: verdict, Now: now,
	}
}

// reviewerInput is what data.trustgate.access.reviewer is asked: the
// person's verified token and provider, the just-in-time identities.
func reviewerInput(who Party, identities []string) policy.ReviewerInput {
	return policy.ReviewerInput{Who: who.policy(), Identities: identities}
}

// policy is the party as the policy's queries see it.
func (p Party) policy() policy.Party {
	return policy.Party{Provider: p.Provider, Issuer: p.Issuer, Platform: p.Platform, Claims: p.Claims}
}
