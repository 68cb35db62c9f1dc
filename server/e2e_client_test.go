package server_test

// What the end-to-end tests send and check: ID tokens from the test
// issuers, requests to the test server, and the issued tokens verified as a
// relying party would.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
)

// gitlabToken mints a GitLab CI ID token for a job of my-group/app on its
// protected main branch, patched (a nil value removes the claim).
func gitlabToken(t testing.TB, iss *enginetest.Issuer, patch map[string]any) string {
	t.Helper()
	c := enginetest.GitLabClaims(iss.URL(), sourceAudience)
	c["namespace_path"], c["project_path"] = "my-group", "my-group/app"
	c["sub"] = "project_path:my-group/app:ref_type:branch:ref:main"
	return iss.Mint(t, patchClaims(c, patch))
}

// githubToken mints a GitHub Actions ID token for a push to main of
// acme/service, patched.
func githubToken(t testing.TB, iss *enginetest.Issuer, patch map[string]any) string {
	t.Helper()
	c := enginetest.GitHubClaims(iss.URL(), sourceAudience)
	c["sub"] = "repo:acme/service:ref:refs/heads/main"
	c["repository"], c["repository_owner"] = "acme/service", "acme"
	return iss.Mint(t, patchClaims(c, patch))
}

func patchClaims(c, patch map[string]any) map[string]any {
	for k, v := range patch {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// response is a decoded JSON response.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
	// closed: the server said Connection: close (net/http's client takes
	// the header out of header and says so here).
	closed bool
}

func (ts *testServer) do(t testing.TB, req *http.Request) response {
	t.Helper()
	r, err := ts.roundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// roundTrip sends req and decodes its response; it is do for a goroutine
// other than the test's, which must not call t.Fatal.
func (ts *testServer) roundTrip(req *http.Request) (response, error) {
	resp, err := ts.Client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw), closed: resp.Close}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: body is not a JSON object: %w", req.Method, req.URL.Path, err)
		}
	}
	return r, nil
}

func (ts *testServer) post(t testing.TB, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return ts.do(t, req)
}

func (ts *testServer) get(t testing.TB, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return ts.do(t, req)
}

// exchange is POST /oauth2/token with the subject token and params.
func (ts *testServer) exchange(t testing.TB, subject string, params ...string) response {
	t.Helper()
	req, err := ts.exchangeRequest(t.Context(), subject, params...)
	if err != nil {
		t.Fatal(err)
	}
	return ts.do(t, req)
}

// exchangeRequest is the request exchange sends, for a test that adds a
// header or sends it from another goroutine.
func (ts *testServer) exchangeRequest(ctx context.Context, subject string, params ...string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/oauth2/token", strings.NewReader(formBody(subject, params...)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// explain returns what the decision log says of the decision an error
// response names, to make a failure readable.
func (ts *testServer) explain(r response) string {
	if rec := ts.decision(decisionOf(r)); rec != nil {
		return fmt.Sprintf("%s; decision log: result %v, reasons %v", r.raw, rec["result"], rec["reasons"])
	}
	return r.raw
}

// decisionOf is the decision id an error response names, or "".
func decisionOf(r response) string {
	d, _ := r.body["error_description"].(string)
	_, id, _ := strings.Cut(d, "decision id ")
	return id
}

// decision is the decision-log record of id (one inline object, so it is
// found by its fields, not by a zap field), or nil.
func (ts *testServer) decision(id string) map[string]any {
	if id == "" {
		return nil
	}
	for _, e := range ts.Logs.FilterMessage("decision").All() {
		if m := e.ContextMap(); m["decision_id"] == id {
			return m
		}
	}
	return nil
}

// servedJWKS fetches /.well-known/jwks.json once.
func (ts *testServer) servedJWKS(t testing.TB) jose.JSONWebKeySet {
	t.Helper()
	ts.jwksOnce.Do(func() {
		r := ts.get(t, "/.well-known/jwks.json")
		if r.status != http.StatusOK {
			t.Fatalf("JWKS: %d", r.status)
		}
		if err := json.Unmarshal([]byte(r.raw), &ts.jwks); err != nil {
			t.Fatal(err)
		}
	})
	return ts.jwks
}

// issuedClaimNames is every claim an issued token may carry (DESIGN §5).
var issuedClaimNames = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "roles", "client_id", "act", "src", "grant"}

// verifyIssued checks raw as a relying party would, with the keys served
// on /.well-known/jwks.json: header typ at+jwt, kid, ES256 (RFC 9068 §2.1),
// and claims limited to those of DESIGN §5. It returns the claims.
func (ts *testServer) verifyIssued(t testing.TB, raw string) mint.Claims {
	t.Helper()
	obj, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("the issued token is not an ES256 JWS: %v", err)
	}
	h := obj.Signatures[0].Header
	if h.ExtraHeaders[jose.HeaderType] != "at+jwt" || h.Algorithm != "ES256" || h.KeyID == "" {
		t.Fatalf("header typ=%v alg=%s kid=%q, want at+jwt ES256 and a kid", h.ExtraHeaders[jose.HeaderType], h.Algorithm, h.KeyID)
	}
	set := ts.servedJWKS(t)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("the JWKS has %d public keys for kid %q", len(keys), h.KeyID)
	}
	payload, err := obj.Verify(keys[0])
	if err != nil {
		t.Fatalf("the issued token does not verify with the served key: %v", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil {
		t.Fatal(err)
	}
	for name := range all {
		if !slices.Contains(issuedClaimNames, name) {
			t.Errorf("the issued token carries claim %q, which DESIGN §5 does not list", name)
		}
	}
	var c mint.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	for name := range c.Src {
		if !slices.Contains([]string{"project_path", "ref", "pipeline_id", "job_id", "repository", "run_id"}, name) {
			t.Errorf("src carries %q, which is not an allowlisted source fact", name)
		}
	}
	if c.Issuer != ts.URL || c.ID == "" || c.NotBefore > c.IssuedAt || c.Expiry <= c.IssuedAt {
		t.Errorf("iss %q jti %q nbf %d iat %d exp %d", c.Issuer, c.ID, c.NotBefore, c.IssuedAt, c.Expiry)
	}
	return c
}
