package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gobwas/glob"

	"github.com/trustgate/trustgate/engine/scope"
	"github.com/trustgate/trustgate/engine/verify"
)

// DefaultMaxTokenLifetime is a provider's max_token_lifetime when it has none.
const DefaultMaxTokenLifetime = 24 * time.Hour

// Values the data model accepts.
var (
	platforms     = []string{verify.PlatformGitLab, verify.PlatformGitHub, verify.PlatformGeneric}
	algorithms    = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
	rootKeys      = []string{"providers", "identities", "risk_levels"}
	providerKeys  = []string{"issuer", "platform", "audiences", "jwks_url", "algorithms", "max_token_lifetime", "one_time_use"}
	identityKeys  = []string{"email", "description", "roles", "scopes", "audiences", "ttl", "expires_at", "federations", "access", "jit"}
	federationKey = []string{"provider", "subject", "claims", "refs", "environments"}
)

// identity is what the engine holds of one validated entry of
// data.trustgate.identities: enough to index it and to hold a decision to
// it (see Policy.checkGrant). The Rego reads the data itself.
type identity struct {
	name      string
	email     string
	roles     []string
	scopes    []string
	audiences []string
	ttl       time.Duration // 0: the server's default
	jit       *JIT          // nil: standing access
}

// index is what the engine looks up in the data, built once per load.
type index struct {
	providers  map[string]*verify.Provider // by name
	byIssuer   map[string]*verify.Provider
	identities map[string]*identity // by name
	byEmail    map[string]string    // email → identity name
}

// validator checks data.trustgate against the data model (DESIGN §3) and
// builds the index, collecting every problem rather than stopping at one.
type validator struct {
	opts     Options
	m        *merged
	problems []Problem
	globs    map[string]error // patterns compiled so far: refs and claims repeat
	// riskLevels are the approvals each risk level needs (the bundle's, or
	// the library's), read before the identities that depend on them.
	riskLevels map[string]int
}

func (v *validator) add(file, key, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: file, Key: key, Message: fmt.Sprintf(format, args...)})
}

// validate checks the merged data and returns the index of what is valid.
func validate(m *merged, opts Options) (index, []Problem) {
	v := &validator{opts: opts, m: m, globs: make(map[string]error)}
	tg, ok := v.section(m.data["trustgate"], "trustgate")
	ids, _ := tg["identities"].(map[string]any)
	idx := index{
		providers:  make(map[string]*verify.Provider),
		byIssuer:   make(map[string]*verify.Provider),
		identities: make(map[string]*identity, len(ids)),
		byEmail:    make(map[string]string, len(ids)),
	}
	if !ok {
		return idx, v.problems
	}
	for _, k := range sortedKeys(tg) {
		if !slices.Contains(rootKeys, k) && isNearly(k, rootKeys) {
			v.add(m.owner("trustgate."+k), "trustgate."+k, "unknown key; did you mean one of %s?", strings.Join(rootKeys, ", "))
		}
	}
	providers, hasProviders := v.section(tg["providers"], "trustgate.providers")
	for _, name := range sortedKeys(providers) {
		p := v.provider(name, providers[name])
		if p == nil {
			continue
		}
		key := "trustgate.providers." + name
		if other, dup := idx.byIssuer[p.Issuer]; dup {
			v.add(m.owner(key), key+".issuer", "issuer %q is also provider %s's (in %s): routing by issuer must be unambiguous",
				p.Issuer, other.Name, m.owner("trustgate.providers."+other.Name))
			continue
		}
		idx.byIssuer[p.Issuer], idx.providers[name] = p, p
	}
	levels, hasLevels := tg["risk_levels"]
	v.riskLevels = v.readRiskLevels(levels, hasLevels)
	identities, hasIdentities := v.section(tg["identities"], "trustgate.identities")
	for _, name := range sortedKeys(identities) {
		if id := v.identity(name, identities[name], providers, identities); id != nil {
			idx.identities[name] = id
		}
	}
	for _, name := range sortedKeys(identities) {
		id := idx.identities[name]
		if id == nil || id.email == "" {
			continue
		}
		key := "trustgate.identities." + name + ".email"
		if other, dup := idx.byEmail[id.email]; dup {
			v.add(m.owner(key), key, "%q is also identity %s's email (in %s)", id.email, other, m.owner("trustgate.identities."+other))
			continue
		}
		idx.byEmail[id.email] = name
	}
	if hasProviders && len(providers) == 0 {
		v.add(m.owner("trustgate.providers"), "trustgate.providers", "no provider is defined: no token could ever be verified")
	}
	if hasIdentities && len(identities) == 0 {
		v.add(m.owner("trustgate.identities"), "trustgate.identities", "no identity is defined: nothing could ever be granted")
	}
	return idx, v.problems
}

