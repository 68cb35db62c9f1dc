package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The golden files under testdata/golden pin what clients of the HTTP API
// rely on, as the real server answers over loopback; docs/openapi.yaml
// describes the same shapes and openapi_test.go holds each golden response
// against its schema. Rewrite them with: go test ./server -run Golden -update

// standingIdentity is the example bundle's identity for my-group's
// protected main branch.
const standingIdentity = "gitlab-ci-deploy"

// jwtPart decodes the base64url JSON part i (0 header, 1 claims) of a
// compact JWS.
func jwtPart(t *testing.T, raw string, i int) []byte {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("the issued token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGoldenToken pins the issued token's header and claims, after
// checking it the way a relying party would.
func (n *normaliser) checkGoldenToken(t *testing.T, ts *testServer, name, raw string) {
	t.Helper()
	ts.verifyIssued(t, raw)
	checkGolden(t, "token/"+name+"-header.json", n.normalise(t, jwtPart(t, raw, 0)))
	checkGolden(t, "token/"+name+"-claims.json", n.normalise(t, jwtPart(t, raw, 1)))
}

func TestGoldenExchangeIntrospectionAndWhoami(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	n := newNormaliser(e.testServer)

	r := e.exchange(t, e.pipeline(t, nil), "identity", standingIdentity, "scope", "read")
	if r.status != http.StatusOK {
		t.Fatalf("exchange: %s", e.explain(r))
	}
	n.checkGoldenResponse(t, "exchange/rfc8693.json", "POST /oauth2/token", r)
	tok, _ := r.body["access_token"].(string)
	n.checkGoldenToken(t, e.testServer, "standing", tok)

	r = e.exchange(t, e.pipeline(t, nil), "identity", standingIdentity, "requested_token_type", "urn:ietf:params:oauth:token-type:jwt")
	n.checkGoldenResponse(t, "exchange/rfc8693-jwt.json", "POST /oauth2/token", r)

	body, _ := json.Marshal(map[string]any{"token": e.pipeline(t, nil), "identity": standingIdentity, "scopes": []string{"read", "write"}})
	r = e.post(t, "/v1/auth:exchangeToken", "application/json", string(body))
	if r.status != http.StatusOK {
		t.Fatalf("JSON exchange: %s", e.explain(r))
	}
	n.checkGoldenResponse(t, "exchange/json.json", "POST /v1/auth:exchangeToken", r)

	n.checkGoldenResponse(t, "introspection/active.json", "POST /oauth2/introspect", e.introspect(t, tok))
	n.checkGoldenResponse(t, "whoami.json", "GET /v1/whoami", e.get(t, "/v1/whoami", "Authorization", "Bearer "+tok))
	n.checkGoldenResponse(t, "revoke.json", "POST /oauth2/revoke", e.revoke(t, tok))
	n.checkGoldenResponse(t, "introspection/inactive.json", "POST /oauth2/introspect", e.introspect(t, tok))
}

func TestGoldenDiscoveryAndStatus(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	n := newNormaliser(e.testServer)
	for _, g := range []struct{ file, path string }{
		{"discovery/openid-configuration.json", "/.well-known/openid-configuration"},
		{"discovery/oauth-authorization-server.json", "/.well-known/oauth-authorization-server"},
		{"discovery/jwks.json", "/.well-known/jwks.json"},
		{"status/healthz.json", "/healthz"},
		{"status/readyz.json", "/readyz"},
		{"status/policy.json", "/v1/policy"},
	} {
		r := e.get(t, g.path)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", g.path, r.status, r.raw)
		}
		n.checkGoldenResponse(t, g.file, "GET "+g.path, r)
	}
}

func TestGoldenAccessRequestFromCreationToRevocation(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	n := newNormaliser(e.testServer)
	const one = "/v1/access/requests/{id}"
	created := e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil),
		`{"identity": "`+breakglass+`", "duration": "1h", "reason": "incident 42: the orders table is locked", "ticket": "INC-42", "scopes": ["read"]}`)
	id, _ := created.body["id"].(string)
	if created.status != http.StatusCreated || id == "" {
		t.Fatalf("filing a request: %d %s", created.status, e.explain(created))
	}
	n.alias(id, "<request-id>")
	n.checkGoldenResponse(t, "access/created.json", "POST /v1/access/requests", created)
	alice := e.approver(t, "alice")
	n.checkGoldenResponse(t, "access/read.json", "GET "+one, e.call(t, http.MethodGet, "/v1/access/requests/"+id, alice, ""))
	n.checkGoldenResponse(t, "access/list.json", "GET /v1/access/requests",
		e.call(t, http.MethodGet, "/v1/access/requests?state=pending", alice, ""))
	n.checkGoldenResponse(t, "access/approved.json", "POST "+one+"/approve", e.act(t, id, "approve", alice))

	tok, r := e.breakglassToken(t, e.pipeline(t, nil))
	if tok == "" {
		t.Fatalf("an exchange under the grant: %s", e.explain(r))
	}
	n.checkGoldenToken(t, e.testServer, "grant", tok)
	n.checkGoldenResponse(t, "access/revoked.json", "POST "+one+"/revoke", e.act(t, id, "revoke", alice))

	denied := e.file(t, e.pipeline(t, nil), "30m")["id"].(string)
	n.alias(denied, "<denied-request-id>")
	n.checkGoldenResponse(t, "access/denied.json", "POST "+one+"/deny", e.act(t, denied, "deny", alice))
	cancelled := e.file(t, e.pipeline(t, nil), "30m")["id"].(string)
	n.alias(cancelled, "<cancelled-request-id>")
	n.checkGoldenResponse(t, "access/cancelled.json", "POST "+one+"/cancel", e.act(t, cancelled, "cancel", e.pipeline(t, nil)))
}

// formBody is an RFC 8693 request body with the given subject token and
// extra parameters.
func formBody(subject string, params ...string) string {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	return form.Encode()
}
