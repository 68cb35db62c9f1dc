package policy

import (
	"slices"
	"strings"
)

// indexKey is where the derived candidate index sits in the data the
// library reads: data.trustgate.index. Bundles may not write there.
const indexKey = "index"

// globMeta are the characters that make a pattern more than its own text
// (github.com/gobwas/glob, which glob.match uses): a pattern without any
// matches only a claim equal to it.
const globMeta = `*?[]{}\,`

// candidateIndex derives, once per load, which identities (names are
// identities' keys, sorted) a token can possibly be granted, so that an
// exchange naming no identity does not walk every identity. It is
// read-only data handed to the library as data.trustgate.index:
//
//	built: true
//	providers: {NAME: {claim: CLAIM, by: {VALUE: [IDENTITY...]}, rest: [IDENTITY...]}}
//	emails: {EMAIL: [IDENTITY...]}
//
// For each provider, CLAIM is the claim that the most of its federations
// pin exactly (a pattern or list of patterns without glob characters, e.g.
// project_path or repository). An identity whose every federation of the
// provider pins CLAIM is listed under each value it pins; any other identity
// with a federation of the provider is in rest. An identity with no
// federation of the provider is in neither: it can never accept its tokens.
// The library still matches every candidate in full, so the index can only
// leave out identities that cannot match; it never grants. emails lists
// the identities of each email, so that a caller naming an identity by an
// email (or a name no identity has) is not a scan of every identity.
// built says the index is there: the library reads it entry by entry, and
// reads only built to tell the server's evaluation from opa test's.
func candidateIndex(identities map[string]any, names []string) map[string]any {
	cands := make([]candidate, 0, len(names))
	for _, name := range names {
		cands = append(cands, candidateOf(name, identities[name]))
	}
	return indexCandidates(cands)
}

// candidate is what the candidate index reads of one identity: its email
// and, of each federation, the provider and the claims it pins exactly.
// Validation keeps one per identity until all are validated, not the
// identity's whole value.
type candidate struct {
	name  string
	email string
	feds  []federation
}

// federation is one federation of an identity, as the index sees it.
type federation struct {
	identity string
	provider string
	pins     []pin // the claims it pins exactly, in no order
}

// pin is a claim a federation pins exactly, with the values it accepts.
type pin struct {
	claim  string
	values []string
}

// pinned is the values f pins claim to; nil when it does not pin it
// exactly.
func (f federation) pinned(claim string) []string {
	for _, p := range f.pins {
		if p.claim == claim {
			return p.values
		}
	}
	return nil
}

// candidateOf is what the index reads of identity name's value.
func candidateOf(name string, value any) candidate {
	c := candidate{name: name}
	id, _ := value.(map[string]any)
	c.email, _ = id["email"].(string)
	feds, _ := id["federations"].([]any)
	for _, raw := range feds {
		f, _ := raw.(map[string]any)
		provider, ok := f["provider"].(string)
		if !ok {
			continue
		}
		claims, _ := f["claims"].(map[string]any)
		fed := federation{identity: name, provider: provider}
		for claim, p := range claims {
			if values := exactValues(p); values != nil {
				fed.pins = append(fed.pins, pin{claim: claim, values: values})
			}
		}
		c.feds = append(c.feds, fed)
	}
	return c
}

// indexCandidates is candidateIndex of cands, in the order of their names
// (sorted).
func indexCandidates(cands []candidate) map[string]any {
	feds := make(map[string][]federation)
	emails := make(map[string]any)
	for _, c := range cands {
		for _, f := range c.feds {
			feds[f.provider] = append(feds[f.provider], f)
		}
		if c.email != "" {
			names, _ := emails[c.email].([]string)
			emails[c.email] = append(names, c.name)
		}
	}
	providers := make(map[string]any, len(feds))
	for _, provider := range sortedKeys(feds) {
		providers[provider] = providerIndex(feds[provider])
	}
	return map[string]any{"built": true, "providers": providers, "emails": emails}
}

// providerIndex indexes one provider's federations by the claim most of
// them pin exactly.
func providerIndex(feds []federation) map[string]any {
	claim := pinnedClaim(feds)
	by := make(map[string][]string)
	var rest []string
	unpinned := make(map[string]bool)
	for _, f := range feds {
		if claim == "" || f.pinned(claim) == nil {
			unpinned[f.identity] = true
		}
	}
	for _, f := range feds {
		if unpinned[f.identity] {
			if !slices.Contains(rest, f.identity) {
				rest = append(rest, f.identity)
			}
			continue
		}
		for _, v := range f.pinned(claim) {
			if !slices.Contains(by[v], f.identity) {
				by[v] = append(by[v], f.identity)
			}
		}
	}
	byAny := make(map[string]any, len(by))
	for v, names := range by {
		byAny[v] = names
	}
	if rest == nil {
		rest = []string{}
	}
	return map[string]any{"claim": claim, "by": byAny, "rest": rest}
}

// pinnedClaim is the claim the most federations pin exactly (the first
// such name in sorted order on a tie); empty when none pins any.
func pinnedClaim(feds []federation) string {
	counts := make(map[string]int)
	for _, f := range feds {
		for _, p := range f.pins {
			counts[p.claim]++
		}
	}
	best := ""
	for _, name := range sortedKeys(counts) {
		if counts[name] > counts[best] {
			best = name
		}
	}
	return best
}

// exactValues are the claim values a claims entry matches when it is a
// pattern, or a non-empty list of patterns, without glob characters; nil
// when it matches anything else too.
func exactValues(p any) []string {
	switch p := p.(type) {
	case string:
		if strings.ContainsAny(p, globMeta) {
			return nil
		}
		return []string{p}
	case []any:
		out := make([]string, 0, len(p))
		for _, x := range p {
			s, ok := x.(string)
			if !ok || strings.ContainsAny(s, globMeta) {
				return nil
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return nil
}

// storedData is the data the AST store holds: the bundles' data without
// the identities, which dataStore serves with the candidate index; data
// itself is left as it was. A bundle that writes at data.trustgate.index
// is a problem.
func storedData(m *merged) (map[string]any, []Problem) {
	tg, _ := m.data["trustgate"].(map[string]any)
	if _, taken := tg[indexKey]; taken {
		key := "trustgate." + indexKey
		return nil, []Problem{{File: m.owner(key), Key: key, Message: "is reserved: the server derives it from the identities; rename the key"}}
	}
	stored := make(map[string]any, len(m.data))
	for k, v := range m.data {
		stored[k] = v
	}
	rest := make(map[string]any, len(tg))
	for k, v := range tg {
		if k != identitiesKey {
			rest[k] = v
		}
	}
	stored["trustgate"] = rest
	return stored, nil
}
