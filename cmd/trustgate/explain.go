package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// Exit codes of explain.
const (
	explainAllowed = 0
	explainDenied  = 1
	explainError   = 2
)

type explainFlags struct {
	bundles  stringList
	token    string
	claims   string
	provider string
	identity string
	scopes   string
	auds     stringList
	format   string
	now      string
	issuer   string
	grants   string
}

func runExplain(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("explain", io)
	var f explainFlags
	fs.Var(&f.bundles, "bundle", "bundle directory or .tar.gz (repeatable)")
	fs.StringVar(&f.token, "token", "", "file holding an ID token, or - for standard input (its signature is NOT checked)")
	fs.StringVar(&f.claims, "claims", "", "JSON file of claims")
	fs.StringVar(&f.provider, "provider", "", "provider name (default: the provider whose issuer is the token's iss)")
	fs.StringVar(&f.identity, "identity", "", "identity name or email the caller asks for")
	fs.StringVar(&f.scopes, "scope", "", "space-separated scopes the caller asks for")
	fs.Var(&f.auds, "audience", "audience the caller asks for (repeatable)")
	fs.StringVar(&f.format, "format", "text", "text or json")
	fs.StringVar(&f.now, "now", "", "evaluate at this RFC 3339 time (default: now)")
	fs.StringVar(&f.issuer, "issuer", "https://sts.example.com", "the server's issuer URL (providers' default audience)")
	fs.StringVar(&f.grants, "grants", "", "JSON file of just-in-time requests, as `trustgate access list --format json` prints them: the approved ones are the identity's grants")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := f.check(); err != nil {
		fmt.Fprintf(io.stderr, "trustgate explain: %v\n", err)
		return explainError
	}
	out, err := f.explain(ctx, io.stdin)
	if err != nil {
		fmt.Fprintf(io.stderr, "trustgate explain: %v\n", err)
		return explainError
	}
	if f.format == "json" {
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		out.writeText(io.stdout)
	}
	if out.Decision.Allow {
		return explainAllowed
	}
	return explainDenied
}

func (f *explainFlags) check() error {
	switch {
	case len(f.bundles) == 0:
		return errors.New("at least one --bundle is required")
	case (f.token == "") == (f.claims == ""):
		return errors.New("give exactly one of --token or --claims")
	case f.format != "text" && f.format != "json":
		return fmt.Errorf("--format must be text or json, not %q", f.format)
	}
	return nil
}

// explanation is explain's output.
type explanation struct {
	Provider          string             `json:"provider"`
	Issuer            string             `json:"issuer"`
	SignatureVerified bool               `json:"signature_verified"`
	TokenRefused      string             `json:"token_refused,omitempty"`
	Decision          policy.Decision    `json:"decision"`
	Explanation       policy.Explanation `json:"explanation"`
}

func (f *explainFlags) explain(ctx context.Context, stdin io.Reader) (*explanation, error) {
	claims, err := f.readClaims(stdin)
	if err != nil {
		return nil, err
	}
	pol, err := policy.Load(ctx, f.bundles, policy.Options{ServerIssuer: f.issuer, AllowInsecureIssuers: true})
	if err != nil {
		return nil, err
	}
	prov, err := f.findProvider(pol, claims)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if f.now != "" {
		if now, err = time.Parse(time.RFC3339, f.now); err != nil {
			return nil, fmt.Errorf("--now: %w", err)
		}
	}
	req := engine.Request{Identity: f.identity, Scopes: strings.Fields(f.scopes), Audiences: f.auds}
	grants, err := f.readGrants(prov, claims, now)
	if err != nil {
		return nil, err
	}
	input := engine.WithGrants(engine.Input(pol, prov, claims, req, now), grants)
	d, err := pol.Evaluate(ctx, input)
	if err != nil {
		return nil, err
	}
	ex, err := pol.Explain(ctx, input)
	if err != nil {
		return nil, err
	}
	out := &explanation{Provider: prov.Name, Issuer: prov.Issuer, Decision: d, Explanation: ex}
	if f.token != "" {
		// A token the server refuses before any policy is denied whatever
		// the policy says (a claims file need not be a whole token).
		v := verify.New(verify.Config{Now: func() time.Time { return now }})
		if err := v.CheckClaims(prov, claims); err != nil {
			out.TokenRefused = err.Error()
			out.Decision = policy.Decision{Reasons: []string{"the server refuses this token before any policy: " + err.Error()}}
		}
	}
	return out, nil
}

