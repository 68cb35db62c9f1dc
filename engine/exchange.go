package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// Exchange verifies req.SubjectToken, asks the active policy what it may be
// exchanged for, and mints that token, in the steps of DESIGN §1 (1-6 in
// exchange, 7 here). Any failure gives no token and an *Error whose Err is
// one of this package's sentinels.
func (e *Engine) Exchange(ctx context.Context, req Request) (*Token, error) {
	rec := newRecord(e.now(), req)
	tok, err := e.exchange(ctx, req, rec)
	rec.finish(e.now(), tok, err)
	// 7. One decision-log record, whatever the outcome; never the token.
	e.writeRecord(rec)
	e.metrics.exchanged(rec)
	e.shadow.offer(rec) // off the request path: never waits

	if err != nil {
		return nil, rec.refusal(err)
	}
	return tok, nil
}

// exchange runs steps 1-6 of DESIGN §1 in order; none can be skipped.
func (e *Engine) exchange(ctx context.Context, req Request, rec *record) (*Token, error) {
	// First, read the active policy once: this request sees one policy
	// only, its providers for routing and its rules for the decision.
	pol, err := e.activePolicy()
	if err != nil {
		return nil, err
	}
	rec.revisions = pol.Revisions()

	// 1-4. verify.Verify: 1. pre-check the raw token; 2. the one strict
	// parse of the still unverified payload, whose exact iss routes to a
	// provider; 3. that provider's alg, signature (of exactly the parsed
	// bytes), iss, aud, times and replay; 4. the claims are step 2's parse.
	start := e.now()
	v, err := e.cfg.Verifier.Verify(ctx, req.SubjectToken, pol)
	e.metrics.stage(stageVerify, e.now().Sub(start))
	if err != nil {
		return nil, classifyVerify(err, rec)
	}
	rec.verified(v)

	// Between 4 and 5: the per-subject rate limit, after verification so
	// nobody can spend another subject's budget.
	if wait, ok := e.limiter.Allow(v.Issuer + "\x00" + v.Subject); !ok {
		rec.retryAfter = wait
		return nil, ErrRateLimited
	}

	// 5. Build the OPA input (with a just-in-time identity's active
	// grants; standing identities read no state) and evaluate the active
	// policy, in one of a bounded number of slots.
	grants, err := e.grantsFor(ctx, pol, v, req)
	if err != nil {
		rec.failed(err)
		return nil, err
	}

	d, notAfter, err := e.decide(ctx, v, req, pol, grants, rec)
	if err != nil {
		return nil, err
	}

	// 6. Mint the access token from the decision.
	start = e.now()
	tok, err := e.mint(v, d, notAfter)
	e.metrics.stage(stageSign, e.now().Sub(start))
	return tok, err
}

// decide is step 5 of exchange (DESIGN §1): it evaluates the policy in one of a
// bounded number of slots and holds the decision to the grants: a denial,
// or an allow beyond the end of its grant, is an error.
func (e *Engine) decide(ctx context.Context, v *verify.Verified, req Request, pol *policy.Policy, grants []access.Grant, rec *record) (policy.Decision, time.Time, error) {
	waited, err := e.slots.acquire(ctx)
	e.metrics.stage(stageQueue, waited)
	if err != nil {
		rec.retryAfter = overloadRetryAfter
		return policy.Decision{}, time.Time{}, err
	}
	start := e.now()
	rec.eval = &Evaluation{Provider: v.Provider, Claims: v.Claims, Payload: v.Payload, Request: req, Now: start.Truncate(time.Second), Grants: grants}
	d, err := e.evaluate(ctx, pol, rec.eval)
	e.metrics.stage(stageEvaluate, e.now().Sub(start))
	if err != nil {
		rec.failed(err)
		return policy.Decision{}, time.Time{}, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	rec.decided(d)
	if err := denial(d); err != nil {
		return policy.Decision{}, time.Time{}, err
	}
	notAfter, err := holdToGrant(pol, d, e.audiences(d), grants, e.now())
	if err != nil {
		rec.failed(err)
		return policy.Decision{}, time.Time{}, err
	}
	return d, notAfter, nil
}

// evaluate evaluates pol for ev in the slot the caller acquired, giving the
// slot back however evaluation ends (a panic included).
func (e *Engine) evaluate(ctx context.Context, pol *policy.Policy, ev *Evaluation) (policy.Decision, error) {
	defer e.slots.release()
	return Evaluate(ctx, pol, ev)
}

func classifyVerify(err error, rec *record) error {
	rec.failed(err)
	switch {
	case errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, verify.ErrReplayUnavailable):
		return stateUnavailable(err)
	case errors.Is(err, verify.ErrInvalidToken):
		return err
	default:
		return fmt.Errorf("%w: %w", ErrInternal, err)
	}
}

