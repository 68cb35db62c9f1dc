package server_test

// Tests of the whole service on a small bundle of its own (one data.yaml
// written here) that a policy.Watcher reloads while requests are served.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// bundleYAML is a bundle whose identities each match one rule; iss is the
// GitLab issuer (GitHub's is iss/github) and ttl the deploy identity's.
func bundleYAML(iss, ttl string) string {
	return `trustgate:
  providers:
    gitlab:
      issuer: ` + iss + `
      platform: gitlab
      audiences: [` + sourceAudience + `]
    github:
      issuer: ` + iss + `/github
      platform: github
      audiences: [` + sourceAudience + `]
  identities:
    deploy:
      email: deploy@workload.example.com
      roles: [deployer]
      scopes: [read, write]
      audiences: [https://api.example.com]
      ttl: ` + ttl + `
      federations:
        - provider: gitlab
          claims:
            namespace_path: demo-group
            ref_protected: "true"
          refs: ["branch:main", "tag:v*"]
    prod:
      scopes: [deploy]
      federations:
        - provider: gitlab
          claims: {project_path: "demo-group/*"}
          environments: [production]
`
}

// newReloadServer is the test server on bundleYAML with a 10m ttl, its
// directory watched.
func newReloadServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServer(t, func(o *Options) {
		o.Bundle = func(ts *testServer) string { return bundleYAML(ts.GitLab.URL(), "10m") }
		o.Watch = true
	})
}

// demoToken is enginetest's GitLab job of demo-group/demo-project on a
// protected main, patched.
func demoToken(t *testing.T, ts *testServer, patch map[string]any) string {
	t.Helper()
	return ts.GitLab.Mint(t, patchClaims(enginetest.GitLabClaims(ts.GitLab.URL(), sourceAudience), patch))
}

// saveByRename writes content the way editors do: a temp file renamed over.
func saveByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	mustWrite(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitLoaded waits for the watcher to load the bundle again.
func waitLoaded(t *testing.T, ts *testServer, what string) {
	t.Helper()
	select {
	case <-ts.Loaded:
	case err := <-ts.Refused:
		t.Fatalf("%s refused: %v", what, err)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s not seen within 5s", what)
	}
}

func TestEndToEndEachMatchingRuleAllowsAndRefusesOverHTTP(t *testing.T) {
	ts := newReloadServer(t)
	tests := []struct {
		name     string
		patch    map[string]any
		identity string
		status   int
		errCode  string
	}{
		{"a protected main branch of the group gets the identity", nil, "deploy", 200, ""},
		{"the identity is found by email too", nil, "deploy@workload.example.com", 200, ""},
		{"a release tag is allowed", map[string]any{"ref": "v1.2.0", "ref_type": "tag"}, "deploy", 200, ""},
		{"a feature branch is refused", map[string]any{"ref": "feature"}, "deploy", 400, "invalid_request"},
		{"an unprotected ref is refused", map[string]any{"ref_protected": "false"}, "deploy", 400, "invalid_request"},
		{"another group is refused", map[string]any{"namespace_path": "demo-group-evil"}, "deploy", 400, "invalid_request"},
		{"the production environment is allowed", map[string]any{"environment": "production"}, "prod", 200, ""},
		{"a staging environment is refused", map[string]any{"environment": "staging"}, "prod", 400, "invalid_request"},
		{"a subgroup project does not match a single star", map[string]any{"project_path": "demo-group/sub/app", "environment": "production"}, "prod", 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.exchange(t, demoToken(t, ts, tc.patch), "identity", tc.identity)
			if r.status != tc.status {
				t.Fatalf("status %d (%v), want %d", r.status, r.body, tc.status)
			}
			if tok, _ := r.body["access_token"].(string); tc.status == 200 && tok == "" {
				t.Fatal("no access_token")
			}
			if tc.status != 200 {
				if r.body["error"] != tc.errCode || r.body["access_token"] != nil {
					t.Fatalf("body %v, want error %s and no token", r.body, tc.errCode)
				}
				if !strings.Contains(r.body["error_description"].(string), "decision id") {
					t.Fatalf("error_description %q carries no decision id", r.body["error_description"])
				}
			}
		})
	}
	r := ts.exchange(t, demoToken(t, ts, nil), "identity", "deploy", "scope", "admin")
	if r.status != 400 || r.body["error"] != "invalid_scope" {
		t.Fatalf("a scope the identity lacks: %d %v, want 400 invalid_scope", r.status, r.body)
	}
	r = ts.exchange(t, demoToken(t, ts, nil), "identity", "deploy", "audience", "https://evil.example.com")
	if r.status != 400 || r.body["error"] != "invalid_target" {
		t.Fatalf("an audience the identity lacks: %d %v, want 400 invalid_target", r.status, r.body)
	}
}

