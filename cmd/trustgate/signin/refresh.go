package signin

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// refreshBefore: an ID token with less than this left is refreshed, so
// that it does not expire on its way to the server.
const refreshBefore = time.Minute

// Token returns the stored ID token, refreshed first (and the refresh
// kept) when it expires within a minute. Without a refresh token, or when
// the IdP refuses it, the person must sign in again.
func Token(ctx context.Context, cfg Config, s Store) (string, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c, err := s.Load()
	if err != nil {
		return "", err
	}
	if cfg.Now().Add(refreshBefore).Before(c.Expiry) {
		return c.IDToken, nil
	}
	if c.RefreshToken == "" {
		return "", fmt.Errorf("your sign-in expired at %s and the identity provider gave no refresh token: run trustgate login",
			c.Expiry.UTC().Format(time.RFC3339))
	}
	fresh, err := refresh(ctx, cfg, c)
	if err != nil {
		return "", fmt.Errorf("your sign-in expired and could not be refreshed (%w): run trustgate login", err)
	}
	if err := s.Save(fresh); err != nil {
		return "", fmt.Errorf("keeping the refreshed sign-in: %w", err)
	}
	return fresh.IDToken, nil
}

// refresh redeems c's refresh token at c's IdP for a new ID token,
// verified like the first.
func refresh(ctx context.Context, cfg Config, c Credentials) (Credentials, error) {
	cfg.Settings = Settings{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecretFile: c.ClientSecretFile, Scopes: c.Scopes}
	cl, err := cfg.discover(ctx)
	if err != nil {
		return Credentials{}, err
	}
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	expired := &oauth2.Token{RefreshToken: c.RefreshToken, Expiry: cfg.Now().Add(-time.Second)}
	tok, err := cl.oauth.TokenSource(ctx, expired).Token()
	if err != nil {
		return Credentials{}, redact(err)
	}
	fresh, err := cl.credentials(ctx, cfg.Settings, tok, "", c.RefreshToken)
	if err == nil && fresh.Subject != c.Subject {
		// OpenID Connect Core §12.2: a refreshed ID token is the same
		// person's.
		return Credentials{}, fmt.Errorf("%w: the refreshed ID token names another subject", ErrLogin)
	}
	return fresh, err
}
