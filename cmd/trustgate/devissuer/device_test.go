package devissuer

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/trustgate/trustgate/engine/enginetest"
	"golang.org/x/oauth2"
)

// deviceClient is an OAuth client of the people issuer at base, as the
// CLI (or another client) sees it from the discovery document.
func deviceClient(t *testing.T, base, id, secret string) *oauth2.Config {
	t.Helper()
	prov, err := oidc.NewProvider(context.Background(), base+PeoplePath)
	if err != nil {
		t.Fatal(err)
	}
	if prov.Endpoint().DeviceAuthURL == "" {
		t.Fatal("the people issuer's discovery names no device_authorization_endpoint")
	}
	return &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: prov.Endpoint(), Scopes: []string{oidc.ScopeOpenID}}
}

// visit GETs u and returns the status and body.
func visit(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := enginetest.Get(t, noRedirects(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTheCLIClientSignsInWithADeviceCodeAndThePersonPickedOnTheSignInPage(t *testing.T) {
	base, _ := signInServer(t)
	cfg := deviceClient(t, base, CLIClientID, "")
	da, err := cfg.DeviceAuth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if status, page := visit(t, da.VerificationURIComplete); status != http.StatusOK ||
		!strings.Contains(page, `name="user_code" value="`+da.UserCode+`"`) || !strings.Contains(page, `value="carol"`) {
		t.Fatalf("the device's sign-in page: %d %s", status, page)
	}
	if status, page := visit(t, da.VerificationURIComplete+"&person=bob"); status != http.StatusOK || !strings.Contains(page, "Signed in as bob") {
		t.Fatalf("picking bob: %d %s", status, page)
	}
	tok, err := cfg.DeviceAccessToken(context.Background(), da)
	if err != nil {
		t.Fatal(err)
	}
	prov, _ := oidc.NewProvider(context.Background(), base+PeoplePath)
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: CLIClientID}).Verify(context.Background(), raw)
	if err != nil || idt.Subject != "bob" {
		t.Fatalf("the device's ID token: %v, %v", idt, err)
	}
	if status, _ := visit(t, da.VerificationURIComplete+"&person=alice"); status != http.StatusNotFound {
		t.Fatalf("a used user code was taken again: %d", status)
	}
}

func TestTheDeviceGrantRefusesOtherClientsAndUnknownCodes(t *testing.T) {
	base, aud := signInServer(t)
	if _, err := deviceClient(t, base, aud, ConsoleClientSecret).DeviceAuth(context.Background()); err == nil {
		t.Error("the console's client got a device code")
	}
	form := url.Values{"client_id": {CLIClientID}, "client_secret": {"guess"}, "scope": {"openid"}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+deviceAuthPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Body.Close() != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the public client with a secret: %v, %v; want 401", resp, err)
	}
	if status, _ := visit(t, base+devicePath+"?"+url.Values{"user_code": {"NOSUCH00"}, "person": {"alice"}}.Encode()); status != http.StatusNotFound {
		t.Errorf("an unknown user code: %d, want 404", status)
	}
	cli := deviceClient(t, base, CLIClientID, "")
	da, err := cli.DeviceAuth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	visit(t, da.VerificationURIComplete+"&person=alice")
	console := deviceClient(t, base, aud, ConsoleClientSecret)
	if _, err := console.DeviceAccessToken(context.Background(), da); err == nil {
		t.Error("the console's client redeemed the CLI's device code")
	}
}
