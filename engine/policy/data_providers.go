package policy

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/trustgate/trustgate/engine/verify"
)

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
