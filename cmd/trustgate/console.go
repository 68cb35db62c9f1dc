package main

import (
	"crypto/rand"
	"strings"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/server/console"
)

// newConsole builds the console of cfg; nil without one.
func newConsole(cfg config.Config, eng *engine.Engine, log *zap.Logger) (*console.Console, error) {
	cc := cfg.Console
	if cc == nil {
		return nil, nil
	}
	secret, err := cc.ClientSecret()
	if err != nil {
		return nil, err
	}
	key, err := cc.SessionKey()
	if err != nil {
		return nil, err
	}
	if key == nil {
		key = make([]byte, console.KeySize)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
		log.Warn("console.session_key_file is not set: console sessions are sealed with a key generated at start, " +
			"so a restart signs everyone out and other replicas do not accept this one's sessions")
	}
	c, err := console.New(console.Config{Engine: eng, Issuer: cc.Issuer, ClientID: cc.ClientID, ClientSecret: secret,
		Scopes: cc.Scopes, CLIClientID: cc.CLIClientID, CLIDevice: cc.CLIDevice,
		RedirectURL: cfg.ConsoleRedirect(), SessionKey: key, Logger: log.Named("console")})
	if err != nil {
		return nil, err
	}
	log.Info("approval console enabled", zap.String("url", strings.TrimSuffix(cfg.ConsoleRedirect(), "callback")),
		zap.String("idp", cc.Issuer))
	return c, nil
}
