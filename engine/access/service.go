package access

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/scope"
)

// Limits on what a requester writes.
const (
	MaxReasonLen = 1000
	MaxTicketLen = 200
)

// Policy is what the service asks of the active policy.
type Policy interface {
	JustInTime(identity string) (policy.JIT, bool)
	JustInTimeIdentities() []string
	AccessRequest(ctx context.Context, in policy.AccessRequestInput) (policy.AccessRequestDecision, error)
	AccessReview(ctx context.Context, in policy.AccessReviewInput) (policy.AccessReviewDecision, error)
	Reviewer(ctx context.Context, in policy.ReviewerInput) (policy.ReviewerDecision, error)
}

// Config is what New needs.
type Config struct {
	// Store keeps the requests. Required.
	Store Store
	// Notify names the notification targets of each event; nil: none.
	Notify Subscribers
	// Record receives every transition, for the decision log; nil: none.
	Record func(Request, Event)
	// Logger receives operational logs; nil: none.
	Logger *zap.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Service runs just-in-time access over a Store and the active policy. It
// is safe for concurrent use.
type Service struct {
	store  Store
	notify Subscribers
	record func(Request, Event)
	log    *zap.Logger
	now    func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("access: Store is required")
	}
	s := &Service{store: cfg.Store, notify: cfg.Notify, record: cfg.Record, log: cfg.Logger, now: cfg.Now}
	if s.notify == nil {
		s.notify = func(EventType) []string { return nil }
	}
	if s.record == nil {
		s.record = func(Request, Event) {}
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// NewRequest is what a requester asks for.
type NewRequest struct {
	Identity string
	// Duration asked for; 0: the identity's default_duration.
	Duration time.Duration
	Reason   string
	Ticket   string
	// Scopes and Audiences named bound the grant; no scopes: all of the
	// identity's.
	Scopes    []string
	Audiences []string
	// StartsAt, when set, is the earliest the grant may start (at most
	// the identity's jit.max_lead_time ahead).
	StartsAt time.Time
}

func (in NewRequest) check() error {
	var problems []string
	if in.Identity == "" {
		problems = append(problems, "identity is required")
	}
	if strings.TrimSpace(in.Reason) == "" {
		problems = append(problems, "reason is required")
	}
	if len(in.Reason) > MaxReasonLen {
		problems = append(problems, fmt.Sprintf("reason is longer than %d bytes", MaxReasonLen))
	}
	if len(in.Ticket) > MaxTicketLen {
		problems = append(problems, fmt.Sprintf("ticket is longer than %d bytes", MaxTicketLen))
	}
	if in.Duration < 0 || in.Duration%time.Second != 0 {
		problems = append(problems, "duration must be a positive whole number of seconds")
	}
	for _, sc := range in.Scopes {
		if !scope.Valid(sc) {
			problems = append(problems, fmt.Sprintf("%q is not a scope", sc))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// Request files a request for who. The policy must allow it; it is then
// pending, or approved at once when its risk needs no approval.
func (s *Service) Request(ctx context.Context, pol Policy, who Party, in NewRequest) (Request, error) {
	if err := in.check(); err != nil {
		return Request{}, err
	}
	now := s.now()
	d, err := pol.AccessRequest(ctx, requestInput(who, in, now))
	if err != nil {
		return Request{}, err
	}
	if !d.Allow {
		return Request{}, &DeniedError{Reasons: d.Reasons}
	}
	jit, ok := pol.JustInTime(in.Identity)
	if !ok {
		return Request{}, fmt.Errorf("%w: the policy allowed a request for %s, which is not just-in-time", policy.ErrEvaluation, in.Identity)
	}
	b, err := BindingFor(jit.Bind, who)
	if err != nil {
		return Request{}, &DeniedError{Reasons: []string{err.Error()}}
	}
	r := Request{
		ID: newID(), Identity: in.Identity, State: StatePending, Risk: d.Risk,
		ApprovalsRequired: d.ApprovalsRequired, Reviews: []Review{},
		Requester: Requester{Person: who.Person(), Facts: who.facts(), Persons: d.RequesterPersons}, Binding: b,
		Reason: in.Reason, Ticket: in.Ticket, Scopes: nonNil(d.Scopes), IdentityScopes: len(in.Scopes) == 0,
		Audiences: d.Audiences, DurationSeconds: d.DurationSeconds,
		CreatedAt: now, ExpiresAt: now.Add(jit.PendingTTL),
		History: []Event{{Type: EventRequested, Actor: who.Person(), Reason: in.Reason, At: now}},
	}
	if !in.StartsAt.IsZero() {
		starts := in.StartsAt.UTC()
		r.StartsAt = &starts
	}
	if d.ApprovalsRequired == 0 {
		r.State, r.ExpiresAt = StateApproved, r.GrantEnds(now)
		r.History = append(r.History, Event{Type: EventApproved, Actor: who.Person(), Reason: "risk " + d.Risk + " needs no approval", At: now})
	}
	if err := s.store.CreateAccessRequest(ctx, r, s.notify); err != nil {
		return Request{}, err
	}
	for _, e := range r.History {
		s.record(r, e)
	}
	return r, nil
}

// Get returns a request who may see: their own, or one the policy lets
// them read. Anything else is ErrNotFound, as if it did not exist.
func (s *Service) Get(ctx context.Context, pol Policy, who Party, id string) (Request, error) {
	r, err := s.store.AccessRequest(ctx, id)
	if err != nil {
		return Request{}, err
	}
	ok, err := s.visible(ctx, pol, who, r)
	if err != nil {
		return Request{}, err
	}
	if !ok {
		return Request{}, ErrNotFound
	}
	return r, nil
}

// visible: who asked for r, or the policy lets who read it.
func (s *Service) visible(ctx context.Context, pol Policy, who Party, r Request) (bool, error) {
	if who.Is(r.Requester.Person) {
		return true, nil
	}
	d, err := pol.AccessReview(ctx, reviewInput(r, who, VerdictRead, s.now()))
	return d.Allow, err
}

// Reviewer says whether who approves any just-in-time identity and, when
// not, the claims the approvers of who's provider match on that who's
// token lacks: what a person who may review nothing is told. It reveals
// no identity, rule or request.
func (s *Service) Reviewer(ctx context.Context, pol Policy, who Party) (policy.ReviewerDecision, error) {
	return pol.Reviewer(ctx, reviewerInput(who, pol.JustInTimeIdentities()))
}

// Review gives who's verdict (approve or deny) on a pending request.
func (s *Service) Review(ctx context.Context, pol Policy, who Party, id, verdict, reason string) (Request, error) {
	if verdict != VerdictApprove && verdict != VerdictDeny {
		return Request{}, fmt.Errorf("%w: verdict %q is not approve or deny", ErrInvalid, verdict)
	}
	if err := checkReason(reason); err != nil {
		return Request{}, err
	}
	r, person, err := s.authorize(ctx, pol, who, id, verdict)
	if err != nil {
		return Request{}, err
	}
	rv := Review{Reviewer: who.Person(), Verdict: verdict, Reason: reason, At: s.now()}
	rv.Reviewer.Key = person
	r, ev, err := s.store.ReviewAccessRequest(ctx, r.ID, rv, s.notify)
	if err != nil {
		return Request{}, err
	}
	s.record(r, Event{Type: ev, Actor: rv.Reviewer, Reason: reason, At: rv.At})
	return r, nil
}

// Cancel withdraws a pending request; only its requester may.
func (s *Service) Cancel(ctx context.Context, pol Policy, who Party, id, reason string) (Request, error) {
	r, err := s.Get(ctx, pol, who, id)
	if err != nil {
		return Request{}, err
	}
	if !who.Is(r.Requester.Person) {
		return Request{}, &DeniedError{Reasons: []string{"only the requester may cancel a request"}}
	}
	return s.end(ctx, r, StatePending, StateCancelled, Event{Type: EventCancelled, Actor: who.Person(), Reason: reason, At: s.now()})
}

// Revoke ends an approved request's grant now; its requester may, and
// anyone the policy lets revoke it. Tokens issued under it stop being
// active.
func (s *Service) Revoke(ctx context.Context, pol Policy, who Party, id, reason string) (Request, error) {
	r, err := s.Get(ctx, pol, who, id)
	if err != nil {
		return Request{}, err
	}
	if !who.Is(r.Requester.Person) {
		if _, err := s.permit(ctx, pol, who, r, VerdictRevoke); err != nil {
			return Request{}, err
		}
	}
	return s.end(ctx, r, StateApproved, StateRevoked, Event{Type: EventRevoked, Actor: who.Person(), Reason: reason, At: s.now()})
}

func (s *Service) end(ctx context.Context, r Request, from, to State, e Event) (Request, error) {
	if err := checkOptionalReason(e.Reason); err != nil {
		return Request{}, err
	}
	r, err := s.store.EndAccessRequest(ctx, r.ID, from, to, e, s.notify)
	if err != nil {
		return Request{}, err
	}
	s.record(r, e)
	return r, nil
}

// authorize reads request id and asks the policy whether who may give
// verdict on it; it returns the request and who the reviewer is as a
// person. A request who may not even read is ErrNotFound.
func (s *Service) authorize(ctx context.Context, pol Policy, who Party, id, verdict string) (Request, string, error) {
	r, err := s.Get(ctx, pol, who, id)
	if err != nil {
		return Request{}, "", err
	}
	person, err := s.permit(ctx, pol, who, r, verdict)
	if err != nil {
		return Request{}, "", err
	}
	return r, person, nil
}

// permit asks the policy whether who may give verdict on r, already read,
// and returns who the reviewer is as a person.
func (s *Service) permit(ctx context.Context, pol Policy, who Party, r Request, verdict string) (string, error) {
	d, err := pol.AccessReview(ctx, reviewInput(r, who, verdict, s.now()))
	if err != nil {
		return "", err
	}
	if !d.Allow {
		return "", &DeniedError{Reasons: d.Reasons}
	}
	return d.Person, nil
}

// Grants are identity's active grants, each marked with whether it binds
// who's token: the policy grants the identity only through one that does.
func (s *Service) Grants(ctx context.Context, who Party, identity string) ([]Grant, error) {
	gs, err := s.store.ActiveGrants(ctx, identity, s.now())
	if err != nil {
		return nil, err
	}
	MarkBinds(gs, who)
	return gs, nil
}

// MarkBinds sets each grant's Binds: whether its binding is who's token's.
func MarkBinds(gs []Grant, who Party) {
	for i, g := range gs {
		b, err := BindingFor(g.Binding.Kind, who)
		gs[i].Binds = err == nil && b.Key() == g.Binding.Key()
	}
}

// GrantActive reports whether the grant of request id is still active.
func (s *Service) GrantActive(ctx context.Context, id string) (bool, error) {
	return s.store.GrantActive(ctx, id, s.now())
}

// ExpireDue moves every lapsed request and ended grant to expired, in
// batches, and reports how many.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	const batch = 100
	n := 0
	for {
		now := s.now()
		rs, err := s.store.ExpireAccessRequests(ctx, now, batch, s.notify)
		if err != nil {
			return n, err
		}
		for _, r := range rs {
			s.record(r, Event{Type: EventExpired, Actor: Person{}, At: now})
		}
		n += len(rs)
		if len(rs) < batch {
			return n, nil
		}
	}
}

func checkReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("%w: reason is required", ErrInvalid)
	}
	return checkOptionalReason(reason)
}

func checkOptionalReason(reason string) error {
	if len(reason) > MaxReasonLen {
		return fmt.Errorf("%w: reason is longer than %d bytes", ErrInvalid, MaxReasonLen)
	}
	return nil
}

// nonNil is ss, or an empty list for none: a grant's scopes are a list,
// never absent.
func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// newID is a request id: 128 random bits, lower-case base32.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
