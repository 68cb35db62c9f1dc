package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
)

// errLogin: a sign-in that cannot complete (state or nonce mismatch, the
// IdP refused, the code exchange or the ID token failed). What failed goes
// to the log; the person is told to try again.
var errLogin = errors.New("sign-in failed")

// ErrIdPUnavailable: the IdP's discovery document could not be read.
var ErrIdPUnavailable = errors.New("the identity provider cannot be reached")

// idp is the company IdP as an OAuth client sees it, discovered once.
type idp struct {
	cfg Config

	mu       sync.Mutex
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newIDP(cfg Config) *idp { return &idp{cfg: cfg} }

// client returns the OAuth config and the ID token verifier, fetching the
// IdP's discovery document on first use (and after a failure). Only the
// configured issuer is ever fetched, never a URL from a token.
func (p *idp) client() (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oauth != nil {
		return p.oauth, p.verifier, nil
	}
	// The provider's key set keeps this context for its later fetches: it
	// must outlive the request. The client's timeout bounds each fetch.
	ctx := oidc.ClientContext(context.Background(), p.cfg.HTTPClient)
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIdPUnavailable, err)
	}
	p.oauth = &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, RedirectURL: p.cfg.RedirectURL,
		Endpoint: prov.Endpoint(), Scopes: Scopes(p.cfg.Scopes, prov),
	}
	p.verifier = prov.Verifier(&oidc.Config{
		ClientID: p.cfg.ClientID, Now: p.cfg.Now,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.ES256, oidc.ES384, oidc.EdDSA},
	})
	return p.oauth, p.verifier, nil
}

// DefaultScopes are what the console asks every IdP for.
var DefaultScopes = []string{oidc.ScopeOpenID, "profile", "email"}

// optionalScopes are asked for too when the IdP lists them in its
// discovery's scopes_supported: Dex, Okta and others put the groups claim
// in the ID token only when the groups scope is asked for, and refuse a
// scope they do not know.
var optionalScopes = []string{"groups"}

// Scopes are the scopes a sign-in with prov asks for: configured as
// given, or DefaultScopes plus each optional scope prov supports.
func Scopes(configured []string, prov *oidc.Provider) []string {
	if len(configured) > 0 {
		return slices.Clone(configured)
	}
	var d struct {
		ScopesSupported []string `json:"scopes_supported"`
	}
	_ = prov.Claims(&d) // discovery is JSON already decoded once; none listed: none added
	out := slices.Clone(DefaultScopes)
	for _, s := range optionalScopes {
		if slices.Contains(d.ScopesSupported, s) {
			out = append(out, s)
		}
	}
	return out
}

// login starts a sign-in: a fresh state, nonce and PKCE verifier go into
// the sealed login cookie, and the browser to the IdP. ?next= is where to
// return afterwards, kept only when it is a console path.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	oauth, _, err := c.idp.client()
	if err != nil {
		c.fail(w, r, "login", err)
		return
	}
	l := pendingLogin{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expiry: c.now().Add(loginTTL).Unix()}
	if err := c.cookies.set(w, loginCookie, l, time.Unix(l.Expiry, 0)); err != nil {
		c.fail(w, r, "login", err)
		return
	}
	to := oauth.AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// callback completes a sign-in in numbered steps, so that none is skipped:
//
//  1. the login cookie this browser got when it left, unexpired;
//  2. the state the IdP returned equals the cookie's;
//  3. the code exchanged with the PKCE verifier;
//  4. the ID token verified (issuer, audience = client id, expiry,
//     signature) and its nonce equal to the cookie's;
//  5. the session cookie, expiring with the ID token, and the browser back
//     to where it was going.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	c.cookies.clear(w, loginCookie)
	s, next, err := c.completeLogin(r)
	if err != nil {
		c.fail(w, r, "callback", err)
		return
	}
	if err := c.cookies.set(w, sessionCookie, s, time.Unix(s.Expiry, 0)); err != nil {
		c.fail(w, r, "callback", err)
		return
	}
	c.log.Info("console sign-in", zap.String("iss", s.Issuer), zap.String("sub", s.Subject))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) completeLogin(r *http.Request) (session, string, error) {
	// 1. The login cookie.
	l, err := c.cookies.login(r)
	if err != nil {
		return session{}, "", fmt.Errorf("%w: no login in progress in this browser (or it took longer than %s)", errLogin, loginTTL)
	}
	// 2. The state.
	q := r.URL.Query()
	if !equal(q.Get("state"), l.State) {
		return session{}, "", fmt.Errorf("%w: state does not match", errLogin)
	}
	if e := q.Get("error"); e != "" {
		return session{}, "", fmt.Errorf("%w: the identity provider answered %.64q", errLogin, e)
	}
	oauth, verifier, err := c.idp.client()
	if err != nil {
		return session{}, "", err
	}
	// 3. The code, with the PKCE verifier.
	ctx := oidc.ClientContext(r.Context(), c.idp.cfg.HTTPClient)
	tok, err := oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return session{}, "", fmt.Errorf("%w: code exchange: %w", errLogin, redactOAuth(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return session{}, "", fmt.Errorf("%w: the token response has no id_token", errLogin)
	}
	// 4. The ID token and its nonce.
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return session{}, "", fmt.Errorf("%w: ID token: %w", errLogin, err)
	}
	if !equal(idt.Nonce, l.Nonce) {
		return session{}, "", fmt.Errorf("%w: nonce does not match", errLogin)
	}
	// 5. The session.
	var claims struct {
		Email             string `json:"email"`
		PreferredUsername string `json:"preferred_username"`
	}
	_ = idt.Claims(&claims) // verified JSON; a name is only shown
	return session{Token: raw, Issuer: idt.Issuer, Subject: idt.Subject,
		Name: firstNonEmpty(claims.Email, claims.PreferredUsername, idt.Subject),
		CSRF: randomString(), Expiry: idt.Expiry.Unix()}, l.Next, nil
}

// redactOAuth keeps an OAuth error's code and drops the response body,
// which a misbehaving IdP could fill with anything, a token included.
func redactOAuth(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("the token endpoint answered %d %.64q", re.Response.StatusCode, re.ErrorCode)
	}
	return err
}

// logout ends the session (a POST with the session's CSRF token, so that
// no other site can sign a person out).
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	s, err := c.cookies.session(r)
	if err == nil && !equal(r.PostFormValue(csrfField), s.CSRF) {
		c.fail(w, r, "logout", errCSRF)
		return
	}
	c.cookies.clear(w, sessionCookie)
	c.render(w, http.StatusOK, "signedout.html", pageData{Title: "Signed out"})
}

// safeNext is next when it is a path of the console on this origin, and
// the console's front page otherwise: never another origin, never a
// scheme, never a protocol-relative or backslashed path.
func safeNext(next string) string {
	const home = PathPrefix
	if next == "" || strings.ContainsAny(next, "\\\x00") || strings.HasPrefix(next, "//") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if !strings.HasPrefix(u.Path, PathPrefix) || strings.Contains(u.Path, "//") || strings.Contains(u.Path, "..") {
		return home
	}
	return u.EscapedPath()
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
