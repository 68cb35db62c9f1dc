package policy

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trustgate/trustgate/engine/verify"
)

// Values the data model accepts.
var (
	platforms     = []string{verify.PlatformGitLab, verify.PlatformGitHub, verify.PlatformGeneric}
	algorithms    = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}
	rootKeys      = []string{"providers", "identities", "risk_levels"}
	providerKeys  = []string{"issuer", "platform", "audiences", "jwks_url", "algorithms", "max_token_lifetime", "one_time_use", "emails_verified"}
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
	data      []byte        // its entry in the bundles' data, as JSON: what the library reads (dataStore)
}

// index is what the engine looks up in the data, built once per load.
type index struct {
	providers  map[string]*verify.Provider // by name
	byIssuer   map[string]*verify.Provider
	identities map[string]*identity // by name
	byEmail    map[string]string    // email → identity name
	jitNames   []string             // the just-in-time identities, sorted
	candidates map[string]any       // data.trustgate.index (candidateIndex)
	riskLevels map[string]int       // validated: the bundle's, or the library's
	// pending brings candidates while candidateIndex runs (validate starts
	// it; finish waits for it).
	pending <-chan map[string]any
}

// finish waits for the candidate index validate started.
func (idx *index) finish() {
	if idx.pending != nil {
		idx.candidates, idx.pending = <-idx.pending, nil
	}
}

// validator checks data.trustgate against the data model (DESIGN §3) and
// builds the index, collecting every problem rather than stopping at one.
type validator struct {
	opts     Options
	m        *merged
	problems []Problem
	globs    map[string]error    // patterns compiled so far: refs and claims repeat
	lists    map[string][]string // shared's
	// riskLevels are the approvals each risk level needs (the bundle's, or
	// the library's), read before the identities that depend on them.
	riskLevels map[string]int
	// library is what the library says of risk: its levels, used when the
	// data has none, and the risk every request starts at.
	library libraryRisk
	buf     []byte         // entryJSON's
	decoded map[string]any // entryValue's decoded strings
}

func (v *validator) add(file, key, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: file, Key: key, Message: fmt.Sprintf(format, args...)})
}

// validate checks the merged data and returns the index of what is valid.
func validate(m *merged, opts Options, library libraryRisk) (index, []Problem) {
	v := &validator{opts: opts, m: m, library: library, globs: make(map[string]error), lists: make(map[string][]string)}
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
	names := sortedKeys(ids)
	for _, k := range sortedKeys(tg) {
		if !slices.Contains(rootKeys, k) && isNearly(k, rootKeys) {
			v.add(m.owner("trustgate."+k), "trustgate."+k, "unknown key; did you mean one of %s?", strings.Join(rootKeys, ", "))
		}
	}
	providers, hasProviders := v.section(tg["providers"], "trustgate.providers")
	v.indexProviders(&idx, providers)
	levels, hasLevels := tg["risk_levels"]
	v.riskLevels = v.readRiskLevels(levels, hasLevels)
	idx.riskLevels = v.riskLevels
	identities, hasIdentities := v.section(tg["identities"], "trustgate.identities")
	cands := v.indexIdentities(&idx, identities, names, providers)
	if hasProviders && len(providers) == 0 {
		v.add(m.owner("trustgate.providers"), "trustgate.providers", "no provider is defined: no token could ever be verified")
	}
	if hasIdentities && len(identities) == 0 {
		v.add(m.owner("trustgate.identities"), "trustgate.identities", "no identity is defined: nothing could ever be granted")
	}
	// The candidate index is derived while the Rego compiles.
	pending := make(chan map[string]any, 1)
	go func() { pending <- indexCandidates(cands) }()
	idx.pending = pending
	return idx, v.problems
}