func TestTheIssuedTokenVerifiesAgainstTheServedJWKS(t *testing.T) {
	ts := newReloadServer(t)
	r := ts.exchange(t, demoToken(t, ts, nil), "identity", "deploy", "scope", "read")
	if r.status != 200 {
		t.Fatalf("exchange: %d %v", r.status, r.body)
	}
	body := r.body
	if body["token_type"] != "Bearer" || body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" ||
		body["expires_in"] != float64(600) || body["scope"] != "read" {
		t.Fatalf("response %v", body)
	}
	set := ts.servedJWKS(t)
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("the JWKS publishes a private key")
		}
	}
	obj, err := jose.ParseSignedCompact(body["access_token"].(string), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	h := obj.Signatures[0].Header
	if h.ExtraHeaders[jose.HeaderType] != "at+jwt" || h.Algorithm != "ES256" || len(set.Key(h.KeyID)) != 1 {
		t.Fatalf("header typ=%v alg=%s kid=%s not as DESIGN §5 says", h.ExtraHeaders[jose.HeaderType], h.Algorithm, h.KeyID)
	}
	payload, err := obj.Verify(set.Key(h.KeyID)[0])
	if err != nil {
		t.Fatalf("the token does not verify against the served JWKS: %v", err)
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	want := map[string]any{"iss": ts.URL, "sub": "deploy@workload.example.com", "scope": "read", "client_id": "deploy"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.example.com" {
		t.Errorf("aud %v", c["aud"])
	}
	if c["exp"].(float64)-c["iat"].(float64) != 600 || c["jti"] == "" || c["nbf"] == nil {
		t.Errorf("times %v %v %v jti %v", c["iat"], c["nbf"], c["exp"], c["jti"])
	}
	act, _ := c["act"].(map[string]any)
	src, _ := c["src"].(map[string]any)
	if act["iss"] != ts.GitLab.URL() || src["project_path"] != "demo-group/demo-project" || src["pipeline_id"] != "574" {
		t.Errorf("act %v src %v", act, src)
	}
	for _, leaked := range []string{"user_email", "namespace_id", "sha"} {
		if _, ok := c[leaked]; ok {
			t.Errorf("source claim %s was copied into the issued token", leaked)
		}
	}
}

// exchangeUntil exchanges token as deploy until stop is closed, counting
// the answers; it runs on its own goroutine, so it reports with t.Errorf.
func exchangeUntil(t *testing.T, ts *testServer, token string, stop <-chan struct{}, ok, failed *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		req, err := ts.exchangeRequest(t.Context(), token, "identity", "deploy")
		if err != nil {
			t.Error(err)
			return
		}
		if r, err := ts.roundTrip(req); err == nil && r.status == 200 {
			ok.Add(1)
		} else {
			failed.Add(1)
			t.Errorf("exchange during reload: %d %v %v", r.status, r.body, err)
		}
	}
}

