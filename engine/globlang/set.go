package globlang

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxExplored bounds the pairs of states a question explores: past it the
// question is not decided (ErrTooComplex), which a caller must treat as the
// unsafe answer.
const maxExplored = 200_000

// ErrTooComplex is a question whose automata grew past maxExplored states.
var ErrTooComplex = errors.New("the patterns are too complex to compare")

// Set is a union of patterns: it matches a string when any of them does.
type Set struct {
	patterns []string
	a        *automaton
}

// Compile compiles patterns into a Set; no pattern matches nothing.
func Compile(patterns ...string) (*Set, error) {
	a := &automaton{}
	a.start = a.add()
	accept := a.add()
	a.states[accept].accept = true
	for _, p := range patterns {
		f, err := compilePattern(a, p)
		if err != nil {
			return nil, err
		}
		a.states[a.start].eps = append(a.states[a.start].eps, f.in)
		a.states[f.out].eps = append(a.states[f.out].eps, accept)
	}
	return &Set{patterns: slices.Clone(patterns), a: a}, nil
}

// MustCompile is Compile for patterns known to be valid (tests, examples).
func MustCompile(patterns ...string) *Set {
	s, err := Compile(patterns...)
	if err != nil {
		panic(err)
	}
	return s
}

// String is the patterns, comma-separated.
func (s *Set) String() string { return strings.Join(s.patterns, ", ") }

// Match reports whether some pattern of s matches v.
func (s *Set) Match(v string) bool {
	cur := s.a.closure([]int{s.a.start})
	for _, r := range v {
		cur = s.a.move(cur, r)
		if len(cur) == 0 {
			return false
		}
	}
	return s.a.accepts(cur)
}

// Includes reports whether every string sub matches, super matches too.
// When not, witness is a shortest string sub matches and super does not.
// Undecided (ErrTooComplex), ok is false: not included.
func Includes(sub, super *Set) (ok bool, witness string, err error) {
	found, w, err := search(sub, super, func(a, b bool) bool { return a && !b })
	if found {
		w = readableWitness(w, func(s string) bool { return sub.Match(s) && !super.Match(s) })
	}
	return !found && err == nil, w, err
}

// Overlap reports whether some string is matched by both a and b, and a
// shortest one. Undecided (ErrTooComplex), ok is true: they may overlap.
func Overlap(a, b *Set) (ok bool, witness string, err error) {
	found, w, err := search(a, b, func(x, y bool) bool { return x && y })
	if found {
		w = readableWitness(w, func(s string) bool { return a.Match(s) && b.Match(s) })
	}
	return found || err != nil, w, err
}

// readableWitness fills the empty places of a shortest witness (an empty
// segment "//", an empty field "::", an empty end) with an "x" wherever the
// witness stays one: my-group/x/y reads better than my-group//.
func readableWitness(w string, valid func(string) bool) string {
	rs := []rune(w)
	for i := 0; i <= len(rs); i++ {
		if i > 0 && isWord(rs[i-1]) || i < len(rs) && isWord(rs[i]) {
			continue
		}
		try := slices.Concat(rs[:i], []rune{'x'}, rs[i:])
		if valid(string(try)) {
			rs = try
			i++
		}
	}
	return string(rs)
}

func isWord(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// pair is a state of the product of two determinized automata.
type pair struct {
	x, y   []int
	parent int  // index in the explored list; -1 for the start
	via    rune // the character read from the parent
}

// search explores the product of x and y breadth first, reading one
// character of each class of the alphabet, until want holds of the two
// sides' acceptance; it returns the characters read to get there.
func search(x, y *Set, want func(xAccepts, yAccepts bool) bool) (bool, string, error) {
	alphabet := alphabet(append(x.a.classes(), y.a.classes()...))
	explored := []pair{{x: x.a.closure([]int{x.a.start}), y: y.a.closure([]int{y.a.start}), parent: -1}}
	seen := map[string]bool{key(explored[0].x, explored[0].y): true}
	for i := 0; i < len(explored); i++ {
		p := explored[i]
		if want(x.a.accepts(p.x), y.a.accepts(p.y)) {
			return true, witness(explored, i), nil
		}
		if len(p.x) == 0 {
			continue // x matches nothing from here
		}
		for _, r := range alphabet {
			nx, ny := x.a.move(p.x, r), y.a.move(p.y, r)
			k := key(nx, ny)
			if seen[k] {
				continue
			}
			if len(explored) >= maxExplored {
				return false, "", fmt.Errorf("%w (%s; %s)", ErrTooComplex, x, y)
			}
			seen[k] = true
			explored = append(explored, pair{x: nx, y: ny, parent: i, via: r})
		}
	}
	return false, "", nil
}

func key(x, y []int) string {
	var b strings.Builder
	for _, s := range x {
		fmt.Fprintf(&b, "%d,", s)
	}
	b.WriteByte('|')
	for _, s := range y {
		fmt.Fprintf(&b, "%d,", s)
	}
	return b.String()
}

func witness(explored []pair, i int) string {
	var rs []rune
	for ; explored[i].parent >= 0; i = explored[i].parent {
		rs = append(rs, explored[i].via)
	}
	slices.Reverse(rs)
	return string(rs)
}

// readable are the characters a witness shows for a class of characters
// that holds one of them, in order of preference.
const readable = "xyzabcdefghijklmnopqrstuvw0123456789-_."

// alphabet is one character of each class of characters that classes do
// not tell apart: the intervals between the characters where some class
// starts or stops holding. Surrogates, which no string of a token holds,
// are left out.
func alphabet(classes []class) []rune {
	bounds := []rune{0, 0xD800, 0xE000, utf8.MaxRune + 1}
	for _, c := range classes {
		bounds = append(bounds, c.bounds()...)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var out []rune
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1] // [lo, hi)
		if lo >= 0xD800 && lo < 0xE000 || lo > utf8.MaxRune {
			continue
		}
		rep := lo
		if j := strings.IndexFunc(readable, func(r rune) bool { return lo <= r && r < hi }); j >= 0 {
			rep = rune(readable[j])
		}
		out = append(out, rep)
	}
	// Readable characters first: a shortest witness then uses them.
	slices.SortStableFunc(out, func(a, b rune) int {
		return boolInt(!strings.ContainsRune(readable, a)) - boolInt(!strings.ContainsRune(readable, b))
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
