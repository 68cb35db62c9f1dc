package policydiff

import (
	"github.com/trustgate/trustgate/engine/verify"
)

// provider compares one provider present in base and head: what tokens it
// verifies. Which of them are granted is the federations' business.
func provider(b, h verify.Provider) []Change {
	var out []Change
	if b.Issuer != h.Issuer {
		out = append(out, Change{What: "issuer", Kind: Changed, Before: b.Issuer, After: h.Issuer, Effect: Both,
			Why: "the provider's federations now accept another issuer's tokens", Example: "iss=" + h.Issuer})
	}
	if b.Platform != h.Platform {
		out = append(out, Change{What: "platform", Kind: Changed, Before: b.Platform, After: h.Platform, Effect: Both,
			Why: "refs are read another way, so every ref condition of the provider may match other tokens"})
	}
	out = append(out, verified("audiences", b.Audiences, h.Audiences, "aud=")...)
	out = append(out, verified("algorithms", b.Algorithms, h.Algorithms, "tokens signed with ")...)
	if b.JWKSURL != h.JWKSURL {
		out = append(out, Change{What: "jwks_url", Kind: Changed, Before: orDiscovery(b.JWKSURL), After: orDiscovery(h.JWKSURL), Effect: Both,
			Why: "signatures are checked against keys from elsewhere", Example: "tokens signed with keys from " + orDiscovery(h.JWKSURL)})
	}
	switch {
	case h.MaxTokenLifetime > b.MaxTokenLifetime:
		out = append(out, Change{What: "max_token_lifetime", Kind: Changed, Before: b.MaxTokenLifetime.String(), After: h.MaxTokenLifetime.String(),
			Effect: Widens, Example: "tokens with exp - iat up to " + h.MaxTokenLifetime.String()})
	case h.MaxTokenLifetime < b.MaxTokenLifetime:
		out = append(out, Change{What: "max_token_lifetime", Kind: Changed, Before: b.MaxTokenLifetime.String(), After: h.MaxTokenLifetime.String(), Effect: Narrows})
	}
	switch {
	case b.OneTimeUse && !h.OneTimeUse:
		out = append(out, Change{What: "one_time_use", Kind: Changed, Before: "true", After: "false", Effect: Widens,
			Example: "a token used a second time, or without jti"})
	case !b.OneTimeUse && h.OneTimeUse:
		out = append(out, Change{What: "one_time_use", Kind: Changed, Before: "false", After: "true", Effect: Narrows})
	}
	return out
}

// verified compares a list of accepted values: more accepts more tokens.
func verified(what string, b, h []string, example string) []Change {
	return listChange(what, b, h, func(more []string) string { return example + more[0] })
}

func orDiscovery(u string) string {
	if u == "" {
		return "(discovery)"
	}
	return u
}