// readClaims reads claims from --claims, or the payload of --token without
// checking its signature; either way strictly parsed, as the server does.
func (f *explainFlags) readClaims(stdin io.Reader) (map[string]any, error) {
	if f.claims != "" {
		b, err := os.ReadFile(f.claims)
		if err != nil {
			return nil, err
		}
		return verify.ParseClaims(b)
	}
	raw, err := readTokenFile(f.token, stdin)
	if err != nil {
		return nil, err
	}
	claims, err := verify.UnverifiedClaims(raw)
	if err != nil {
		return nil, fmt.Errorf("--token: %w", err)
	}
	return claims, nil
}

func (f *explainFlags) findProvider(pol *policy.Policy, claims map[string]any) (*verify.Provider, error) {
	if f.provider != "" {
		p, ok := pol.ProviderByName(f.provider)
		if !ok {
			return nil, fmt.Errorf("no provider named %q in the bundles", f.provider)
		}
		return p, nil
	}
	iss, _ := claims["iss"].(string)
	p, ok := pol.ProviderByIssuer(iss)
	if !ok {
		return nil, fmt.Errorf("no provider has issuer %q; name one with --provider", iss)
	}
	return p, nil
}

func (e *explanation) writeText(w io.Writer) {
	verdict := "DENIED"
	if e.Decision.Allow {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(w, "decision: %s\n", verdict)
	fmt.Fprintf(w, "provider: %s (%s); the token's signature was not checked (offline)\n", e.Provider, e.Issuer)
	if d := e.Decision; d.Allow {
		fmt.Fprintf(w, "identity: %s (subject %s)\nroles:    %s\nscopes:   %s\naudience: %s\nttl:      %ds\n",
			d.Identity, d.Subject, strings.Join(d.Roles, ", "), strings.Join(d.Scopes, " "), strings.Join(d.Audiences, ", "), d.TTLSeconds)
	}
	names := make([]string, 0, len(e.Explanation.Identities))
	for n := range e.Explanation.Identities {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ie := e.Explanation.Identities[n]
		state := "does not match"
		switch {
		case ie.Matched:
			state = "matches"
		case ie.Expired:
			state = "expired"
		}
		fmt.Fprintf(w, "\nidentity %s: %s\n", n, state)
		writeGrantFailures(w, ie)
		for _, fe := range ie.Federations {
			mark := "no "
			if fe.Matched {
				mark = "yes"
			}
			fmt.Fprintf(w, "  [%s] federation %d (provider %s)\n", mark, fe.Index, fe.Provider)
			for _, why := range fe.Failures {
				fmt.Fprintf(w, "        - %s\n", why)
			}
		}
	}
	if len(e.Decision.Reasons) > 0 {
		fmt.Fprintln(w, "\nreasons:")
		for _, r := range e.Decision.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	}
}

// readGrants reads --grants: the approved requests among those listed
// become grants, each marked with whether it binds the token, as the
// server marks the grants it reads from its store.
func (f *explainFlags) readGrants(prov *verify.Provider, claims map[string]any, now time.Time) ([]access.Grant, error) {
	if f.grants == "" {
		return nil, nil
	}
	b, err := os.ReadFile(f.grants)
	if err != nil {
		return nil, err
	}
	var list struct {
		Requests []access.Request `json:"requests"`
	}
	if err := json.Unmarshal(b, &list); err != nil || list.Requests == nil {
		var one access.Request
		if err := json.Unmarshal(b, &one); err != nil || one.ID == "" {
			return nil, fmt.Errorf("--grants: want {\"requests\": [...]} or one request, as the access API answers")
		}
		list.Requests = []access.Request{one}
	}
	// The grants active at --now, as the engine's store selects them.
	gs := []access.Grant{}
	for _, r := range list.Requests {
		if g, ok := r.GrantAt(now); ok {
			gs = append(gs, g)
		}
	}
	access.MarkBinds(gs, access.Party{Provider: prov.Name, Issuer: prov.Issuer, Platform: prov.Platform, Claims: claims})
	return gs, nil
}

// writeGrantFailures says why no grant covers a just-in-time identity.
func writeGrantFailures(w io.Writer, ie policy.IdentityExplanation) {
	switch {
	case !ie.JustInTime:
	case len(ie.GrantFailures) == 0:
		fmt.Fprintln(w, "  just-in-time: an approved request covers this token")
	default:
		fmt.Fprintln(w, "  just-in-time: no approved request covers this token")
		for _, why := range ie.GrantFailures {
			fmt.Fprintf(w, "        - %s\n", why)
		}
	}
}
