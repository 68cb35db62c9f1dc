package policy

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/gobwas/glob"

	"github.com/trustgate/trustgate/engine/verify"
)

// DefaultMaxTokenLifetime is a provider's max_token_lifetime when it has none.
const DefaultMaxTokenLifetime = 24 * time.Hour

// index is what the engine needs from bundle data, built once per load.
type index struct {
	byIssuer map[string]*verify.Provider
	byName   map[string]*verify.Provider
	emails   map[string]string
}

// validator checks data.trustgate against the data model (DESIGN §3) and
// builds the index; it collects every problem instead of stopping.
type validator struct {
	opts     Options
	origin   func(key string) string // the file a key came from
	problems []Problem
}

func (v *validator) add(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.origin(key), Key: key, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) validate(tg map[string]any) index {
	idx := index{byIssuer: map[string]*verify.Provider{}, byName: map[string]*verify.Provider{}, emails: map[string]string{}}
	providers, _ := v.object(tg["providers"], "trustgate.providers", false)
	for _, name := range sortedKeys(providers) {
		p := v.provider(name, providers[name])
		if p == nil {
			continue
		}
		if other, dup := idx.byIssuer[p.Issuer]; dup {
			v.add("trustgate.providers."+name+".issuer", "issuer %q is also provider %s's", p.Issuer, other.Name)
			continue
		}
		idx.byIssuer[p.Issuer], idx.byName[name] = p, p
	}
	identities, _ := v.object(tg["identities"], "trustgate.identities", false)
	for _, name := range sortedKeys(identities) {
		v.identity(name, identities[name], idx)
	}
	return idx
}

var providerKeys = []string{"issuer", "platform", "audiences", "jwks_url", "algorithms", "max_token_lifetime", "one_time_use"}

func (v *validator) provider(name string, raw any) *verify.Provider {
	key := "trustgate.providers." + name
	obj, ok := v.object(raw, key, true)
	if !ok {
		return nil
	}
	v.unknownKeys(obj, key, providerKeys)
	before := len(v.problems)
	p := &verify.Provider{Name: name, MaxTokenLifetime: DefaultMaxTokenLifetime, Algorithms: []string{"RS256"}}
	p.Issuer = v.str(obj, key, "issuer", true)
	if p.Issuer != "" {
		if err := v.checkURL(p.Issuer); err != nil {
			v.add(key+".issuer", "%v", err)
		}
	}
	p.Platform = v.str(obj, key, "platform", true)
	if p.Platform != "" && !slices.Contains([]string{verify.PlatformGitLab, verify.PlatformGitHub, verify.PlatformGeneric}, p.Platform) {
		v.add(key+".platform", "want gitlab, github or generic, not %q", p.Platform)
	}
	p.Audiences = v.strs(obj, key, "audiences")
	if len(p.Audiences) == 0 {
		p.Audiences = []string{v.opts.ServerIssuer}
	}
	if p.JWKSURL = v.str(obj, key, "jwks_url", false); p.JWKSURL != "" {
		if err := v.checkURL(p.JWKSURL); err != nil {
			v.add(key+".jwks_url", "%v", err)
		}
	}
	if algs := v.strs(obj, key, "algorithms"); len(algs) > 0 {
		p.Algorithms = algs
		for _, a := range algs {
			if !slices.Contains([]string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}, a) {
				v.add(key+".algorithms", "%q is not an asymmetric JWS algorithm", a)
			}
		}
	}
	if d, ok := v.duration(obj, key, "max_token_lifetime"); ok {
		p.MaxTokenLifetime = d
	}
	if raw, present := obj["one_time_use"]; present {
		b, isBool := raw.(bool)
		if !isBool {
			v.add(key+".one_time_use", "want true or false")
		}
		p.OneTimeUse = b
	}
	if len(v.problems) > before {
		return nil
	}
	return p
}

func (v *validator) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want an absolute https URL, not %q", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && v.opts.AllowInsecureIssuers && verify.IsLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http" && verify.IsLoopback(u.Hostname()):
		return fmt.Errorf("http %q is allowed only when the server allows insecure issuers", raw)
	default:
		return fmt.Errorf("want https, not %q", raw)
	}
}

var identityKeys = []string{"email", "description", "roles", "scopes", "audiences", "ttl", "expires_at", "federations"}

var federationKeys = []string{"provider", "subject", "claims", "refs", "environments"}

