package devissuer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/trustgate/trustgate/engine/enginetest"
	"golang.org/x/oauth2"
)

// signInServer is a dev issuer on loopback whose console client is the
// server at aud.
func signInServer(t *testing.T) (base, aud string) {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	base = "http://" + hs.Listener.Addr().String()
	aud = "http://127.0.0.1:8080"
	iss, err := New(Config{Issuer: base, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = iss.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return base, aud
}

func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// authorize starts a sign-in as the console does and returns the sign-in
// page's URL, the verifier and the nonce.
func authorize(t *testing.T, base, aud string) (*oauth2.Config, string, string, string) {
	t.Helper()
	prov, err := oidc.NewProvider(context.Background(), base+PeoplePath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: aud, ClientSecret: ConsoleClientSecret, RedirectURL: aud + "/console/callback",
		Endpoint: prov.Endpoint(), Scopes: []string{oidc.ScopeOpenID}}
	verifier, nonce := oauth2.GenerateVerifier(), "the-nonce"
	return cfg, cfg.AuthCodeURL("the-state", oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), verifier, nonce
}

// redeem exchanges the code of the redirect back and returns the ID
// token, verified for cfg's client.
func redeem(t *testing.T, base string, cfg *oauth2.Config, back *url.URL, verifier string) *oidc.IDToken {
	t.Helper()
	tok, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := oidc.NewProvider(context.Background(), base+PeoplePath)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return idt
}

func TestTheSignInPageLetsADeveloperPickADemoApproverAndTheConsoleGetsTheirIDToken(t *testing.T) {
	base, aud := signInServer(t)
	cfg, page, verifier, nonce := authorize(t, base, aud)
	resp, err := enginetest.Get(t, nil, page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<label><input type="radio" name="person" value="alice" checked> Alice, prod-approvers</label>`,
		`name="code_challenge_method" value="S256"`, `name="state" value="the-state"`, `<button type="submit">Sign in</button>`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the sign-in page lacks %s", want)
		}
	}
	resp, err = enginetest.Get(t, noRedirects(), page+"&person=alice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || back.Path != "/console/callback" || back.Query().Get("state") != "the-state" {
		t.Fatalf("picking alice: %d to %s", resp.StatusCode, back)
	}
	idt := redeem(t, base, cfg, back, verifier)
	var claims struct {
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil || idt.Subject != "alice" || idt.Nonce != nonce || !slices.Equal(claims.Groups, []string{"prod-approvers"}) {
		t.Fatalf("ID token: sub %q, nonce %q, groups %v (%v)", idt.Subject, idt.Nonce, claims.Groups, err)
	}
	if _, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was redeemed twice")
	}
}

func TestTheSignInRefusesOtherClientsAndBadRedemptions(t *testing.T) {
	base, aud := signInServer(t)
	tests := []struct {
		name     string
		change   func(cfg *oauth2.Config, page, verifier string) (string, string) // page, verifier
		exchange bool                                                             // refused at the token endpoint, not the page
	}{
		{name: "Another redirect URI is refused at the page.", change: func(_ *oauth2.Config, page, v string) (string, string) {
			return strings.Replace(page, url.QueryEscape(aud+"/console/callback"), url.QueryEscape("https://evil.example/cb"), 1), v
		}},
		{name: "A sign-in without PKCE is refused at the page.", change: func(_ *oauth2.Config, page, v string) (string, string) {
			return strings.Replace(page, "code_challenge_method=S256", "code_challenge_method=plain", 1), v
		}},
		{name: "A wrong client secret is refused at the token endpoint.", exchange: true, change: func(cfg *oauth2.Config, page, v string) (string, string) {
			cfg.ClientSecret = "guess"
			return page, v
		}},
		{name: "A wrong PKCE verifier is refused at the token endpoint.", exchange: true, change: func(_ *oauth2.Config, page, _ string) (string, string) {
			return page, oauth2.GenerateVerifier()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, page, verifier, _ := authorize(t, base, aud)
			page, verifier = tt.change(cfg, page, verifier)
			resp, err := enginetest.Get(t, noRedirects(), page+"&person=alice")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if !tt.exchange {
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("%d, want 400", resp.StatusCode)
				}
				return
			}
			back, _ := url.Parse(resp.Header.Get("Location"))
			if _, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
				t.Fatal("the code was redeemed")
			}
		})
	}
}

// cliAuthorize starts a sign-in as `trustgate login` does, redirecting to
// redirect, and returns the client, the sign-in page's URL and the verifier.
func cliAuthorize(t *testing.T, base, redirect string) (*oauth2.Config, string, string) {
	t.Helper()
	prov, err := oidc.NewProvider(context.Background(), base+PeoplePath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: CLIClientID, RedirectURL: redirect, Endpoint: prov.Endpoint(), Scopes: []string{oidc.ScopeOpenID}}
	verifier := oauth2.GenerateVerifier()
	return cfg, cfg.AuthCodeURL("the-state", oidc.Nonce("the-nonce"), oauth2.S256ChallengeOption(verifier)), verifier
}

func TestTheCLIClientSignsInOnAnyLoopbackPortWithoutASecret(t *testing.T) {
	base, _ := signInServer(t)
	for _, redirect := range []string{"http://127.0.0.1:49152/callback", "http://[::1]:3000/callback"} {
		cfg, page, verifier := cliAuthorize(t, base, redirect)
		resp, err := enginetest.Get(t, noRedirects(), page+"&person=bob")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), redirect+"?") {
			t.Fatalf("picking bob for %s: %d to %s", redirect, resp.StatusCode, back)
		}
		if idt := redeem(t, base, cfg, back, verifier); idt.Subject != "bob" || !slices.Equal(idt.Audience, []string{CLIClientID}) {
			t.Fatalf("the CLI's ID token: sub %q, aud %v", idt.Subject, idt.Audience)
		}
	}
}

func TestTheCLIClientIsRefusedOffLoopbackWithASecretOrWithAnotherClientsCode(t *testing.T) {
	base, aud := signInServer(t)
	tests := []struct {
		name     string
		redirect string
		change   func(cfg *oauth2.Config) // before the exchange; nil: refused at the page
	}{
		{name: "A redirect to another host is refused at the page.", redirect: "http://evil.example:8000/callback"},
		{name: "A redirect to localhost by name is refused at the page.", redirect: "http://localhost:8000/callback"},
		{name: "An https redirect is refused at the page.", redirect: "https://127.0.0.1:8000/callback"},
		{name: "A loopback redirect without a port is refused at the page.", redirect: "http://127.0.0.1/callback"},
		{name: "A secret for the public client is refused at the token endpoint.", redirect: "http://127.0.0.1:8000/callback",
			change: func(cfg *oauth2.Config) { cfg.ClientSecret = "guess" }},
		{name: "The CLI's code redeemed by the console's client is refused.", redirect: "http://127.0.0.1:8000/callback",
			change: func(cfg *oauth2.Config) { cfg.ClientID, cfg.ClientSecret = aud, ConsoleClientSecret }},
		{name: "The code redeemed with another loopback redirect is refused.", redirect: "http://127.0.0.1:8000/callback",
			change: func(cfg *oauth2.Config) { cfg.RedirectURL = "http://127.0.0.1:8001/callback" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, page, verifier := cliAuthorize(t, base, tt.redirect)
			resp, err := enginetest.Get(t, noRedirects(), page+"&person=alice")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if tt.change == nil {
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("%d, want 400", resp.StatusCode)
				}
				return
			}
			back, _ := url.Parse(resp.Header.Get("Location"))
			tt.change(cfg)
			if _, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
				t.Fatal("the code was redeemed")
			}
		})
	}
}