// indexProviders validates each provider and indexes the valid ones by name
// and by issuer; two providers of one issuer are a problem.
func (v *validator) indexProviders(idx *index, providers map[string]any) {
	for _, name := range sortedKeys(providers) {
		p := v.provider(name, providers[name])
		if p == nil {
			continue
		}
		key := "trustgate.providers." + name
		if other, dup := idx.byIssuer[p.Issuer]; dup {
			v.add(v.m.owner(key), key+".issuer", "issuer %q is also provider %s's (in %s): routing by issuer must be unambiguous",
				p.Issuer, other.Name, v.m.owner("trustgate.providers."+other.Name))
			continue
		}
		idx.byIssuer[p.Issuer], idx.providers[name] = p, p
	}
}

// indexIdentities validates each identity (names are identities' keys,
// sorted) and indexes the valid ones by name and by email; two identities
// of one email are a problem. It returns what the candidate index reads of
// every identity, valid or not: its email and federations.
func (v *validator) indexIdentities(idx *index, identities map[string]any, names []string, providers map[string]any) []candidate {
	cands := make([]candidate, 0, len(names))
	for _, part := range v.validateIdentities(names, identities, providers) {
		for _, id := range part.ids {
			idx.identities[id.name] = id
		}
		cands = append(cands, part.cands...)
		v.problems = append(v.problems, part.problems...)
	}
	for _, name := range names {
		id := idx.identities[name]
		if id != nil && id.jit != nil {
			idx.jitNames = append(idx.jitNames, name)
		}
		if id == nil || id.email == "" {
			continue
		}
		key := "trustgate.identities." + name + ".email"
		if other, dup := idx.byEmail[id.email]; dup {
			v.add(v.m.owner(key), key, "%q is also identity %s's email (in %s)", id.email, other, v.m.owner("trustgate.identities."+other))
			continue
		}
		idx.byEmail[id.email] = name
	}
	return cands
}

// validated is one part of the identities, validated.
type validated struct {
	ids      []*identity
	cands    []candidate // of every identity of the part whose value decodes
	problems []Problem
}

// validateIdentities validates the identities of names (sorted) in as many
// parts as the process runs goroutines at once, each part by a validator
// of its own (all of them only read the data); the parts come back in
// names' order, and so do their problems.
func (v *validator) validateIdentities(names []string, identities, providers map[string]any) []validated {
	n := min(runtime.GOMAXPROCS(0), max(1, len(names)/1000))
	parts := make([]validated, n)
	var wg sync.WaitGroup
	for i := range n {
		part := names[i*len(names)/n : (i+1)*len(names)/n]
		wg.Go(func() {
			w := &validator{opts: v.opts, m: v.m, riskLevels: v.riskLevels, library: v.library, globs: make(map[string]error), lists: make(map[string][]string)}
			parts[i].cands = make([]candidate, 0, len(part))
			for _, name := range part {
				raw, ok := w.entryValue(name, identities[name])
				if !ok {
					continue
				}
				parts[i].cands = append(parts[i].cands, candidateOf(name, raw))
				if id := w.identity(name, raw, providers, identities); id != nil {
					id.data = w.entryJSON(name, identities[name], raw)
					parts[i].ids = append(parts[i].ids, id)
				}
			}
			parts[i].problems = w.problems
		})
	}
	wg.Wait()
	return parts
}

// entryValue is the value of identity name's entry, x: a rawEntry decoded.
func (v *validator) entryValue(name string, x any) (any, bool) {
	if v.decoded == nil {
		v.decoded = make(map[string]any)
	}
	value, err := internedEntryValue(x, v.decoded)
	if err != nil {
		key := "trustgate.identities." + name
		v.add(v.m.owner(key), key, "cannot parse: %v", err)
		return nil, false
	}
	return value, true
}

// entryJSON is an identity's entry, x, as JSON, kept instead of its AST
// value: a rawEntry's own text (its decoding is raw, the value validated),
// else raw written in a buffer the validator reuses and copied at its size.
func (v *validator) entryJSON(name string, x, raw any) []byte {
	if text, ok := x.(rawEntry); ok {
		return text
	}
	b, err := appendJSON(v.buf[:0], raw)
	if err != nil {
		key := "trustgate.identities." + name
		v.add(v.m.owner(key), key, "cannot be kept as JSON: %v", err)
		return nil
	}
	v.buf = b
	return bytes.Clone(b)
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
