package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/mint"
)

func TestAPolicyThatFailsToEvaluateIsAnInternalErrorAndNoToken(t *testing.T) {
	f := newFixture(t)
	// Two values for one complete rule: a conflict OPA raises only while
	// evaluating, never a denial.
	f.reload(t, map[string]string{"custom.rego": `package trustgate.custom

verdict := "a" if input.token.ref == "main"

verdict := "b" if input.token.ref_type == "branch"

deny contains "never" if verdict == "c"
`})
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil)})
	if tok != nil || !errors.Is(err, engine.ErrInternal) || errors.Is(err, engine.ErrDenied) {
		t.Fatalf("an evaluation error gave %+v, %v; want ErrInternal and no token", tok, err)
	}
}

func TestAnIdentityWithoutAudiencesGetsATokenForTheIssuerItself(t *testing.T) {
	f := newFixture(t)
	data := strings.Replace(bundleData(f.issuer.URL()), "      audiences: [https://api.example.com, https://other.example.com]\n", "", 1)
	f.reload(t, map[string]string{"data.yaml": data})
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	in, err := f.eng.Inspect(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if aud := in.Claims.Audience; len(aud) != 1 || aud[0] != stsIssuer || len(tok.Audiences) != 1 || tok.Audiences[0] != stsIssuer {
		t.Fatalf("token audiences %v, claims %v; want exactly [%s]", tok.Audiences, aud, stsIssuer)
	}
}

// signed is a token of the fixture's own signing key with claims c.
func (f *fixture) signed(t *testing.T, c mint.Claims) string {
	t.Helper()
	now := time.Now()
	c.Subject, c.Audience, c.ClientID = "deploy@workload.example.com", []string{stsIssuer}, "deploy"
	c.IssuedAt, c.NotBefore, c.Expiry = now.Unix(), now.Unix(), now.Add(5*time.Minute).Unix()
	raw, _, err := f.keys.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestTokensTheEngineDidNotIssueAreInactiveEvenUnderItsKey(t *testing.T) {
	f := newFixture(t) // just-in-time access is off
	tests := []struct {
		name   string
		claims mint.Claims
	}{
		{"A token signed with the engine's key for another issuer is inactive.", mint.Claims{Issuer: "https://sts.other.example.com"}},
		{"A token naming a grant is inactive where just-in-time access is off.", mint.Claims{Issuer: stsIssuer, Grant: "01J0000000000000000000GRANT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := f.eng.Inspect(context.Background(), f.signed(t, tc.claims))
			if in != nil || !errors.Is(err, engine.ErrInactive) {
				t.Fatalf("got %+v, %v; want ErrInactive", in, err)
			}
		})
	}
	if _, err := f.eng.Inspect(context.Background(), f.signed(t, mint.Claims{Issuer: stsIssuer})); err != nil {
		t.Fatalf("the same token for the engine's issuer and no grant: %v", err)
	}
}
