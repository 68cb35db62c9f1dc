package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/trustgate/trustgate/engine/verify"
)

// Model is what a set of bundles grants, as Load validates it, for static
// analysis of a change (engine/policydiff): the providers with their
// defaults filled in, the identities decoded, the risk levels, the rest of
// the data (what custom rules may read) and the Rego.
type Model struct {
	Providers  map[string]verify.Provider
	Identities map[string]Identity
	// RiskLevels are the approvals each risk level needs: the bundles',
	// or the library's when they have none.
	RiskLevels map[string]int
	// Data is the bundles' data but for trustgate.providers,
	// trustgate.identities and trustgate.risk_levels, as decoded
	// (numbers json.Number).
	Data map[string]any
	// Modules are the bundles' Rego but tests, by the file's path inside
	// its bundle (prefixed with "#2 " and so on when two bundles have one).
	Modules map[string]*ast.Module
	// Library is the library's Rego but tests, by file.
	Library   map[string]*ast.Module
	Revisions []Revision
}

// Identity is one identity of a Model: its data, decoded.
type Identity struct {
	Email       string
	Description string
	Roles       []string
	Scopes      []string
	Audiences   []string
	TTL         time.Duration // 0: none given, the server's default
	ExpiresAt   time.Time     // zero: never
	// JIT is the jit block of a just-in-time identity; nil for standing
	// access.
	JIT         *JIT
	Approvers   []Federation // of a just-in-time identity
	Federations []Federation
}

// Federation is one federation (or just-in-time approver) of a Model: the
// conditions a token must meet, each absent when empty.
type Federation struct {
	Provider     string
	Subject      string
	Claims       map[string]ClaimPattern
	Refs         []string
	Environments []string
}

// ClaimPattern is one claims entry: its globs, and whether it was written
// as a list.
type ClaimPattern struct {
	Globs []string
	List  bool
}

// LoadModel loads the bundles at paths exactly as Load does (any problem
// refuses them, as a *ProblemsError) and also describes what they grant.
func LoadModel(ctx context.Context, paths []string, opts Options) (*Policy, *Model, error) {
	model := &Model{}
	p, problems := build(ctx, paths, opts.withDefaults(), model)
	if len(problems) > 0 {
		return nil, nil, &ProblemsError{Problems: problems}
	}
	return p, model, nil
}

// fill describes the loaded sources, their merged data and its index, and
// the library build parsed.
func (model *Model) fill(sources []*source, m *merged, idx index, library map[string]*ast.Module) error {
	model.Revisions, _ = revisions(sources)
	model.Providers = make(map[string]verify.Provider, len(idx.providers))
	for name, p := range idx.providers {
		model.Providers[name] = *p
	}
	model.Identities = make(map[string]Identity, len(idx.identities))
	for name, id := range idx.identities {
		decoded, err := decodeIdentity(id)
		if err != nil {
			return fmt.Errorf("identity %s: %w", name, err)
		}
		model.Identities[name] = decoded
	}
	model.RiskLevels, model.Data = maps.Clone(idx.riskLevels), dataBeside(m.data)
	model.Modules = make(map[string]*ast.Module)
	for _, src := range sources {
		for name, mod := range src.modules {
			rel := bundleRelative(src.path, name)
			for n := 2; model.Modules[rel] != nil; n++ {
				rel = fmt.Sprintf("#%d %s", n, bundleRelative(src.path, name))
			}
			model.Modules[rel] = mod
		}
	}
	model.Library = library
	return nil
}

// bundleRelative is the path inside its bundle of a file bundleFile named.
func bundleRelative(bundlePath, name string) string {
	if IsRemote(bundlePath) {
		return strings.TrimPrefix(name, strings.TrimSuffix(bundlePath, "/")+"/")
	}
	if rel, err := filepath.Rel(bundlePath, name); err == nil {
		return filepath.ToSlash(rel)
	}
	return name
}

// dataBeside is the merged data but the providers, identities and risk
// levels, which the model describes on their own.
func dataBeside(data map[string]any) map[string]any {
	rest := maps.Clone(data)
	tg, _ := data["trustgate"].(map[string]any)
	tgRest := maps.Clone(tg)
	delete(tgRest, "providers")
	delete(tgRest, identitiesKey)
	delete(tgRest, "risk_levels")
	rest["trustgate"] = tgRest
	return rest
}

// identityData is an identity's entry as validated JSON.
type identityData struct {
	Email       string           `json:"email"`
	Description string           `json:"description"`
	Roles       []string         `json:"roles"`
	Scopes      []string         `json:"scopes"`
	Audiences   []string         `json:"audiences"`
	ExpiresAt   string           `json:"expires_at"`
	Federations []federationData `json:"federations"`
	JIT         struct {
		Approvers []federationData `json:"approvers"`
	} `json:"jit"`
}

type federationData struct {
	Provider     string                     `json:"provider"`
	Subject      string                     `json:"subject"`
	Claims       map[string]json.RawMessage `json:"claims"`
	Refs         []string                   `json:"refs"`
	Environments []string                   `json:"environments"`
}

func decodeIdentity(id *identity) (Identity, error) {
	var d identityData
	if err := json.Unmarshal(id.data, &d); err != nil {
		return Identity{}, err
	}
	out := Identity{
		Email: d.Email, Description: d.Description,
		Roles: id.roles, Scopes: id.scopes, Audiences: id.audiences,
		TTL: id.ttl, JIT: id.jit,
	}
	if d.ExpiresAt != "" {
		at, err := time.Parse(time.RFC3339, d.ExpiresAt)
		if err != nil {
			return Identity{}, err
		}
		out.ExpiresAt = at
	}
	var err error
	if out.Federations, err = decodeFederations(d.Federations); err != nil {
		return Identity{}, err
	}
	if id.jit != nil {
		out.Approvers, err = decodeFederations(d.JIT.Approvers)
	}
	return out, err
}

func decodeFederations(list []federationData) ([]Federation, error) {
	out := make([]Federation, len(list))
	for i, f := range list {
		out[i] = Federation{Provider: f.Provider, Subject: f.Subject, Refs: f.Refs, Environments: f.Environments}
		if len(f.Claims) > 0 {
			out[i].Claims = make(map[string]ClaimPattern, len(f.Claims))
		}
		for name, raw := range f.Claims {
			var p ClaimPattern
			if err := json.Unmarshal(raw, &p.Globs); err == nil {
				p.List = true
			} else {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, fmt.Errorf("claim %s: %w", name, err)
				}
				p.Globs = []string{s}
			}
			out[i].Claims[name] = p
		}
	}
	return out, nil
}
