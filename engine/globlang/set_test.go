package globlang

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gobwas/glob"
)

func TestIncludes(t *testing.T) {
	tests := []struct {
		name     string
		sub, sup []string
		want     bool
	}{
		{"A pattern includes itself.", []string{"a/*"}, []string{"a/*"}, true},
		{"One segment is within any number of segments.", []string{"a/*"}, []string{"a/**"}, true},
		{"Any number of segments is not within one.", []string{"a/**"}, []string{"a/*"}, false},
		{"A prefix within a segment is within the segment's star.", []string{"a/b*"}, []string{"a/*"}, true},
		{"A segment's star is not within a prefix.", []string{"a/*"}, []string{"a/b*"}, false},
		{"A star does not cross the separator.", []string{"a*"}, []string{"a/*"}, false},
		{"An escaped star is a star, within the star.", []string{`a\*`}, []string{"a*"}, true},
		{"A star is not within an escaped star.", []string{"a*"}, []string{`a\*`}, false},
		{"An escaped star matches only itself.", []string{`a\*`}, []string{"a?"}, true},
		{"A question mark does not match the separator.", []string{"a/b"}, []string{"a?b"}, false},
		{"A question mark is within a star.", []string{"a?"}, []string{"a*"}, true},
		{"An empty star is not within a question mark.", []string{"a*"}, []string{"a?"}, false},
		{"A class holds the separator; a star does not.", []string{"a[!x]b"}, []string{"a*b"}, false},
		{"A range is within a set of its letters.", []string{"[a-c]"}, []string{"[abc]"}, true},
		{"A range is not within a smaller set.", []string{"[a-c]"}, []string{"[ab]"}, false},
		{"Alternatives within a union.", []string{"{main,dev}"}, []string{"main", "dev"}, true},
		{"A union within alternatives.", []string{"main", "dev"}, []string{"{main,dev,x}"}, true},
		{"A list entry added widens.", []string{"main", "dev"}, []string{"main"}, false},
		{"A union of stars covers a double star only in part.", []string{"**"}, []string{"*", "*/*"}, false},
		{"Everything is within a double star.", []string{"a/{b,c}/*/[x-z]?"}, []string{"**"}, true},
		{"A star then a slash is within double star.", []string{"*/"}, []string{"**/"}, true},
		{"A negated class is not within the class it negates.", []string{"[!a]"}, []string{"[a]"}, false},
		{"A negated class and its class make everything of one character.", []string{"?"}, []string{"[!a]", "a"}, true},
		{"Non-ASCII characters are characters.", []string{"é*"}, []string{"?*"}, true},
		{"An empty alternative matches the empty string.", []string{"a{,b}"}, []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, w, err := Includes(MustCompile(tt.sub...), MustCompile(tt.sup...))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Fatalf("Includes(%q, %q) = %v (witness %q), want %v", tt.sub, tt.sup, ok, w, tt.want)
			}
			if !ok && (!matchAny(t, tt.sub, w) || matchAny(t, tt.sup, w)) {
				t.Fatalf("witness %q is not matched by %q and refused by %q", w, tt.sub, tt.sup)
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want bool
	}{
		{"Two projects of one group do not overlap.", []string{"g/a"}, []string{"g/b"}, false},
		{"A group's star overlaps its project.", []string{"g/*"}, []string{"g/b"}, true},
		{"Branches and tags do not overlap.", []string{"branch:*"}, []string{"tag:*"}, false},
		{"Prefixes that disagree do not overlap.", []string{"a*"}, []string{"b*"}, false},
		{"A prefix and a suffix overlap.", []string{"a*"}, []string{"*b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, w, err := Overlap(MustCompile(tt.a...), MustCompile(tt.b...))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Fatalf("Overlap(%q, %q) = %v (witness %q), want %v", tt.a, tt.b, ok, w, tt.want)
			}
			if ok && (!matchAny(t, tt.a, w) || !matchAny(t, tt.b, w)) {
				t.Fatalf("witness %q is not matched by both", w)
			}
		})
	}
}

// The automaton matches exactly what glob.match matches: random patterns
// over the syntax, random strings over their characters.
func TestMatchAgreesWithTheGlobLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // seeded on purpose: the cases are reproducible, nothing is secret
	pieces := []string{"a", "b", "/", "*", "**", "?", `\*`, `\?`, `\\`, "[ab]", "[!a]", "[a-c]", "{a,b/}", "{,a*}", "é", ":"}
	chars := []string{"a", "b", "c", "/", "*", "?", `\`, "é", ":", "x"}
	const patterns, stringsPer = 3000, 40
	compiled := 0
	for range patterns {
		var p strings.Builder
		for range 1 + rng.IntN(5) {
			p.WriteString(pieces[rng.IntN(len(pieces))])
		}
		g, err := glob.Compile(p.String(), Separator)
		if err != nil {
			continue
		}
		compiled++
		s := MustCompile(p.String())
		for range stringsPer {
			var v strings.Builder
			for range rng.IntN(7) {
				v.WriteString(chars[rng.IntN(len(chars))])
			}
			if got, want := s.Match(v.String()), g.Match(v.String()); got != want {
				t.Fatalf("pattern %q on %q: automaton says %v, glob.match says %v", p.String(), v.String(), got, want)
			}
		}
	}
	if compiled < patterns/2 {
		t.Fatalf("only %d of %d random patterns compiled: the test compares too few", compiled, patterns)
	}
}

// A question whose automaton grows past maxExplored states is not
// decided, and its answer is the unsafe one: not included, may overlap.
// "a" then 17 characters, anywhere, determinizes into 2^18 states, more
// than the bound.
func TestAQuestionTooLargeToDecideIsErrTooComplexWithTheUnsafeAnswer(t *testing.T) {
	big := MustCompile("**a" + strings.Repeat("?", 17))
	if ok, _, err := Includes(big, MustCompile("**")); !errors.Is(err, ErrTooComplex) || ok {
		t.Errorf("Includes(%s, **) = %v, %v; want false, ErrTooComplex", big, ok, err)
	}
	if ok, _, err := Overlap(big, MustCompile("b")); !errors.Is(err, ErrTooComplex) || !ok {
		t.Errorf("Overlap(%s, b) = %v, %v; want true, ErrTooComplex", big, ok, err)
	}
}

func matchAny(t *testing.T, patterns []string, v string) bool {
	t.Helper()
	for _, p := range patterns {
		if glob.MustCompile(p, Separator).Match(v) {
			return true
		}
	}
	return false
}
