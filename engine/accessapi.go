package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
)

// ErrNoAccess: the server runs without just-in-time access.
var ErrNoAccess = errors.New("just-in-time access is not enabled")

// AccessCall is one just-in-time API call: the caller's bearer ID token
// (verified exactly like a subject token: pre-check, provider, audience,
// times, one-time use) and where it came from.
type AccessCall struct {
	// Token is the raw ID token. It is never logged.
	Token    string
	ClientIP string
}

// RequestAccess files a request for the caller (DESIGN §13).
func (e *Engine) RequestAccess(ctx context.Context, c AccessCall, in access.NewRequest) (access.Request, error) {
	return accessCall(e, ctx, c, "request", func(pol *policy.Policy, who access.Party) (access.Request, error) {
		return e.access.Request(ctx, pol, who, in)
	})
}

// AccessRequests lists a page of the requests the caller may see.
func (e *Engine) AccessRequests(ctx context.Context, c AccessCall, f access.Filter) (access.Page, error) {
	return accessCall(e, ctx, c, "list", func(pol *policy.Policy, who access.Party) (access.Page, error) {
		return e.access.List(ctx, pol, who, f)
	})
}

// AccessRequest returns one request the caller may see.
func (e *Engine) AccessRequest(ctx context.Context, c AccessCall, id string) (access.Request, error) {
	return accessCall(e, ctx, c, "get", func(pol *policy.Policy, who access.Party) (access.Request, error) {
		return e.access.Get(ctx, pol, who, id)
	})
}

// AccessReviewer says whether the caller approves any just-in-time
// identity and, when not, the claims approvers are matched on that the
// caller's token lacks (DESIGN §13: what the console tells a person who
// may review nothing).
func (e *Engine) AccessReviewer(ctx context.Context, c AccessCall) (policy.ReviewerDecision, error) {
	return accessCall(e, ctx, c, "reviewer", func(pol *policy.Policy, who access.Party) (policy.ReviewerDecision, error) {
		return e.access.Reviewer(ctx, pol, who)
	})
}

// ReviewAccess approves or denies a request (verdict access.VerdictApprove
// or access.VerdictDeny).
func (e *Engine) ReviewAccess(ctx context.Context, c AccessCall, id, verdict, reason string) (access.Request, error) {
	return accessCall(e, ctx, c, verdict, func(pol *policy.Policy, who access.Party) (access.Request, error) {
		return e.access.Review(ctx, pol, who, id, verdict, reason)
	})
}

// CancelAccess withdraws the caller's pending request.
func (e *Engine) CancelAccess(ctx context.Context, c AccessCall, id, reason string) (access.Request, error) {
	return accessCall(e, ctx, c, "cancel", func(pol *policy.Policy, who access.Party) (access.Request, error) {
		return e.access.Cancel(ctx, pol, who, id, reason)
	})
}

// RevokeAccess ends a grant now; tokens issued under it become inactive.
func (e *Engine) RevokeAccess(ctx context.Context, c AccessCall, id, reason string) (access.Request, error) {
	return accessCall(e, ctx, c, "revoke", func(pol *policy.Policy, who access.Party) (access.Request, error) {
		return e.access.Revoke(ctx, pol, who, id, reason)
	})
}

// accessCall runs one access call in numbered steps: 1. the active policy,
// 2. the bearer token verified like a subject token, 3. the per-subject
// rate limit, 4. the call. A refusal is logged with its reasons and the
// token's SHA-256, never the token, and returned as an *Error.
func accessCall[T any](e *Engine, ctx context.Context, c AccessCall, action string, call func(*policy.Policy, access.Party) (T, error)) (T, error) {
	rec := &record{id: newDecisionID(), start: e.now(), clientIP: c.ClientIP}
	out, err := accessSteps(e, ctx, c, rec, call)
	if err != nil {
		return out, e.accessRefused(rec, c, action, err)
	}
	return out, nil
}

func accessSteps[T any](e *Engine, ctx context.Context, c AccessCall, rec *record, call func(*policy.Policy, access.Party) (T, error)) (T, error) {
	var zero T
	if e.access == nil {
		return zero, ErrNoAccess
	}
	// 1. The active policy, read once.
	pol, err := e.activePolicy()
	if err != nil {
		return zero, err
	}
	// 2. The bearer token, verified exactly as a subject token is.
	v, err := e.cfg.Verifier.Verify(ctx, c.Token, pol)
	if err != nil {
		return zero, classifyVerify(err, rec)
	}
	rec.verified(v)
	// 3. The per-subject rate limit, shared with exchanges.
	if wait, ok := e.limiter.Allow(v.Issuer + "\x00" + v.Subject); !ok {
		rec.retryAfter = wait
		return zero, ErrRateLimited
	}
	// 4. The call.
	out, err := call(pol, party(v))
	return out, classifyAccess(err)
}

// classifyAccess: the policy's failures are ErrInternal; the store's
// outages (state.ErrUnavailable, which is ErrStateUnavailable) and access's
// own sentinels pass through.
func classifyAccess(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, policy.ErrEvaluation):
		return fmt.Errorf("%w: %w", ErrInternal, err)
	default:
		return err
	}
}

// accessRefused logs a refused access call and wraps err in an *Error
// carrying the decision id and the policy's reasons.
func (e *Engine) accessRefused(rec *record, c AccessCall, action string, err error) error {
	// A DeniedError's text already holds its reasons.
	var denied *access.DeniedError
	if errors.As(err, &denied) {
		rec.reasons, rec.errReasons = denied.Reasons, true
	}
	e.decLog.Warn("access refused",
		zap.String("decision_id", rec.id),
		zap.String("timestamp", timestamp(rec.start)),
		zap.String("action", action),
		zap.String("source_iss", rec.srcIss),
		zap.String("source_sub", rec.srcSub),
		zap.String("source_token_sha256", tokenSHA256(c.Token)),
		zap.String("client_ip", c.ClientIP),
		zap.String("error", errorClass(err)),
		zap.Strings("reasons", rec.reasons),
	)
	return rec.refusal(err)
}

// errorClass names an error's sentinel for the log.
func errorClass(err error) string {
	for _, s := range []error{access.ErrDenied, access.ErrNotFound, access.ErrConflict, access.ErrInvalid,
		ErrInvalidToken, ErrStateUnavailable, ErrRateLimited, ErrNoPolicy, ErrUnavailable, ErrNoAccess} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return ErrInternal.Error()
}

// AccessRecorder returns what access.Config.Record should be: every
// transition of a request as one decision-log record.
func AccessRecorder(decLog *zap.Logger) func(access.Request, access.Event) {
	return func(r access.Request, ev access.Event) {
		decLog.Info("access",
			zap.String("decision_id", newDecisionID()),
			zap.String("timestamp", timestamp(ev.At)),
			zap.String("event", string(ev.Type)),
			zap.String("request_id", r.ID),
			zap.String("identity", r.Identity),
			zap.String("state", string(r.State)),
			zap.String("risk", r.Risk),
			zap.Int("approvals_required", r.ApprovalsRequired),
			zap.Int("approvals", r.Approvals()),
			zap.String("actor_iss", ev.Actor.Issuer),
			zap.String("actor_sub", ev.Actor.Subject),
			zap.String("requester_iss", r.Requester.Issuer),
			zap.String("requester_sub", r.Requester.Subject),
			zap.String("binding", r.Binding.Key()),
			zap.String("reason", ev.Reason),
			zap.String("expires_at", timestamp(r.ExpiresAt)),
			zap.Duration("duration", time.Duration(r.DurationSeconds)*time.Second),
		)
	}
}
