package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/trustgate/trustgate/engine/scope"

	"github.com/trustgate/trustgate/server/console"
)

// Console is `console` in trustgate.yaml: the approval console's
// sign-in with the company IdP (DESIGN §13). Absent: no console.
type Console struct {
	// Issuer is the IdP's issuer URL. It must also be a provider of the
	// bundle whose audiences include ClientID: the console's ID tokens are
	// verified like any bearer token.
	Issuer string `json:"issuer"`
	// ClientID is the console's OAuth client at the IdP.
	ClientID string `json:"client_id"`
	// ClientSecretFile holds the client's secret; a trailing newline is
	// not part of it.
	ClientSecretFile string `json:"client_secret_file"`
	// RedirectURL is the callback registered at the IdP. Default: issuer
	// (of this server) + /console/callback.
	RedirectURL string `json:"redirect_url"`
	// SessionKeyFile holds the key that seals session cookies: 32 bytes,
	// raw or base64 (openssl rand -base64 32). Replicas must share it.
	// Absent: a key generated at start, so a restart signs everyone out
	// and replicas do not share sessions.
	SessionKeyFile string `json:"session_key_file"`
	// Scopes are what the console (and `trustgate login`) ask the IdP for.
	// Absent: openid profile email, plus groups when the IdP's discovery
	// lists it in scopes_supported. Given: exactly these, openid among
	// them.
	Scopes []string `json:"scopes"`
	// CLIClientID is the public (native) client `trustgate login` signs
	// in with, as GET /.well-known/trustgate-console tells it. Its ID
	// tokens carry it as aud, so the IdP's provider must list it among its
	// audiences. Absent: none is told (the CLI then needs --client-id).
	CLIClientID string `json:"cli_client_id"`
	// CLIDevice: the CLI's client has no loopback redirect, so `trustgate
	// login` uses the device authorization grant (RFC 8628).
	CLIDevice bool `json:"cli_device"`

	// devSecret is the dev issuer's console client secret, for development
	// defaults only (no file).
	devSecret string
}

// consoleCallbackPath is where the console's callback is served.
const consoleCallbackPath = "/console/callback"

// consoleProblems checks console, each problem naming its key.
func (c *Config) consoleProblems() []string {
	cc := c.Console
	if cc == nil {
		return nil
	}
	var p []string
	add := func(key, format string, args ...any) { p = append(p, "console."+key+": "+fmt.Sprintf(format, args...)) }
	if err := checkURL(cc.Issuer, c.AllowInsecureIssuers); err != nil {
		add("issuer", "%v", err)
	}
	if cc.ClientID == "" {
		add("client_id", "is required")
	}
	if cc.devSecret == "" {
		if _, err := readSecretFile(cc.ClientSecretFile, 1); err != nil {
			add("client_secret_file", "%v", err)
		}
	}
	if err := checkURL(c.ConsoleRedirect(), c.AllowInsecureIssuers); err != nil {
		add("redirect_url", "%v", err)
	} else if u, _ := url.Parse(c.ConsoleRedirect()); u.Path != consoleCallbackPath {
		add("redirect_url", "the console's callback is served at %s, not %q", consoleCallbackPath, u.Path)
	}
	if cc.SessionKeyFile != "" {
		if _, err := readSessionKey(cc.SessionKeyFile); err != nil {
			add("session_key_file", "%v", err)
		}
	}
	if msg := scopesProblem(cc.Scopes); msg != "" {
		add("scopes", "%s", msg)
	}
	if cc.CLIDevice && cc.CLIClientID == "" {
		add("cli_device", "applies to the CLI's client: set cli_client_id too")
	}
	return p
}

// scopesProblem is what is wrong with configured scopes, "" if nothing.
func scopesProblem(scopes []string) string {
	if scopes == nil {
		return ""
	}
	for _, s := range scopes {
		if !scope.Valid(s) {
			return fmt.Sprintf("%q is not an OAuth scope", s)
		}
	}
	if !slices.Contains(scopes, "openid") {
		return "must include openid: the console signs in with OpenID Connect"
	}
	return ""
}

// ConsoleRedirect is the console's callback URL: redirect_url, or the
// server's issuer + /console/callback.
func (c *Config) ConsoleRedirect() string {
	if c.Console.RedirectURL != "" {
		return c.Console.RedirectURL
	}
	return strings.TrimSuffix(c.Issuer, "/") + consoleCallbackPath
}

// ClientSecret is the console's OAuth client secret: the dev issuer's on
// development defaults, else client_secret_file's content.
func (cc *Console) ClientSecret() (string, error) {
	if cc.devSecret != "" {
		return cc.devSecret, nil
	}
	secret, err := readSecretFile(cc.ClientSecretFile, 1)
	if err != nil {
		return "", fmt.Errorf("console.client_secret_file: %w", err)
	}
	return secret, nil
}

// SessionKey is the key in session_key_file; nil without one (the caller
// then generates a key of its own).
func (cc *Console) SessionKey() ([]byte, error) {
	if cc.SessionKeyFile == "" {
		return nil, nil
	}
	key, err := readSessionKey(cc.SessionKeyFile)
	if err != nil {
		return nil, fmt.Errorf("console.session_key_file: %w", err)
	}
	return key, nil
}

// readSessionKey reads a console session key: 32 bytes, raw or base64.
func readSessionKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil && len(k) == console.KeySize {
		return k, nil
	}
	if len(data) == console.KeySize {
		return data, nil
	}
	return nil, fmt.Errorf("%s must hold %d bytes, raw or base64 (openssl rand -base64 %d)", path, console.KeySize, console.KeySize)
}