func TestAReloadUnderConcurrentExchangesFailsNoRequest(t *testing.T) {
	ts := newReloadServer(t)
	token := demoToken(t, ts, nil)
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // also when a reload check below fails
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exchangeUntil(t, ts, token, stop, &ok, &failed)
		}()
	}
	path := filepath.Join(ts.Bundle, "data.yaml")
	for i, ttl := range []string{"11m", "12m", "13m", "14m", "9m"} {
		if i%2 == 0 {
			saveByRename(t, path, bundleYAML(ts.GitLab.URL(), ttl))
		} else {
			mustWrite(t, path, bundleYAML(ts.GitLab.URL(), ttl))
		}
		waitLoaded(t, ts, fmt.Sprintf("reload %d", i))
	}
	halt()
	for _, e := range ts.Logs.FilterMessage("decision").All() {
		if e.ContextMap()["result"] == "error" {
			t.Logf("failed decision: %v", e.ContextMap()["reasons"])
		}
	}
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d exchanges failed and %d succeeded during 5 reloads; want 0 failed", failed.Load(), ok.Load())
	}
	if r := ts.exchange(t, token, "identity", "deploy"); r.body["expires_in"] != float64(540) {
		t.Fatalf("after the last reload expires_in = %v, want 540 (ttl 9m)", r.body["expires_in"])
	}
}

func TestABrokenReloadKeepsTheLastGoodPolicy(t *testing.T) {
	ts := newReloadServer(t)
	token := demoToken(t, ts, nil)
	for _, broken := range []struct{ name, content string }{
		{"unknown provider in a federation", strings.Replace(bundleYAML(ts.GitLab.URL(), "10m"), "- provider: gitlab\n          claims:\n            namespace_path", "- provider: gitlb\n          claims:\n            namespace_path", 1)},
		{"YAML that does not parse", "trustgate: [\n"},
		{"an empty file", ""},
	} {
		t.Run(broken.name, func(t *testing.T) {
			mustWrite(t, filepath.Join(ts.Bundle, "data.yaml"), broken.content)
			select {
			case err := <-ts.Refused:
				t.Logf("refused: %v", err)
			case <-ts.Loaded:
				t.Fatal("a broken bundle was loaded")
			case <-time.After(5 * time.Second):
				t.Fatal("the broken reload was not reported within 5s")
			}
			if r := ts.exchange(t, token, "identity", "deploy"); r.status != 200 {
				t.Fatalf("after a refused reload the exchange fails: %d %v", r.status, r.body)
			}
			if r := ts.get(t, "/readyz"); r.status != 200 {
				t.Fatalf("readiness lost after a refused reload: %d %s", r.status, r.raw)
			}
			st := ts.get(t, "/v1/policy").body
			if st["loaded"] != true || st["last_error"] == nil || st["last_error"] == "" {
				t.Fatalf("/v1/policy = %v, want loaded with the last error", st)
			}
		})
	}
}

func TestNoLogLineHoldsAnyPartOfAToken(t *testing.T) {
	ts := newReloadServer(t)
	good := demoToken(t, ts, nil)
	bad := demoToken(t, ts, map[string]any{"ref": "feature"})
	issued, _ := ts.exchange(t, good, "identity", "deploy").body["access_token"].(string)
	ts.exchange(t, bad, "identity", "deploy")
	ts.exchange(t, good+"x")
	ts.get(t, "/v1/whoami", "Authorization", "Bearer "+issued)
	var secrets []string
	for _, tok := range []string{good, bad, issued} {
		for _, seg := range strings.Split(tok, ".") {
			if len(seg) >= 16 {
				secrets = append(secrets, seg)
			}
		}
	}
	if len(ts.Logs.All()) == 0 {
		t.Fatal("nothing was logged: the scan would prove nothing")
	}
	for _, e := range ts.Logs.All() {
		line, _ := json.Marshal(map[string]any{"msg": e.Message, "fields": e.ContextMap()})
		for _, seg := range secrets {
			if strings.Contains(string(line), seg) {
				t.Fatalf("log line %q holds a token segment", e.Message)
			}
		}
		if strings.Contains(string(line), "eyJ") {
			t.Fatalf("log line %q holds something JWT-shaped: %s", e.Message, line)
		}
	}
}
