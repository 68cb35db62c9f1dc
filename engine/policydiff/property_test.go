package policydiff_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/policydiff"
)

// The diff is sound: when it says a change opens no access, no claim set
// is granted an identity by head that base refused it, whether the caller
// names the identity or none. Random policies and random changes of them
// are compared, and random claim sets, many built to meet their patterns,
// are evaluated by the real policy (the library and the bundles, loaded
// as serve loads them). TRUSTGATE_DIFF_RUNS sets how many policy pairs
// (default 100).
func TestNoNewAccessIsNeverWrong(t *testing.T) {
	runs := 100
	if s := os.Getenv("TRUSTGATE_DIFF_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		runs = n
	}
	if testing.Short() {
		runs = 20
	}
	rng := rand.New(rand.NewPCG(17, uint64(time.Now().UnixNano()))) //nolint:gosec // random cases, nothing secret; the failing policies are printed
	var quiet, evaluations, granted int
	for run := range runs {
		g := &gen{rng: rng}
		baseData := g.policy()
		headData := clone(t, baseData)
		g.change(headData)
		basePol, base := load(t, writeBundle(t, baseData, nil))
		headPol, head := load(t, writeBundle(t, headData, nil))
		report := policydiff.Compare(base, head)
		if report.NewAccess {
			continue
		}
		quiet++
		for range 60 {
			claims := g.claims(baseData, headData)
			for _, name := range []string{"", "i0", "i1"} {
				evaluations++
				b := decide(t, basePol, claims, name)
				h := decide(t, headPol, claims, name)
				if h.Allow {
					granted++
				}
				if h.Allow && (!b.Allow || b.Identity != h.Identity) {
					var text strings.Builder
					_ = report.WriteText(&text)
					t.Fatalf("run %d: the diff said no new access, but head grants %s to claims %s (identity named: %q) and base %s\nbase: %s\nhead: %s\ndiff:\n%s",
						run, h.Identity, jsonOf(claims), name, grantText(b), jsonOf(baseData), jsonOf(headData), text.String())
				}
			}
		}
	}
	t.Logf("%d policy pairs, %d judged no new access, %d evaluations of base and head, %d of them granted by head", runs, quiet, evaluations, granted)
	if quiet < runs/5 || granted < evaluations/20 {
		t.Fatalf("%d of %d changes judged no new access, %d of %d evaluations granted: the test checks too little", quiet, runs, granted, evaluations)
	}
}

