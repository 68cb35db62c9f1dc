package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/engine/weburl"
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
		MaxTokenLifetime: verify.DefaultMaxTokenLifetime,
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
	if raw, present := obj["emails_verified"]; present {
		if _, ok := raw.(bool); !ok {
			v.add(file, key+".emails_verified", "want true or false, not %s", describe(raw))
		}
	}
	if len(v.problems) > before {
		return nil
	}
	return p
}

// url checks an issuer or JWKS URL against the one URL rule (weburl),
// http on loopback only when the server allows insecure issuers.
func (v *validator) url(file, key, raw string) {
	if err := weburl.Check(raw, v.opts.AllowInsecureIssuers); err != nil {
		v.add(file, key, "%v", err)
	}
}