// section is a mapping that must be present.
func (v *validator) section(raw any, key string) (map[string]any, bool) {
	obj, ok := raw.(map[string]any)
	if !ok {
		if raw == nil {
			v.add(v.m.owner(key), key, "is missing")
		} else {
			v.add(v.m.owner(key), key, "want a mapping, not %s", describe(raw))
		}
	}
	return obj, ok
}

// provider validates one provider and fills its defaults; nil when it has
// any problem.
func (v *validator) provider(name string, raw any) *verify.Provider {
	key := "trustgate.providers." + name
	file := v.m.owner(key)
	before := len(v.problems)
	obj := v.entry(file, key, name, raw, providerKeys)
	if obj == nil {
		return nil
	}
	p := &verify.Provider{
		Name:             name,
		Issuer:           v.str(file, key, obj, "issuer", true),
		Platform:         v.str(file, key, obj, "platform", true),
		JWKSURL:          v.str(file, key, obj, "jwks_url", false),
		Audiences:        v.strs(file, key, obj, "audiences"),
		Algorithms:       v.strs(file, key, obj, "algorithms"),
		MaxTokenLifetime: DefaultMaxTokenLifetime,
	}
	if p.Issuer != "" {
		v.url(file, key+".issuer", p.Issuer)
	}
	if p.JWKSURL != "" {
		v.url(file, key+".jwks_url", p.JWKSURL)
	}
	if p.Platform != "" && !slices.Contains(platforms, p.Platform) {
		v.add(file, key+".platform", "want one of %s, not %q", strings.Join(platforms, ", "), p.Platform)
	}
	if p.Audiences == nil {
		if v.opts.ServerIssuer == "" {
			v.add(file, key+".audiences", "is required: the server's issuer URL, the default, is not configured")
		}
		p.Audiences = []string{v.opts.ServerIssuer}
	}
	if p.Algorithms == nil {
		p.Algorithms = []string{"RS256"}
	}
	for i, a := range p.Algorithms {
		if !slices.Contains(algorithms, a) {
			v.add(file, fmt.Sprintf("%s.algorithms[%d]", key, i), "want one of %s, not %q", strings.Join(algorithms, ", "), a)
		}
	}
	if d, ok := v.duration(file, key, obj, "max_token_lifetime"); ok {
		p.MaxTokenLifetime = d
	}
	if raw, present := obj["one_time_use"]; present {
		b, ok := raw.(bool)
		if !ok {
			v.add(file, key+".one_time_use", "want true or false, not %s", describe(raw))
		}
		p.OneTimeUse = b
	}
	if len(v.problems) > before {
		return nil
	}
	return p
}

// url checks an issuer or JWKS URL: absolute https, or http on a loopback
// host when the server allows insecure issuers.
func (v *validator) url(file, key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		v.add(file, key, "want an absolute https:// URL, not %q", raw)
		return
	}
	switch {
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		v.add(file, key, "%q must not carry user info, a query or a fragment", raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && verify.IsLoopback(u.Hostname()):
		if !v.opts.AllowInsecureIssuers {
			v.add(file, key, "http:// (%q) is accepted only by a server that allows insecure issuers (development)", raw)
		}
	case u.Scheme == "http":
		v.add(file, key, "want https://, not %q: http:// is accepted only on a loopback host, in development", raw)
	default:
		v.add(file, key, "want an https:// URL, not %q", raw)
	}
}