func decide(t *testing.T, p *policy.Policy, claims map[string]any, identity string) policy.Decision {
	t.Helper()
	prov, ok := p.ProviderByName("gl")
	if !ok {
		t.Fatal("no provider gl")
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d, err := p.Evaluate(context.Background(), engine.Input(p, prov, claims, engine.Request{Identity: identity}, now))
	if err != nil {
		t.Fatalf("evaluation: %v", err)
	}
	return d
}

func grantText(d policy.Decision) string {
	if d.Allow {
		return "grants " + d.Identity
	}
	return "refuses: " + strings.Join(d.Reasons, "; ")
}

func jsonOf(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// gen makes random policies, changes and claim sets over a small alphabet,
// so that patterns and values often meet.
type gen struct{ rng *rand.Rand }

func (g *gen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

// pattern is a random glob: text, `*`, `**`, `?`, classes, alternatives
// and escapes, and now and then a number's JSON text.
func (g *gen) pattern() string {
	switch {
	case g.chance(0.08):
		return g.pick("1", "true")
	case g.chance(0.15):
		return g.pick("?", "*", "**", "t*")
	}
	var b strings.Builder
	for range 1 + g.rng.IntN(4) {
		b.WriteString(g.pick("a", "b", "/", "*", "**", "?", "[ab]", "[!a]", "{a,b/}", `\*`, "a/", "b/"))
	}
	return b.String()
}

// patterns is a claims entry: one pattern, or a list of them.
func (g *gen) patterns() any {
	if g.chance(0.5) {
		return g.pattern()
	}
	list := []any{g.pattern()}
	if g.chance(0.5) {
		list = append(list, g.pattern())
	}
	return list
}

func (g *gen) refs() []any {
	list := []any{g.pick("branch:", "tag:") + g.pattern()}
	if g.chance(0.4) {
		list = append(list, g.pick("branch:", "tag:")+g.pattern())
	}
	return list
}

func (g *gen) federation() map[string]any {
	f := map[string]any{"provider": "gl"}
	claims := map[string]any{}
	for _, c := range []string{"p", "q"} {
		if g.chance(0.5) {
			claims[c] = g.patterns()
		}
	}
	if g.chance(0.5) || len(claims) == 0 {
		f["subject"] = g.pattern()
	}
	if len(claims) > 0 {
		f["claims"] = claims
	}
	if g.chance(0.4) {
		f["refs"] = g.refs()
	}
	if g.chance(0.3) {
		f["environments"] = []any{g.pattern()}
	}
	return f
}

func (g *gen) identity() map[string]any {
	feds := []any{g.federation()}
	if g.chance(0.4) {
		feds = append(feds, g.federation())
	}
	return map[string]any{"scopes": []any{"read"}, "federations": feds}
}

func (g *gen) policy() map[string]any {
	ids := map[string]any{"i0": g.identity()}
	if g.chance(0.6) {
		ids["i1"] = g.identity()
	}
	return map[string]any{"trustgate": map[string]any{
		"providers":  map[string]any{"gl": map[string]any{"issuer": "https://gitlab.com", "platform": "gitlab"}},
		"identities": ids,
	}}
}

// change changes one thing of d, often in the narrowing direction, so
// that many changes open nothing.
func (g *gen) change(d map[string]any) {
	ids := at(d, "trustgate", "identities")
	names := sortedNames(ids)
	id := ids[names[g.rng.IntN(len(names))]].(map[string]any)
	feds := id["federations"].([]any)
	f := feds[g.rng.IntN(len(feds))].(map[string]any)
	switch g.rng.IntN(12) {
	case 0: // a condition added
		f["refs"] = g.refs()
	case 1: // a pattern replaced
		f["subject"] = g.pattern()
	case 2: // a claim replaced or added
		claims, _ := f["claims"].(map[string]any)
		if claims == nil {
			claims = map[string]any{}
			f["claims"] = claims
		}
		claims[g.pick("p", "q")] = g.patterns()
	case 3: // a claim dropped, the subject kept
		if claims, ok := f["claims"].(map[string]any); ok && f["subject"] != nil {
			delete(claims, g.pick("p", "q"))
		}
	case 4: // a federation added
		id["federations"] = append(feds, g.federation())
	case 5: // a federation removed
		if len(feds) > 1 {
			id["federations"] = feds[1:]
		}
	case 6: // a claim moved to list matching
		if claims, ok := f["claims"].(map[string]any); ok {
			for k, v := range claims {
				if s, ok := v.(string); ok {
					claims[k] = []any{s}
				}
			}
		}
	case 7: // an identity removed or added
		if len(ids) > 1 {
			delete(ids, "i1")
		} else {
			ids["i1"] = g.identity()
		}
	case 8: // a pattern made narrower: a wildcard made a letter
		if s, ok := f["subject"].(string); ok {
			f["subject"] = strings.Replace(strings.Replace(s, "**", "*", 1), "*", "a", 1)
		}
	case 9, 10: // a claim's pattern made a number's or boolean's text
		if claims, ok := f["claims"].(map[string]any); ok {
			for k := range claims {
				claims[k] = g.pick("1", "true")
				break
			}
		}
	default: // nothing
	}
}

// claims is a random claim set: half of them built to meet a random
// federation of head (the tokens head may newly accept), the others with
// values made to meet any pattern of either policy.
func (g *gen) claims(base, head map[string]any) map[string]any {
	var pats []string
	collectPatterns(base, &pats)
	collectPatterns(head, &pats)
	random := func() any {
		switch {
		case g.chance(0.6):
			return g.instance(pats[g.rng.IntN(len(pats))])
		case g.chance(0.1):
			return json.Number("1")
		case g.chance(0.1):
			return []any{g.instance(g.pattern()), g.instance(g.pattern())}
		}
		return g.instance(g.pattern())
	}
	c := map[string]any{}
	for _, name := range []string{"p", "q", "environment"} {
		if g.chance(0.9) {
			c[name] = random()
		}
	}
	c["sub"] = fmt.Sprint(g.instance(pats[g.rng.IntN(len(pats))]))
	g.setRef(c, pats[g.rng.IntN(len(pats))])
	if g.chance(0.5) {
		g.meet(c, g.headFederation(head))
	}
	return c
}

func (g *gen) headFederation(head map[string]any) map[string]any {
	ids := at(head, "trustgate", "identities")
	names := sortedNames(ids)
	feds := ids[names[g.rng.IntN(len(names))]].(map[string]any)["federations"].([]any)
	return feds[g.rng.IntN(len(feds))].(map[string]any)
}

// meet sets c's claims to values that meet f's conditions.
func (g *gen) meet(c, f map[string]any) {
	one := func(p any) string {
		if list, ok := p.([]any); ok {
			return list[g.rng.IntN(len(list))].(string)
		}
		return p.(string)
	}
	if s, ok := f["subject"].(string); ok {
		c["sub"] = fmt.Sprint(g.instance(s))
	}
	claims, _ := f["claims"].(map[string]any)
	for name, p := range claims {
		c[name] = g.instance(one(p))
	}
	if refs, ok := f["refs"]; ok {
		g.setRef(c, one(refs))
	}
	if envs, ok := f["environments"]; ok {
		c["environment"] = g.instance(one(envs))
	}
}

func (g *gen) setRef(c map[string]any, pattern string) {
	typ, name, found := strings.Cut(fmt.Sprint(g.instance(pattern)), ":")
	if !found {
		typ, name = g.pick("branch", "tag"), typ
	}
	c["ref_type"], c["ref"] = typ, name
}

// instance is a string p matches, or p itself when it is a number's or
// boolean's text.
func (g *gen) instance(p string) any {
	switch p {
	case "1":
		if g.chance(0.5) {
			return json.Number("1")
		}
	case "true":
		if g.chance(0.5) {
			return true
		}
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch {
		case strings.HasPrefix(p[i:], "**"):
			b.WriteString(g.pick("", "a", "a/b", "/"))
			i++
		case p[i] == '*':
			b.WriteString(g.pick("", "a", "ab"))
		case p[i] == '?':
			b.WriteString(g.pick("a", "b"))
		case strings.HasPrefix(p[i:], "[ab]"), strings.HasPrefix(p[i:], "[!a]"):
			b.WriteString(g.pick("a", "b", "/"))
			i += 3
		case strings.HasPrefix(p[i:], "{a,b/}"):
			b.WriteString(g.pick("a", "b/"))
			i += 5
		case p[i] == '\\' && i+1 < len(p):
			b.WriteByte(p[i+1])
			i++
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

func collectPatterns(x any, out *[]string) {
	switch v := x.(type) {
	case map[string]any:
		for k, y := range v {
			if k == "provider" || k == "issuer" || k == "platform" || k == "scopes" {
				continue
			}
			collectPatterns(y, out)
		}
	case []any:
		for _, y := range v {
			collectPatterns(y, out)
		}
	case string:
		*out = append(*out, v)
	}
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	if len(names) == 2 && names[0] > names[1] {
		names[0], names[1] = names[1], names[0]
	}
	return names
}