func (v *validator) identity(name string, raw any, idx index) {
	key := "trustgate.identities." + name
	obj, ok := v.object(raw, key, true)
	if !ok {
		return
	}
	v.unknownKeys(obj, key, identityKeys)
	if email := v.str(obj, key, "email", false); email != "" {
		if other, dup := idx.emails[email]; dup {
			v.add(key+".email", "%q is also identity %s's email", email, other)
		} else {
			idx.emails[email] = name
		}
	}
	v.str(obj, key, "description", false)
	v.strs(obj, key, "roles")
	v.strs(obj, key, "scopes")
	v.strs(obj, key, "audiences")
	v.duration(obj, key, "ttl")
	if at := v.str(obj, key, "expires_at", false); at != "" {
		if _, err := time.Parse(time.RFC3339, at); err != nil {
			v.add(key+".expires_at", "want an RFC 3339 time such as 2027-06-30T00:00:00Z")
		}
	}
	feds, _ := obj["federations"].([]any)
	if _, present := obj["federations"]; present && feds == nil {
		v.add(key+".federations", "want a list")
	}
	if len(feds) == 0 {
		v.add(key+".federations", "an identity with no federations never matches; add one or remove the identity")
	}
	for i, f := range feds {
		v.federation(fmt.Sprintf("%s.federations[%d]", key, i), f, idx)
	}
}

func (v *validator) federation(key string, raw any, idx index) {
	obj, ok := v.object(raw, key, true)
	if !ok {
		return
	}
	v.unknownKeys(obj, key, federationKeys)
	if p := v.str(obj, key, "provider", true); p != "" {
		if _, known := idx.byName[p]; !known {
			v.add(key+".provider", "unknown provider %q", p)
		}
	}
	if s := v.str(obj, key, "subject", false); s != "" {
		v.glob(key+".subject", s)
	}
	claims, _ := v.object(obj["claims"], key+".claims", false)
	for _, c := range sortedKeys(claims) {
		ck := key + ".claims." + c
		switch p := claims[c].(type) {
		case string:
			v.glob(ck, p)
		case []any:
			if len(p) == 0 {
				v.add(ck, "an empty list never matches")
			}
			for i, x := range p {
				s, ok := x.(string)
				if !ok {
					v.add(fmt.Sprintf("%s[%d]", ck, i), "want a string pattern (quote true, false and numbers)")
					continue
				}
				v.glob(fmt.Sprintf("%s[%d]", ck, i), s)
			}
		default:
			v.add(ck, "want a string pattern or a list of them (quote true, false and numbers)")
		}
	}
	for _, list := range []string{"refs", "environments"} {
		if _, present := obj[list]; !present {
			continue
		}
		pats := v.strs(obj, key, list)
		if len(pats) == 0 {
			v.add(key+"."+list, "an empty list never matches; remove it to allow any")
		}
		for i, p := range pats {
			v.glob(fmt.Sprintf("%s.%s[%d]", key, list, i), p)
		}
	}
}

// glob checks p compiles as OPA's glob.match(p, ["/"], v) compiles it.
func (v *validator) glob(key, p string) {
	if _, err := glob.Compile(p, '/'); err != nil {
		v.add(key, "bad glob %q: %v", p, err)
	}
}

func (v *validator) object(raw any, key string, required bool) (map[string]any, bool) {
	if raw == nil {
		if required {
			v.add(key, "want a mapping")
		}
		return nil, false
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(key, "want a mapping")
	}
	return obj, ok
}

func (v *validator) unknownKeys(obj map[string]any, key string, known []string) {
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(known, k) {
			v.add(key+"."+k, "unknown key (known: %v)", known)
		}
	}
}

func (v *validator) str(obj map[string]any, key, name string, required bool) string {
	raw, present := obj[name]
	if !present {
		if required {
			v.add(key+"."+name, "is required")
		}
		return ""
	}
	s, ok := raw.(string)
	if !ok || (required && s == "") {
		v.add(key+"."+name, "want a non-empty string")
	}
	return s
}

func (v *validator) strs(obj map[string]any, key, name string) []string {
	raw, present := obj[name]
	if !present {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		v.add(key+"."+name, "want a list of strings")
		return nil
	}
	out := make([]string, 0, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok || s == "" {
			v.add(fmt.Sprintf("%s.%s[%d]", key, name, i), "want a non-empty string")
			continue
		}
		out = append(out, s)
	}
	return out
}

func (v *validator) duration(obj map[string]any, key, name string) (time.Duration, bool) {
	s := v.str(obj, key, name, false)
	if s == "" {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.add(key+"."+name, "want a positive duration such as \"15m\", not %q", s)
		return 0, false
	}
	return d, true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
