package replay

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

// Report is what a replay found: the counts, then the changed decisions
// grouped by identity and change.
type Report struct {
	// Read is how many decisions were replayed (a history row counts for
	// the decisions it stands for); Distinct how many inputs were
	// evaluated.
	Read     int64 `json:"read"`
	Distinct int64 `json:"distinct"`
	// Skipped records were never evaluated (invalid tokens, refusals
	// before the policy) or are a shadow policy's.
	Skipped      int64 `json:"skipped"`
	Unchanged    int64 `json:"unchanged"`
	NewlyAllowed int64 `json:"newly_allowed"`
	NewlyDenied  int64 `json:"newly_denied"`
	ChangedGrant int64 `json:"changed_grant"`
	// ChangedFields counts changed grants by what changed: identity,
	// roles, scopes, audiences, ttl.
	ChangedFields map[string]int64 `json:"changed_fields"`
	Errors        int64            `json:"errors"`
	Oldest        *time.Time       `json:"oldest,omitempty"`
	Newest        *time.Time       `json:"newest,omitempty"`
	// NewAccess is whether head grants anything base did not: a decision
	// newly allowed, or a grant with another identity, more roles, scopes
	// or audiences, or a longer ttl.
	NewAccess bool     `json:"new_access"`
	Groups    []*Group `json:"groups"`

	index map[groupKey]*Group
}

// Group is the decisions that changed the same way for one identity.
type Group struct {
	Identity string `json:"identity"`
	Change   Change `json:"change"`
	// Detail says how a grant changed ("scopes [read] → [read write]").
	Detail  string  `json:"detail,omitempty"`
	Widens  bool    `json:"widens"`
	Count   int64   `json:"count"`
	Example Example `json:"example"`
}

// Example is the first decision of a group.
type Example struct {
	DecisionID string          `json:"decision_id"`
	At         time.Time       `json:"at"`
	Input      json.RawMessage `json:"input"`
	// Erased names the fields the decision log masked: they stay absent.
	Erased []string `json:"erased,omitempty"`
	// Reasons are the denying policy's (head for newly denied, base for
	// newly allowed); Error the failed evaluation's.
	Reasons []string `json:"reasons,omitempty"`
	Error   string   `json:"error,omitempty"`
}

type groupKey struct {
	identity, detail string
	change           Change
}

func newReport() *Report {
	return &Report{ChangedFields: map[string]int64{}, Groups: []*Group{}, index: map[groupKey]*Group{}}
}

// add counts one replayed record.
func (r *Report) add(rec Record, c comparison) {
	n := rec.Count
	r.Read += n
	r.Distinct++
	r.seen(rec.At)
	switch c.change {
	case Unchanged:
		r.Unchanged += n
		return
	case NewlyAllowed:
		r.NewlyAllowed += n
	case NewlyDenied:
		r.NewlyDenied += n
	case ChangedGrant:
		r.ChangedGrant += n
		for _, f := range c.fields {
			r.ChangedFields[f] += n
		}
	case EvaluationErr:
		r.Errors += n
	}
	r.NewAccess = r.NewAccess || c.widens
	r.group(rec, c)
}

func (r *Report) seen(at time.Time) {
	if r.Oldest == nil || at.Before(*r.Oldest) {
		r.Oldest = &at
	}
	if r.Newest == nil || at.After(*r.Newest) {
		r.Newest = &at
	}
}

// opens reports whether c is a change no group holds yet: its record is
// the example of a new group.
func (r *Report) opens(rec Record, c comparison) bool {
	if c.change == Unchanged {
		return false
	}
	_, ok := r.index[groupOf(rec, c)]
	return !ok
}

func groupOf(rec Record, c comparison) groupKey {
	k := groupKey{identity: identityOf(rec, c), change: c.change}
	if c.change == ChangedGrant {
		k.detail = policy.DescribeChanges(*c.base.d, *c.head.d, c.fields)
	}
	return k
}

func (r *Report) group(rec Record, c comparison) {
	k := groupOf(rec, c)
	g, ok := r.index[k]
	if !ok {
		g = &Group{Identity: k.identity, Change: k.change, Detail: k.detail, Widens: c.widens, Example: example(rec, c)}
		r.index[k] = g
		r.Groups = append(r.Groups, g)
	}
	g.Count += rec.Count
}

// identityOf names the identity a changed decision is about: the one
// allowed (by head when newly allowed), else the one asked for.
func identityOf(rec Record, c comparison) string {
	switch {
	case c.head.allowed() && c.change != NewlyDenied:
		return c.head.d.Identity
	case c.base.allowed():
		return c.base.d.Identity
	case rec.Eval.Request.Identity != "":
		return rec.Eval.Request.Identity
	}
	return "(none named)"
}

func example(rec Record, c comparison) Example {
	ex := Example{DecisionID: rec.ID, At: rec.At, Input: rec.Input, Erased: rec.Erased}
	switch c.change {
	case NewlyDenied:
		if c.head.d != nil {
			ex.Reasons = c.head.d.Reasons
		}
	case NewlyAllowed:
		if c.base.d != nil {
			ex.Reasons = c.base.d.Reasons
		}
	case EvaluationErr:
		ex.Error = c.head.err.Error()
	}
	return ex
}

// sorted orders the groups: new access first, then the largest.
func (r *Report) sorted() []*Group {
	gs := slices.Clone(r.Groups)
	slices.SortStableFunc(gs, func(a, b *Group) int {
		if a.Widens != b.Widens {
			if a.Widens {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Identity, b.Identity), cmp.Compare(a.Change, b.Change), cmp.Compare(a.Detail, b.Detail))
	})
	return gs
}