// denial turns a decision that does not allow into the sentinel that
// classifies it; nil when the decision allows.
func denial(d policy.Decision) error {
	if d.Allow {
		return nil
	}
	switch d.Error {
	case "invalid_scope":
		return ErrInvalidScope
	case "invalid_target":
		return ErrInvalidTarget
	default:
		return ErrDenied
	}
}

// Input builds the OPA input of DESIGN §4 as an ast.Value, so the policy does
// not convert it again. An email the policy knows is resolved to its
// identity name here, from pol's index, so the policy does not scan
// identities for it. `trustgate explain` uses it too, so offline
// explanations see exactly what the server evaluates.
func Input(pol *policy.Policy, p *verify.Provider, claims map[string]any, req Request, now time.Time) ast.Value {
	if name, ok := pol.IdentityByEmail(req.Identity); ok {
		req.Identity = name
	}
	return ast.NewObject(
		ast.Item(ast.InternedTerm("token"), ast.NewTerm(claimsValue(claims))),
		ast.Item(ast.InternedTerm("provider"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("name"), ast.StringTerm(p.Name)),
			ast.Item(ast.InternedTerm("issuer"), ast.StringTerm(p.Issuer)),
			ast.Item(ast.InternedTerm("platform"), ast.StringTerm(p.Platform)),
		)),
		ast.Item(ast.InternedTerm("request"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("identity"), ast.StringTerm(req.Identity)),
			ast.Item(ast.InternedTerm("scopes"), stringsTerm(req.Scopes)),
			ast.Item(ast.InternedTerm("audiences"), stringsTerm(req.Audiences)),
			ast.Item(ast.InternedTerm("client_ip"), ast.StringTerm(req.ClientIP)),
		)),
		ast.Item(ast.InternedTerm("now"), ast.StringTerm(now.UTC().Format(time.RFC3339))),
	)
}

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

// claimsValue converts strictly parsed claims (strings, json.Number, bools,
// nil, maps and slices of those) into an ast.Value.
func claimsValue(claims map[string]any) ast.Value {
	v, err := ast.InterfaceToValue(claims)
	if err != nil {
		// ParseClaims only produces JSON types, which always convert.
		return ast.NewObject()
	}
	return v
}

// mint signs the token d grants; it ends no later than notAfter when that
// is set (the end of a just-in-time grant).
func (e *Engine) mint(v *verify.Verified, d policy.Decision, notAfter time.Time) (*Token, error) {
	now := e.now()
	ttl := e.ttl(d)
	if !notAfter.IsZero() {
		ttl = min(ttl, notAfter.Sub(now).Truncate(time.Second))
		if ttl <= 0 {
			return nil, fmt.Errorf("%w: grant %s has ended", ErrDenied, d.Grant)
		}
	}
	aud := e.audiences(d)
	c := mint.Claims{
		Issuer:    e.cfg.Issuer,
		Subject:   d.Subject,
		Audience:  aud,
		IssuedAt:  now.Unix(),
		NotBefore: now.Unix(),
		Expiry:    now.Add(ttl).Unix(),
		Scope:     joinScopes(d.Scopes),
		Roles:     d.Roles,
		ClientID:  d.Identity,
		Act:       &mint.Actor{Issuer: v.Issuer, Subject: v.Subject},
		Src:       sourceFacts(v.Claims),
		Grant:     d.Grant,
	}
	raw, jti, err := e.keys.Load().Sign(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	e.log.Debug("token minted", zap.String("jti", jti), zap.String("identity", d.Identity))
	return &Token{
		AccessToken: raw,
		ExpiresIn:   ttl,
		Scopes:      d.Scopes,
		Audiences:   aud,
		Identity:    d.Identity,
		Subject:     d.Subject,
	}, nil
}

// audiences are the token's: the decision's, or the server's issuer.
func (e *Engine) audiences(d policy.Decision) []string {
	if len(d.Audiences) == 0 {
		return []string{e.cfg.Issuer}
	}
	return d.Audiences
}

// ttl is the identity's ttl, or the default, never more than MaxTTL.
func (e *Engine) ttl(d policy.Decision) time.Duration {
	ttl := time.Duration(d.TTLSeconds) * time.Second
	if ttl <= 0 {
		ttl = e.cfg.DefaultTTL
	}
	return min(ttl, e.cfg.MaxTTL)
}

func joinScopes(scopes []string) string {
	n := 0
	for _, s := range scopes {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range scopes {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	return string(b)
}

// sourceFactNames is the allowlist of source claims copied under `src`.
var sourceFactNames = [...]string{"project_path", "ref", "pipeline_id", "job_id", "repository", "run_id"}

func sourceFacts(claims map[string]any) map[string]string {
	var src map[string]string
	for _, name := range sourceFactNames {
		v, ok := claims[name]
		if !ok {
			continue
		}
		s, ok := factString(v)
		if !ok {
			continue
		}
		if src == nil {
			src = make(map[string]string, len(sourceFactNames))
		}
		src[name] = s
	}
	return src
}

func factString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case fmt.Stringer: // json.Number
		return v.String(), true
	default:
		return "", false
	}
}
