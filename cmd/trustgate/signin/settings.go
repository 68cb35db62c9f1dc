package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/trustgate/trustgate/server/console"
)

// WellKnownPath is where a Trustgate server with a console tells the CLI
// how to sign in.
const WellKnownPath = "/.well-known/trustgate-console"

// scopeOffline asks for a refresh token (OpenID Connect Core §11).
const scopeOffline = "offline_access"

// Settings are how to sign in with the company IdP.
type Settings struct {
	// Issuer is the IdP's issuer URL.
	Issuer string
	// ClientID is the CLI's OAuth client at the IdP: a public (native)
	// client, or one with a secret (Google's desktop clients have one).
	ClientID string
	// ClientSecretFile holds the client's secret; "" for a public client.
	// The path is kept, not the secret: it is read again to refresh.
	ClientSecretFile string
	// Scopes are what the sign-in asks for. Nil: the console's scopes
	// (openid profile email, plus groups when the IdP lists it), plus
	// offline_access when the IdP lists it, for a refresh token.
	Scopes []string
	// Device: use the device authorization grant (RFC 8628).
	Device bool
}

// FetchSettings reads the server's /.well-known/trustgate-console at base
// (the Trustgate URL) with client.
func FetchSettings(ctx context.Context, client *http.Client, base string) (Settings, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+WellKnownPath, nil)
	if err != nil {
		return Settings{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Settings{}, fmt.Errorf("reading the server's sign-in settings: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return Settings{}, errors.New("the server has no console to sign in to (no " + WellKnownPath + "): give --issuer and --client-id")
	}
	if resp.StatusCode != http.StatusOK {
		return Settings{}, fmt.Errorf("reading the server's sign-in settings: HTTP %d", resp.StatusCode)
	}
	var cs console.CLISettings
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&cs); err != nil {
		return Settings{}, fmt.Errorf("the server's sign-in settings are not JSON: %w", err)
	}
	return Settings{Issuer: cs.Issuer, ClientID: cs.ClientID, Scopes: cs.Scopes, Device: cs.Device}, nil
}

// check names what is missing.
func (s Settings) check() error {
	switch {
	case s.Issuer == "":
		return errors.New("no issuer: give --issuer or --url")
	case s.ClientID == "":
		return errors.New("no client id: give --client-id (the server names no client for the CLI: console.cli_client_id)")
	case s.Scopes != nil && !slices.Contains(s.Scopes, oidc.ScopeOpenID):
		return errors.New("the scopes must include openid")
	}
	return nil
}

// scopes are what a sign-in with prov asks for: s.Scopes, or the
// console's default, plus offline_access when prov lists it.
func (s Settings) scopes(prov *oidc.Provider) []string {
	out := console.Scopes(s.Scopes, prov)
	if slices.Contains(out, scopeOffline) {
		return out
	}
	var d struct {
		ScopesSupported []string `json:"scopes_supported"`
	}
	_ = prov.Claims(&d) // none listed: no refresh token asked for
	if slices.Contains(d.ScopesSupported, scopeOffline) {
		out = append(out, scopeOffline)
	}
	return out
}
