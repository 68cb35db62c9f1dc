package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/devissuer"
	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/server/console"
)

// consoleConfig is `console` in trustgate.yaml: the approval console's
// sign-in with the company IdP (DESIGN §13). Absent: no console.
type consoleConfig struct {
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

	// devSecret is the dev issuer's console client secret, for development
	// defaults only (no file).
	devSecret string
}

// devConsole is the console of development defaults: the dev issuer's
// people issuer is the IdP, its sign-in page lets a developer pick a demo
// approver, and the client id is the server's URL, the audience the
// example bundle's dev-people provider accepts.
func devConsole(serverIssuer string) *consoleConfig {
	return &consoleConfig{Issuer: "http://" + devIssuerAddr + devissuer.PeoplePath, ClientID: serverIssuer,
		devSecret: devissuer.ConsoleClientSecret}
}

// consoleCallbackPath is where the console's callback is served.
const consoleCallbackPath = "/console/callback"

// consoleProblems checks console, each problem naming its key.
func (c *config) consoleProblems() []string {
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
	if err := checkURL(c.consoleRedirect(), c.AllowInsecureIssuers); err != nil {
		add("redirect_url", "%v", err)
	} else if u, _ := url.Parse(c.consoleRedirect()); u.Path != consoleCallbackPath {
		add("redirect_url", "the console's callback is served at %s, not %q", consoleCallbackPath, u.Path)
	}
	if cc.SessionKeyFile != "" {
		if _, err := readSessionKey(cc.SessionKeyFile); err != nil {
			add("session_key_file", "%v", err)
		}
	}
	return p
}

func (c *config) consoleRedirect() string {
	if c.Console.RedirectURL != "" {
		return c.Console.RedirectURL
	}
	return strings.TrimSuffix(c.Issuer, "/") + consoleCallbackPath
}

// newConsole builds the console of cfg; nil without one.
func newConsole(cfg config, eng *engine.Engine, log *zap.Logger) (http.Handler, error) {
	cc := cfg.Console
	if cc == nil {
		return nil, nil
	}
	secret := cc.devSecret
	if secret == "" {
		var err error
		if secret, err = readSecretFile(cc.ClientSecretFile, 1); err != nil {
			return nil, fmt.Errorf("console.client_secret_file: %w", err)
		}
	}
	key := make([]byte, console.KeySize)
	if cc.SessionKeyFile == "" {
		_, _ = rand.Read(key) // crypto/rand.Read never fails
		log.Warn("console.session_key_file is not set: console sessions are sealed with a key generated at start, " +
			"so a restart signs everyone out and other replicas do not accept this one's sessions")
	} else {
		var err error
		if key, err = readSessionKey(cc.SessionKeyFile); err != nil {
			return nil, fmt.Errorf("console.session_key_file: %w", err)
		}
	}
	c, err := console.New(console.Config{Engine: eng, Issuer: cc.Issuer, ClientID: cc.ClientID, ClientSecret: secret,
		RedirectURL: cfg.consoleRedirect(), SessionKey: key, Logger: log.Named("console")})
	if err != nil {
		return nil, err
	}
	log.Info("approval console enabled", zap.String("url", strings.TrimSuffix(cfg.consoleRedirect(), "callback")),
		zap.String("idp", cc.Issuer))
	return c.Handler(), nil
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
