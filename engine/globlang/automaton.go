package globlang

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gobwas/glob"
	"github.com/gobwas/glob/syntax"
)

// Separator is the one separator of every pattern: glob.match(p, ["/"], v).
const Separator = '/'

// class is the set of characters one step of a pattern reads.
type class struct {
	kind classKind
	r    rune   // literal
	lo   rune   // range
	hi   rune   // range
	set  []rune // set
	not  bool   // range, set: the complement
}

type classKind int

const (
	literal classKind = iota
	notSeparator
	anyChar
	runeRange
	runeSet
)

func (c class) has(r rune) bool {
	switch c.kind {
	case literal:
		return r == c.r
	case notSeparator:
		return r != Separator
	case anyChar:
		return true
	case runeRange:
		return (c.lo <= r && r <= c.hi) != c.not
	default:
		return slices.Contains(c.set, r) != c.not
	}
}

// bounds are the characters where c may start or stop holding, for
// partitioning the alphabet into classes no pattern tells apart.
func (c class) bounds() []rune {
	switch c.kind {
	case literal:
		return []rune{c.r, c.r + 1}
	case notSeparator:
		return []rune{Separator, Separator + 1}
	case runeRange:
		return []rune{c.lo, c.hi + 1}
	case runeSet:
		out := make([]rune, 0, 2*len(c.set))
		for _, r := range c.set {
			out = append(out, r, r+1)
		}
		return out
	}
	return nil
}

type edge struct {
	on class
	to int
}

type state struct {
	eps    []int
	edges  []edge
	accept bool
}

// automaton is a nondeterministic automaton with empty moves.
type automaton struct {
	states []state
	start  int
}

func (a *automaton) add() int {
	a.states = append(a.states, state{})
	return len(a.states) - 1
}

// fragment is a part of an automaton with one way in and one way out.
type fragment struct{ in, out int }

// errSyntax is a pattern token the builder does not expect; patterns are
// compiled by glob first, so it means the two disagree.
var errSyntax = errors.New("unexpected pattern syntax")

// builder turns a pattern's tokens into fragments of a.
type builder struct {
	a   *automaton
	lex *syntax.Lexer
}

// compilePattern adds p to a as a fragment. p must compile as glob.match
// compiles it.
func compilePattern(a *automaton, p string) (fragment, error) {
	if _, err := glob.Compile(p, Separator); err != nil {
		return fragment{}, fmt.Errorf("invalid pattern %q: %w", p, err)
	}
	b := &builder{a: a, lex: syntax.NewLexer(p)}
	f, end, err := b.sequence()
	if err == nil && end.Type != syntax.EOF {
		err = errSyntax
	}
	if err != nil {
		return fragment{}, fmt.Errorf("pattern %q: %w", p, err)
	}
	return f, nil
}

// sequence reads terms up to the end, a `,` or a `}` (returned).
func (b *builder) sequence() (fragment, syntax.Token, error) {
	in := b.a.add()
	f := fragment{in: in, out: in}
	for {
		tok := b.lex.Next()
		var next fragment
		var err error
		switch tok.Type {
		case syntax.EOF, syntax.TermSeparator, syntax.TermsClose:
			return f, tok, nil
		case syntax.Text:
			next = b.text(tok.Data)
		case syntax.Any:
			next = b.star(class{kind: notSeparator})
		case syntax.Super:
			next = b.star(class{kind: anyChar})
		case syntax.Single:
			next = b.step(class{kind: notSeparator})
		case syntax.RangeOpen:
			next, err = b.charClass()
		case syntax.TermsOpen:
			next, err = b.alternatives()
		default:
			err = errSyntax
		}
		if err != nil {
			return f, tok, err
		}
		b.a.states[f.out].eps = append(b.a.states[f.out].eps, next.in)
		f.out = next.out
	}
}

func (b *builder) step(c class) fragment {
	in, out := b.a.add(), b.a.add()
	b.a.states[in].edges = append(b.a.states[in].edges, edge{on: c, to: out})
	return fragment{in: in, out: out}
}

func (b *builder) text(s string) fragment {
	in := b.a.add()
	f := fragment{in: in, out: in}
	for _, r := range s {
		next := b.a.add()
		b.a.states[f.out].edges = append(b.a.states[f.out].edges, edge{on: class{kind: literal, r: r}, to: next})
		f.out = next
	}
	return f
}

func (b *builder) star(c class) fragment {
	s := b.a.add()
	b.a.states[s].edges = append(b.a.states[s].edges, edge{on: c, to: s})
	return fragment{in: s, out: s}
}

// charClass reads a class after its `[`: a range or a set, maybe negated.
func (b *builder) charClass() (fragment, error) {
	c := class{kind: runeRange}
	for {
		tok := b.lex.Next()
		switch tok.Type {
		case syntax.Not:
			c.not = true
		case syntax.RangeLo:
			c.lo = []rune(tok.Data)[0]
		case syntax.RangeHi:
			c.hi = []rune(tok.Data)[0]
		case syntax.RangeBetween:
		case syntax.Text:
			c.kind, c.set = runeSet, []rune(tok.Data)
		case syntax.RangeClose:
			return b.step(c), nil
		default:
			return fragment{}, errSyntax
		}
	}
}

// alternatives reads a group after its `{`.
func (b *builder) alternatives() (fragment, error) {
	in, out := b.a.add(), b.a.add()
	for {
		f, end, err := b.sequence()
		if err != nil {
			return fragment{}, err
		}
		b.a.states[in].eps = append(b.a.states[in].eps, f.in)
		b.a.states[f.out].eps = append(b.a.states[f.out].eps, out)
		switch end.Type {
		case syntax.TermsClose:
			return fragment{in: in, out: out}, nil
		case syntax.TermSeparator:
		default:
			return fragment{}, errSyntax
		}
	}
}

// closure adds to set every state reachable from it by empty moves, and
// returns it sorted.
func (a *automaton) closure(set []int) []int {
	seen := make(map[int]bool, len(set))
	stack := slices.Clone(set)
	out := make([]int, 0, len(set))
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
		stack = append(stack, a.states[s].eps...)
	}
	slices.Sort(out)
	return out
}

// move is the closure of the states set reaches reading r.
func (a *automaton) move(set []int, r rune) []int {
	var next []int
	for _, s := range set {
		for _, e := range a.states[s].edges {
			if e.on.has(r) && !slices.Contains(next, e.to) {
				next = append(next, e.to)
			}
		}
	}
	return a.closure(next)
}

func (a *automaton) accepts(set []int) bool {
	return slices.ContainsFunc(set, func(s int) bool { return a.states[s].accept })
}

func (a *automaton) classes() []class {
	var out []class
	for _, s := range a.states {
		for _, e := range s.edges {
			out = append(out, e.on)
		}
	}
	return out
}
