package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/server"
)

const stsAud = "https://sts.example.com"

// stack is the whole service over real HTTP on loopback: a test OIDC
// issuer, a bundle directory watched for changes, the engine and the server.
type stack struct {
	url     string
	issuer  *enginetest.Issuer
	bundle  string
	eng     *engine.Engine
	logs    *observer.ObservedLogs
	loaded  chan struct{}
	refused chan error
}

func bundleYAML(iss, ttl string) string {
	return `trustgate:
  providers:
    gitlab:
      issuer: ` + iss + `
      platform: gitlab
      audiences: [` + stsAud + `]
    github:
      issuer: ` + iss + `/github
      platform: github
      audiences: [` + stsAud + `]
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

func startStack(t *testing.T) *stack {
	t.Helper()
	iss := enginetest.NewIssuer(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "data.yaml"), bundleYAML(iss.URL(), "10m"))
	k, err := mint.Generate(mint.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := mint.NewKeyRing(k)
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	store, err := state.Open(context.Background(), "memory:", state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	eng, err := engine.New(engine.Config{
		Issuer:      base,
		Verifier:    verify.New(verify.Config{AllowInsecureIssuers: true, Logger: log, Replay: store}),
		Keys:        ring,
		Revocations: store,
		Logger:      log,
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := policy.Options{ServerIssuer: base, AllowInsecureIssuers: true, Logger: log}
	p, err := policy.Load(context.Background(), []string{dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	eng.SetPolicy(p)
	s := &stack{url: base, issuer: iss, bundle: dir, eng: eng, logs: logs,
		loaded: make(chan struct{}, 100), refused: make(chan error, 100)}
	w, err := policy.NewWatcher([]string{dir}, opts,
		func(p *policy.Policy) { eng.SetPolicy(p); s.loaded <- struct{}{} },
		func(err error) { eng.PolicyFailed(err); s.refused <- err })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	select { // Run loads once at start
	case <-s.loaded:
	case err := <-s.refused:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher's first load was not seen")
	}
	srv, err := server.New(server.Config{Exchanger: eng, Inspector: eng, Discovery: eng, Status: eng, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config = srv.HTTPServer("")
	ts.Start()
	t.Cleanup(func() { ts.Close(); cancel(); <-done })
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// saveByRename writes content the way editors do: a temp file renamed over.
func saveByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) gitlabToken(t *testing.T, patch map[string]any) string {
	t.Helper()
	c := enginetest.GitLabClaims(s.issuer.URL(), stsAud)
	for k, v := range patch {
		c[k] = v
	}
	return s.issuer.Mint(t, c)
}

// exchange posts an RFC 8693 request and returns the status and body.
func (s *stack) exchange(t testing.TB, subject string, extra url.Values) (int, map[string]any) {
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := http.PostForm(s.url+"/oauth2/token", form)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestEndToEndEachMatchingRuleAllowsAndRefusesOverHTTP(t *testing.T) {
	s := startStack(t)
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
			status, body := s.exchange(t, s.gitlabToken(t, tc.patch), url.Values{"identity": {tc.identity}})
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, body, tc.status)
			}
			if tok, _ := body["access_token"].(string); tc.status == 200 && tok == "" {
				t.Fatal("no access_token")
			}
			if tc.status != 200 {
				if body["error"] != tc.errCode || body["access_token"] != nil {
					t.Fatalf("body %v, want error %s and no token", body, tc.errCode)
				}
				if !strings.Contains(body["error_description"].(string), "decision id") {
					t.Fatalf("error_description %q carries no decision id", body["error_description"])
				}
			}
		})
	}
	status, body := s.exchange(t, s.gitlabToken(t, nil), url.Values{"identity": {"deploy"}, "scope": {"admin"}})
	if status != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("a scope the identity lacks: %d %v, want 400 invalid_scope", status, body)
	}
	status, body = s.exchange(t, s.gitlabToken(t, nil), url.Values{"identity": {"deploy"}, "audience": {"https://evil.example.com"}})
	if status != 400 || body["error"] != "invalid_target" {
		t.Fatalf("an audience the identity lacks: %d %v, want 400 invalid_target", status, body)
	}
}

func TestTheIssuedTokenVerifiesAgainstTheServedJWKS(t *testing.T) {
	s := startStack(t)
	status, body := s.exchange(t, s.gitlabToken(t, nil), url.Values{"identity": {"deploy"}, "scope": {"read"}})
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, body)
	}
	if body["token_type"] != "Bearer" || body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" ||
		body["expires_in"] != float64(600) || body["scope"] != "read" {
		t.Fatalf("response %v", body)
	}
	resp, err := http.Get(s.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
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
	want := map[string]any{"iss": s.url, "sub": "deploy@workload.example.com", "scope": "read", "client_id": "deploy"}
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
	if act["iss"] != s.issuer.URL() || src["project_path"] != "demo-group/demo-project" || src["pipeline_id"] != "574" {
		t.Errorf("act %v src %v", act, src)
	}
	for _, leaked := range []string{"user_email", "namespace_id", "sha"} {
		if _, ok := c[leaked]; ok {
			t.Errorf("source claim %s was copied into the issued token", leaked)
		}
	}
}

func TestAReloadUnderConcurrentExchangesFailsNoRequest(t *testing.T) {
	s := startStack(t)
	token := s.gitlabToken(t, nil)
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
			for {
				select {
				case <-stop:
					return
				default:
				}
				if status, body := s.exchange(t, token, url.Values{"identity": {"deploy"}}); status == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
					t.Errorf("exchange during reload: %d %v", status, body)
				}
			}
		}()
	}
	path := filepath.Join(s.bundle, "data.yaml")
	for i, ttl := range []string{"11m", "12m", "13m", "14m", "9m"} {
		if i%2 == 0 {
			saveByRename(t, path, bundleYAML(s.issuer.URL(), ttl))
		} else {
			writeFile(t, path, bundleYAML(s.issuer.URL(), ttl))
		}
		select {
		case <-s.loaded:
		case err := <-s.refused:
			t.Fatalf("reload %d refused: %v", i, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("reload %d not seen within 5s", i)
		}
	}
	halt()
	for _, e := range s.logs.FilterMessage("decision").All() {
		if e.ContextMap()["result"] == "error" {
			t.Logf("failed decision: %v", e.ContextMap()["reasons"])
		}
	}
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d exchanges failed and %d succeeded during 5 reloads; want 0 failed", failed.Load(), ok.Load())
	}
	if _, body := s.exchange(t, token, url.Values{"identity": {"deploy"}}); body["expires_in"] != float64(540) {
		t.Fatalf("after the last reload expires_in = %v, want 540 (ttl 9m)", body["expires_in"])
	}
}

func TestABrokenReloadKeepsTheLastGoodPolicy(t *testing.T) {
	s := startStack(t)
	token := s.gitlabToken(t, nil)
	for _, broken := range []struct{ name, content string }{
		{"unknown provider in a federation", strings.Replace(bundleYAML(s.issuer.URL(), "10m"), "- provider: gitlab\n          claims:\n            namespace_path", "- provider: gitlb\n          claims:\n            namespace_path", 1)},
		{"YAML that does not parse", "trustgate: [\n"},
		{"an empty file", ""},
	} {
		t.Run(broken.name, func(t *testing.T) {
			writeFile(t, filepath.Join(s.bundle, "data.yaml"), broken.content)
			select {
			case <-s.refused:
			case <-s.loaded:
				t.Fatal("a broken bundle was loaded")
			case <-time.After(5 * time.Second):
				t.Fatal("the broken reload was not reported within 5s")
			}
			if status, body := s.exchange(t, token, url.Values{"identity": {"deploy"}}); status != 200 {
				t.Fatalf("after a refused reload the exchange fails: %d %v", status, body)
			}
			resp, err := http.Get(s.url + "/readyz")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("readiness lost after a refused reload: %v %v", resp, err)
			}
			resp.Body.Close()
			resp, _ = http.Get(s.url + "/v1/policy")
			var st map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st["loaded"] != true || st["last_error"] == nil || st["last_error"] == "" {
				t.Fatalf("/v1/policy = %v, want loaded with the last error", st)
			}
		})
	}
}

func TestNoLogLineHoldsAnyPartOfAToken(t *testing.T) {
	s := startStack(t)
	good := s.gitlabToken(t, nil)
	bad := s.gitlabToken(t, map[string]any{"ref": "feature"})
	var issued string
	if _, body := s.exchange(t, good, url.Values{"identity": {"deploy"}}); body != nil {
		issued, _ = body["access_token"].(string)
	}
	s.exchange(t, bad, url.Values{"identity": {"deploy"}})
	s.exchange(t, good+"x", nil)
	req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+issued)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	var secrets []string
	for _, tok := range []string{good, bad, issued} {
		for _, seg := range strings.Split(tok, ".") {
			if len(seg) >= 16 {
				secrets = append(secrets, seg)
			}
		}
	}
	if len(s.logs.All()) == 0 {
		t.Fatal("nothing was logged: the scan would prove nothing")
	}
	for _, e := range s.logs.All() {
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
