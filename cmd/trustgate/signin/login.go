package signin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ErrLogin: a sign-in that cannot complete. What failed follows it.
var ErrLogin = errors.New("sign-in failed")

// Config is how a sign-in reaches the person and the IdP.
type Config struct {
	Settings
	// HTTPClient reaches the IdP. Required.
	HTTPClient *http.Client
	// Prompt receives what the person must do: the URL to open, or the
	// device code to enter. Required.
	Prompt io.Writer
	// OpenBrowser opens a URL in the person's browser. Nil: the URL is
	// only printed.
	OpenBrowser func(url string) error
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// client is an IdP as the CLI's OAuth client sees it.
type client struct {
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	device   bool // the IdP has a device authorization endpoint
}

// discover reads the IdP's discovery document and the client's secret.
func (cfg Config) discover(ctx context.Context) (*client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	secret, err := readSecret(cfg.ClientSecretFile)
	if err != nil {
		return nil, err
	}
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("the identity provider's discovery: %w", err)
	}
	oc := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: secret, Endpoint: prov.Endpoint(), Scopes: cfg.scopes(prov)}
	if secret == "" {
		// A public client names itself in the body (RFC 8628 §3.4). Left
		// to detect the style, oauth2 sends every request twice, Basic
		// first: a denied device code, gone after the first answer, was
		// reported as the second's invalid_grant.
		oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	v := prov.VerifierContext(oidc.ClientContext(ctx, cfg.HTTPClient), &oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now})
	return &client{oauth: oc, verifier: v, device: prov.Endpoint().DeviceAuthURL != ""}, nil
}

// Login signs the person in, with the device grant when cfg.Device says
// so and the loopback redirect otherwise, and returns the verified
// credentials.
func Login(ctx context.Context, cfg Config) (Credentials, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c, err := cfg.discover(ctx)
	if err != nil {
		return Credentials{}, err
	}
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	var (
		tok   *oauth2.Token
		nonce string
	)
	if cfg.Device {
		tok, err = c.deviceFlow(ctx, cfg.Prompt)
	} else {
		tok, nonce, err = c.loopbackFlow(ctx, cfg)
	}
	if err != nil {
		return Credentials{}, err
	}
	return c.credentials(ctx, cfg.Settings, tok, nonce, "")
}

// deviceFlow is RFC 8628: the person enters a code on another device.
func (c *client) deviceFlow(ctx context.Context, prompt io.Writer) (*oauth2.Token, error) {
	if !c.device {
		return nil, errors.New("the identity provider offers no device authorization endpoint: sign in without --device")
	}
	da, err := c.oauth.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: device authorization: %w", ErrLogin, redact(err))
	}
	// url.Parse refuses control characters: what the IdP sent cannot
	// rewrite the person's terminal.
	verify, err := url.Parse(da.VerificationURI)
	if err != nil || (verify.Scheme != "https" && verify.Scheme != "http") {
		return nil, fmt.Errorf("%w: the identity provider's verification URI is not a web URL", ErrLogin)
	}
	_, _ = fmt.Fprintf(prompt, "To sign in, open %s and enter the code %q\n", verify, da.UserCode)
	if complete, err := url.Parse(da.VerificationURIComplete); err == nil && complete.Scheme == verify.Scheme {
		_, _ = fmt.Fprintf(prompt, "(or open %s)\n", complete)
	}
	tok, err := c.oauth.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogin, redact(err))
	}
	return tok, nil
}

// credentials verifies the ID token of tok (and its nonce, when one was
// sent) and keeps it with the refresh token: tok's, or keep when the IdP
// did not rotate it.
func (c *client) credentials(ctx context.Context, s Settings, tok *oauth2.Token, nonce, keep string) (Credentials, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Credentials{}, fmt.Errorf("%w: the token response has no id_token", ErrLogin)
	}
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: the ID token: %w", ErrLogin, err)
	}
	if nonce != "" && !equal(idt.Nonce, nonce) {
		return Credentials{}, fmt.Errorf("%w: the ID token's nonce does not match", ErrLogin)
	}
	var who struct {
		Email string `json:"email"`
	}
	_ = idt.Claims(&who) // verified JSON; the name is only shown
	refresh := tok.RefreshToken
	if refresh == "" {
		refresh = keep
	}
	return Credentials{Issuer: s.Issuer, ClientID: s.ClientID, ClientSecretFile: s.ClientSecretFile, Scopes: c.oauth.Scopes,
		IDToken: raw, RefreshToken: refresh, Expiry: idt.Expiry, Subject: idt.Subject, Email: who.Email}, nil
}

// redact keeps an OAuth error's code and drops the response body, which a
// misbehaving IdP could fill with anything, a token included.
func redact(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = "no error code"
		}
		return fmt.Errorf("the identity provider answered %d %.64q", re.Response.StatusCode, code)
	}
	return err
}

// readSecret reads a client secret file; "" for none. A trailing newline
// is not part of the secret.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--client-secret-file: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("--client-secret-file: %s is empty", path)
	}
	return s, nil
}