// identity validates one identity; nil when it has any problem. Keys of
// problems are built only when there is one: this runs once per identity.
func (v *validator) identity(name string, raw any, providers, identities map[string]any) *identity {
	key := "trustgate.identities." + name
	file := v.m.owner(key)
	before := len(v.problems)
	obj := v.entry(file, key, name, raw, identityKeys)
	if obj == nil {
		return nil
	}
	id := &identity{
		name:      name,
		email:     v.str(file, key, obj, "email", false),
		roles:     v.strs(file, key, obj, "roles"),
		scopes:    v.strs(file, key, obj, "scopes"),
		audiences: v.strs(file, key, obj, "audiences"),
	}
	v.str(file, key, obj, "description", false)
	if id.email != "" {
		if a, err := mail.ParseAddress(id.email); err != nil || a.Address != id.email {
			v.add(file, key+".email", "%q is not a plain email address", id.email)
		} else if _, clash := identities[id.email]; clash && id.email != name {
			v.add(file, key+".email", "%q is also the name of an identity: a caller naming it would be ambiguous", id.email)
		}
	}
	for i, s := range id.scopes {
		if !scope.Valid(s) {
			v.add(file, fmt.Sprintf("%s.scopes[%d]", key, i), "%q is not a scope (RFC 6749: printable ASCII without spaces, quotes or backslashes)", s)
		}
	}
	if d, ok := v.duration(file, key, obj, "ttl"); ok {
		if d%time.Second != 0 {
			v.add(file, key+".ttl", "want whole seconds, not %s", d)
		}
		id.ttl = d
	}
	if at := v.str(file, key, obj, "expires_at", false); at != "" {
		if _, err := time.Parse(time.RFC3339, at); err != nil {
			v.add(file, key+".expires_at", "want an RFC 3339 time such as \"2027-06-30T00:00:00Z\", not %q", at)
		}
	}
	feds, present := obj["federations"]
	list, isList := feds.([]any)
	switch {
	case present && !isList:
		v.add(file, key+".federations", "want a list, not %s", describe(feds))
	case len(list) == 0:
		v.add(file, key+".federations", "an identity with no federations never matches: add one, or remove the identity")
	}
	for i, f := range list {
		v.federation(file, fedKey{identity: key, list: "federations", index: i}, f, providers)
	}
	id.jit = v.jit(file, key, obj, providers)
	if len(v.problems) > before {
		return nil
	}
	return id
}

// fedKey names a federation (or a just-in-time approver, matched like
// one); its String is built only for a problem.
type fedKey struct {
	identity string // the key of the identity (or its jit block)
	list     string // federations or approvers
	index    int
}

func (k fedKey) String() string { return fmt.Sprintf("%s.%s[%d]", k.identity, k.list, k.index) }

func (k fedKey) field(name string) string { return k.String() + "." + name }

func (v *validator) federation(file string, k fedKey, raw any, providers map[string]any) {
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, k.String(), "want a mapping, not %s", describe(raw))
		return
	}
	v.unknownKeys(file, k.String(), obj, federationKey)
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
			v.glob(file, k.field("subject"), s)
		} else {
			v.add(file, k.field("subject"), "want a string pattern, not %s", describe(subject))
		}
	}
	claims, hasClaims := obj["claims"]
	if hasClaims {
		v.claims(file, k, claims)
	}
	for _, name := range []string{"refs", "environments"} {
		raw, present := obj[name]
		if !present {
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			v.add(file, k.field(name), "want a list of patterns, not %s", describe(raw))
			continue
		}
		if len(list) == 0 {
			v.add(file, k.field(name), "an empty list never matches: remove it to accept any")
		}
		for i, x := range list {
			elem := fmt.Sprintf("%s[%d]", k.field(name), i)
			p, ok := x.(string)
			if !ok {
				v.add(file, elem, "want a string pattern, not %s", describe(x))
				continue
			}
			v.glob(file, elem, p)
			if name == "refs" && !strings.Contains(p, ":") {
				v.add(file, elem, "%q never matches: a ref is type:name, such as branch:main or tag:v*", p)
			}
		}
	}
	if !hasSubject && (!hasClaims || isEmptyMapping(claims)) {
		v.add(file, k.String(), "matches every token of provider %s, whoever's pipeline it is: give a subject or claims naming the project (subject: \"**\" accepts them all on purpose)", provider)
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
		claim := k.field("claims") + "." + c
		if c == "" {
			v.add(file, claim, "a claim name must not be empty")
			continue
		}
		switch p := x.(type) {
		case string:
			v.glob(file, claim, p)
		case []any:
			if len(p) == 0 {
				v.add(file, claim, "an empty list never matches")
			}
			for i, x := range p {
				elem := fmt.Sprintf("%s[%d]", claim, i)
				s, ok := x.(string)
				if !ok {
					v.add(file, elem, "want a string pattern, not %s (quote true, false and numbers: %q)", describe(x), jsonText(x))
					continue
				}
				v.glob(file, elem, s)
			}
		default:
			v.add(file, claim, "want a string pattern or a list of them, not %s (quote true, false and numbers: %q)", describe(p), jsonText(p))
		}
	}
}

