package policydiff

import (
	"fmt"
	"reflect"

	"github.com/trustgate/trustgate/engine/policy"
)

// matchers compares one identity's federations (or approvers) in base and
// head.
type matchers struct {
	kind       string // "federation" or "approver"
	base, head []policy.Federation
	// samePlatform says whether a provider reads refs alike in base and
	// head.
	samePlatform func(provider string) bool
}

// coveredBy is the base matcher that accepts every token h accepts; -1
// when none does, with an example from the first base matcher of h's
// provider.
func (m matchers) coveredBy(h policy.Federation) (int, coverage) {
	var first coverage
	for i, b := range m.base {
		c := covers(b, h, m.samePlatform(h.Provider))
		if c.holds {
			return i, c
		}
		if b.Provider == h.Provider && first.example == "" && first.why == "" {
			first = c
		}
	}
	if first.example == "" {
		first.example = "tokens of provider " + h.Provider + " that meet " + describe(h)
	}
	return -1, first
}

// keptBy is the head matcher that accepts every token b accepts; -1 when
// none does.
func (m matchers) keptBy(b policy.Federation) int {
	for i, h := range m.head {
		if covers(h, b, m.samePlatform(b.Provider)).holds {
			return i
		}
	}
	return -1
}

// lost are the base matchers no head matcher keeps whole.
func (m matchers) lost() []int {
	var out []int
	for i, b := range m.base {
		if m.keptBy(b) < 0 {
			out = append(out, i)
		}
	}
	return out
}

// changes pairs base and head matchers (equal ones first, then of one
// provider in order) and reports the rest as added, removed or changed.
func (m matchers) changes() []Change {
	baseLeft, headLeft := m.unequal()
	var out []Change
	for _, hi := range headLeft {
		h := m.head[hi]
		bi := -1
		for j, cand := range baseLeft {
			if m.base[cand].Provider == h.Provider {
				bi = cand
				baseLeft = append(baseLeft[:j], baseLeft[j+1:]...)
				break
			}
		}
		if bi < 0 {
			out = append(out, m.added(hi))
			continue
		}
		out = append(out, m.changed(bi, hi))
	}
	for _, bi := range baseLeft {
		out = append(out, m.removed(bi))
	}
	return out
}

// unequal are the indexes of base and head matchers left when each equal
// pair is set aside.
func (m matchers) unequal() (base, head []int) {
	used := make([]bool, len(m.base))
	for hi, h := range m.head {
		matched := false
		for bi, b := range m.base {
			if !used[bi] && reflect.DeepEqual(b, h) {
				used[bi], matched = true, true
				break
			}
		}
		if !matched {
			head = append(head, hi)
		}
	}
	for bi := range m.base {
		if !used[bi] {
			base = append(base, bi)
		}
	}
	return base, head
}

func (m matchers) name(i int, f policy.Federation) string {
	return fmt.Sprintf("%s %d (provider %s)", m.kind, i, f.Provider)
}

func (m matchers) added(hi int) Change {
	h := m.head[hi]
	c := Change{What: m.name(hi, h), Kind: Added, After: describe(h)}
	m.judgeHead(&c, h)
	return c
}

func (m matchers) removed(bi int) Change {
	b := m.base[bi]
	c := Change{What: m.name(bi, b), Kind: Removed, Before: describe(b)}
	m.judgeBase(&c, b)
	return c
}

func (m matchers) changed(bi, hi int) Change {
	b, h := m.base[bi], m.head[hi]
	c := Change{What: m.name(hi, h), Kind: Changed, Before: describe(b), After: describe(h), Conditions: conditionChanges(b, h)}
	if bi != hi {
		c.What = fmt.Sprintf("%s (was %d)", c.What, bi)
	}
	m.judgeHead(&c, h)
	m.judgeBase(&c, b)
	return c
}

// judgeHead makes c a widening when no base matcher covers h.
func (m matchers) judgeHead(c *Change, h policy.Federation) {
	i, cov := m.coveredBy(h)
	if i >= 0 {
		c.Why = join(c.Why, fmt.Sprintf("no new access: base %s %d accepts every token it accepts", m.kind, i))
		return
	}
	c.Effect |= Widens
	c.Example = cov.example
	c.Why = join(c.Why, "no base "+m.kind+" accepts every token it accepts")
	if cov.why != "" {
		c.Why = join(c.Why, cov.why)
	}
}

// judgeBase makes c a narrowing when no head matcher keeps b.
func (m matchers) judgeBase(c *Change, b policy.Federation) {
	if m.keptBy(b) < 0 {
		c.Effect |= Narrows
	}
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
