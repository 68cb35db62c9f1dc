package policy

import (
	"fmt"
	"strings"

	"github.com/gobwas/glob"
)

// fedKey names a federation (or a just-in-time approver, matched like
// one); its String is built only for a problem.
type fedKey struct {
	identity string // the key of the identity (or its jit block)
	list     string // federations or approvers
	index    int
}

func (k fedKey) String() string { return fmt.Sprintf("%s.%s[%d]", k.identity, k.list, k.index) }

func (k fedKey) field(name string) string { return k.String() + "." + name }

// federation validates one federation (or a just-in-time approver, matched
// like one): a known provider, and a subject or claims naming the project.
func (v *validator) federation(file string, k fedKey, raw any, providers map[string]any) {
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, k.String(), "want a mapping, not %s", describe(raw))
		return
	}
	if hasUnknownKey(obj, federationKey) {
		v.unknownKeys(file, k.String(), obj, federationKey)
	}
	provider, hasProvider := obj["provider"].(string)
	switch {
	case obj["provider"] == nil:
		v.add(file, k.field("provider"), "is required")
	case !hasProvider || provider == "":
		v.add(file, k.field("provider"), "want a provider name, not %s", describe(obj["provider"]))
	default:
		if _, known := providers[provider]; !known {
			v.add(file, k.field("provider"), "unknown provider %q (known: %s)", provider, strings.Join(sortedKeys(providers), ", "))
		}
	}
	subject, hasSubject := obj["subject"]
	if hasSubject {
		if s, ok := subject.(string); ok {
			v.glob(file, func() string { return k.field("subject") }, s)
		} else {
			v.add(file, k.field("subject"), "want a string pattern, not %s", describe(subject))
		}
	}
	claims, hasClaims := obj["claims"]
	if hasClaims {
		v.claims(file, k, claims)
	}
	for _, name := range []string{"refs", "environments"} {
		if raw, present := obj[name]; present {
			v.patterns(file, k, name, raw)
		}
	}
	if !hasSubject && (!hasClaims || isEmptyMapping(claims)) {
		v.add(file, k.String(), "matches every token of provider %s, whoever's pipeline it is: give a subject or claims naming the project (subject: \"**\" accepts them all on purpose)", provider)
	}
}

// patterns validates a federation's refs or environments: a non-empty
// list of globs, each ref of the form type:name.
func (v *validator) patterns(file string, k fedKey, name string, raw any) {
	list, ok := raw.([]any)
	if !ok {
		v.add(file, k.field(name), "want a list of patterns, not %s", describe(raw))
		return
	}
	if len(list) == 0 {
		v.add(file, k.field(name), "an empty list never matches: remove it to accept any")
	}
	for i, x := range list {
		elem := func() string { return fmt.Sprintf("%s[%d]", k.field(name), i) }
		p, ok := x.(string)
		if !ok {
			v.add(file, elem(), "want a string pattern, not %s", describe(x))
			continue
		}
		v.glob(file, elem, p)
		if name == "refs" && !strings.Contains(p, ":") {
			v.add(file, elem(), "%q never matches: a ref is type:name, such as branch:main or tag:v*", p)
		}
	}
}

func isEmptyMapping(x any) bool {
	m, ok := x.(map[string]any)
	return ok && len(m) == 0
}

// claims validates a claims mapping: each claim a glob or a non-empty list
// of globs.
func (v *validator) claims(file string, k fedKey, raw any) {
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, k.field("claims"), "want a mapping of claim to pattern, not %s", describe(raw))
		return
	}
	for _, c := range sortedKeys(obj) {
		x := obj[c]
		claim := func() string { return k.field("claims") + "." + c }
		if c == "" {
			v.add(file, claim(), "a claim name must not be empty")
			continue
		}
		switch p := x.(type) {
		case string:
			v.glob(file, claim, p)
		case []any:
			if len(p) == 0 {
				v.add(file, claim(), "an empty list never matches")
			}
			for i, x := range p {
				elem := func() string { return fmt.Sprintf("%s[%d]", claim(), i) }
				s, ok := x.(string)
				if !ok {
					v.add(file, elem(), "want a string pattern, not %s (quote true, false and numbers: %q)", describe(x), jsonText(x))
					continue
				}
				v.glob(file, elem, s)
			}
		default:
			v.add(file, claim(), "want a string pattern or a list of them, not %s (quote true, false and numbers: %q)", describe(p), jsonText(p))
		}
	}
}

// globSyntax are the characters of a glob that can make it fail to
// compile: ranges, alternatives and escapes. A pattern of text, *, ** and ?
// always compiles (TestPatternsWithoutRangesAlternativesOrEscapesCompile),
// and a large bundle has one such subject per identity.
const globSyntax = `[]{}\,`

// glob checks that p compiles as glob.match(p, ["/"], x) compiles it (OPA
// uses the same library with the same separator); key names it, built only
// for a problem.
func (v *validator) glob(file string, key func() string, p string) {
	if p == "" {
		v.add(file, key(), "an empty pattern matches only an empty value")
		return
	}
	if !strings.ContainsAny(p, globSyntax) {
		return // text, *, ** and ?: nothing that can fail to compile
	}
	err, seen := v.globs[p]
	if !seen {
		_, err = glob.Compile(p, '/')
		v.globs[p] = err
	}
	if err != nil {
		v.add(file, key(), "invalid pattern %q: %v", p, err)
	}
}