// glob checks that p compiles as glob.match(p, ["/"], x) compiles it (OPA
// uses the same library with the same separator); key names it.
func (v *validator) glob(file, key, p string) {
	if p == "" {
		v.add(file, key, "an empty pattern matches only an empty value")
		return
	}
	if !strings.ContainsAny(p, `*?[]{}\,`) {
		return // a literal: nothing to compile
	}
	err, seen := v.globs[p]
	if !seen {
		_, err = glob.Compile(p, '/')
		v.globs[p] = err
	}
	if err != nil {
		v.add(file, key, "invalid pattern %q: %v", p, err)
	}
}

// entry checks a provider's or identity's name and that its value is a
// mapping with known keys only.
func (v *validator) entry(file, key, name string, raw any, known []string) map[string]any {
	if name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		v.add(file, key, "a name must not be empty or contain spaces")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, key, "want a mapping, not %s", describe(raw))
		return nil
	}
	v.unknownKeys(file, key, obj, known)
	return obj
}

func (v *validator) unknownKeys(file, key string, obj map[string]any, known []string) {
	if !hasUnknownKey(obj, known) {
		return
	}
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(known, k) {
			v.add(file, key+"."+k, "unknown key (known: %s)", strings.Join(known, ", "))
		}
	}
}

func hasUnknownKey(obj map[string]any, known []string) bool {
	for k := range obj {
		if !slices.Contains(known, k) {
			return true
		}
	}
	return false
}

// str reads an optional (or required) string field.
func (v *validator) str(file, key string, obj map[string]any, name string, required bool) string {
	raw, present := obj[name]
	if !present {
		if required {
			v.add(file, key+"."+name, "is required")
		}
		return ""
	}
	s, ok := raw.(string)
	switch {
	case !ok:
		v.add(file, key+"."+name, "want a string, not %s", describe(raw))
	case s == "" && required:
		v.add(file, key+"."+name, "must not be empty")
	}
	return s
}

// strs reads an optional list of non-empty strings; nil when absent.
func (v *validator) strs(file, key string, obj map[string]any, name string) []string {
	raw, present := obj[name]
	if !present {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		v.add(file, key+"."+name, "want a list of strings, not %s", describe(raw))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok || s == "" {
			v.add(file, fmt.Sprintf("%s.%s[%d]", key, name, i), "want a non-empty string, not %s", describe(x))
			continue
		}
		out = append(out, s)
	}
	return out
}

// duration reads an optional positive Go duration string such as "15m".
func (v *validator) duration(file, key string, obj map[string]any, name string) (time.Duration, bool) {
	raw, present := obj[name]
	if !present {
		return 0, false
	}
	s, ok := raw.(string)
	if !ok {
		v.add(file, key+"."+name, "want a duration such as \"15m\" or \"2h\", not %s", describe(raw))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.add(file, key+"."+name, "want a positive duration such as \"15m\" or \"2h\", not %q", s)
		return 0, false
	}
	return d, true
}

// isNearly reports whether k is one of want in another case or in the
// singular: the slips worth refusing under trustgate (other keys there are
// custom rules' data and are left alone).
func isNearly(k string, want []string) bool {
	singular := map[string]string{"providers": "provider", "identities": "identity"}
	for _, w := range want {
		if strings.EqualFold(k, w) || strings.EqualFold(k, singular[w]) {
			return true
		}
	}
	return false
}

// describe names the JSON type of a decoded value for messages.
func describe(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	default:
		return fmt.Sprintf("%T", x)
	}
}

func jsonText(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprint(x)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
