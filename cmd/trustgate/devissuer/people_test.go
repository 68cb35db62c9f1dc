package devissuer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/trustgate/trustgate/engine/enginetest"
)

func TestAPersonTokenVerifiesAgainstThePeopleIssuerWithGroupsAsAList(t *testing.T) {
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	iss, err := New(Config{Issuer: base, Audience: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = iss.Handler()
	hs.Start()
	t.Cleanup(hs.Close)

	raw := get(t, base+"/token?kind=person&sub=alice&groups=prod-approvers,sre")
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, base+PeoplePath)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := provider.Verifier(&oidc.Config{ClientID: "http://127.0.0.1:8080"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email    string   `json:"email"`
		Username string   `json:"preferred_username"`
		Groups   []string `json:"groups"`
	}
	if err := tok.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if tok.Subject != "alice" || claims.Email != "alice@example.com" || claims.Username != "alice" ||
		!slices.Equal(claims.Groups, []string{"prod-approvers", "sre"}) {
		t.Fatalf("claims: sub %q, %+v", tok.Subject, claims)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "http://127.0.0.1:8080"}).Verify(ctx, get(t, base+"/token")); err == nil {
		t.Fatal("a pipeline token verified as a person's: the two issuers must differ")
	}
}

func TestAPersonTokenNeedsASubject(t *testing.T) {
	iss, err := New(Config{Issuer: "http://127.0.0.1:1", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	iss.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/token?kind=person", nil))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d", rec.Code)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := enginetest.Get(t, nil, url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return strings.TrimSpace(string(b))
}
