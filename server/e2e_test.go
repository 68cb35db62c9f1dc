package server_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
	"github.com/trustgate/trustgate/server"
)

// sourceAudience is the `aud` the example bundle's providers accept.
const sourceAudience = "https://sts.example.com"

// Options adjust what newTestServer builds.
type Options struct {
	// Server adjusts the server configuration; Engine, Logger and
	// Registerer are already set.
	Server func(*server.Config)
	// Engine adjusts the engine configuration; Issuer, Verifier, Keys,
	// Logger and Metrics are already set.
	Engine func(*engine.Config)
	// NoPolicy starts the engine without loading the bundle.
	NoPolicy bool
	// NoAccess starts the engine without just-in-time access (the server
	// still routes /v1/access/, and answers 404 there).
	NoAccess bool
	// Quiet keeps only Warn and Error lines in Logs (benchmarks).
	Quiet bool
	// StateURL is the state store's database (default memory:).
	StateURL string
	// Data rewrites the example bundle's data.yaml (after the test
	// issuers' URLs are in it).
	Data func(string) string
}

// testServer is the whole service over real HTTP on loopback: three real
// OIDC issuers (GitLab.com, a self-hosted GitLab, GitHub Actions), the
// example bundle with their URLs, the real engine with real keys, and the
// server's handler in an httptest server.
type testServer struct {
	URL        string
	Server     *server.Server
	Engine     *engine.Engine
	GitLab     *enginetest.Issuer // provider gitlab
	GitLabSelf *enginetest.Issuer // provider gitlab-self
	GitHub     *enginetest.Issuer // provider github
	Corp       *enginetest.Issuer // provider corp: people's ID tokens
	Bundle     string
	Logs       *observer.ObservedLogs
	Registry   *prometheus.Registry
	Client     *http.Client
	State      *state.Store // replay, revocation, just-in-time access

	jwksOnce sync.Once
	jwks     jose.JSONWebKeySet
}

// newTestServer builds the real stack, like dex's newTestServerWith:
// opt may adjust it (nil: defaults).
func newTestServer(t testing.TB, opt func(*Options)) *testServer {
	t.Helper()
	var o Options
	if opt != nil {
		opt(&o)
	}
	ts := &testServer{
		GitLab:     enginetest.NewIssuer(t),
		GitLabSelf: enginetest.NewIssuer(t),
		GitHub:     enginetest.NewIssuer(t),
		Corp:       enginetest.NewIssuer(t),
		Bundle:     t.TempDir(),
		Registry:   prometheus.NewRegistry(),
	}
	ts.writeExampleBundle(t, o.Data)
	level := zapcore.DebugLevel
	if o.Quiet {
		level = zapcore.WarnLevel
	}
	core, logs := observer.New(level)
	log := zap.New(core)
	ts.Logs = logs

	hs := httptest.NewUnstartedServer(nil)
	ts.URL = "http://" + hs.Listener.Addr().String()
	key, err := mint.Generate(mint.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := mint.NewKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	metrics := engine.NewMetrics(ts.Registry)
	ts.State, err = state.Open(context.Background(), cmp.Or(o.StateURL, "memory:"), state.Options{Registerer: ts.Registry})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.State.Close() })
	ecfg := engine.Config{
		Issuer:      ts.URL,
		Verifier:    verify.New(verify.Config{AllowInsecureIssuers: true, Logger: log.Named("verify"), Observer: metrics, Replay: ts.State}),
		Keys:        ring,
		Revocations: ts.State,
		Logger:      log.Named("engine"),
		Metrics:     metrics,
	}
	if o.Engine != nil {
		o.Engine(&ecfg)
	}
	if ecfg.Access == nil && !o.NoAccess {
		ecfg.Access, err = access.New(access.Config{Store: ts.State, Record: engine.AccessRecorder(log.Named("decisions")),
			Logger: log.Named("access"), Now: ecfg.Now})
		if err != nil {
			t.Fatal(err)
		}
	}
	ts.Engine, err = engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	if !o.NoPolicy {
		// The evaluation deadline is the production guard against a runaway
		// policy; on a loaded 2-core machine under -race a healthy evaluation
		// can take longer than its 100ms default, and these tests are about
		// HTTP, not CPU starvation.
		p, err := policy.Load(context.Background(), []string{ts.Bundle}, policy.Options{ServerIssuer: ts.URL,
			AllowInsecureIssuers: true, Logger: log.Named("policy"), EvalTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ts.Engine.SetPolicy(p)
	}
	scfg := server.Config{Exchanger: ts.Engine, Inspector: ts.Engine, Discovery: ts.Engine, Status: ts.Engine, Access: ts.Engine, Logger: log.Named("http"), Registerer: ts.Registry}
	if o.Server != nil {
		o.Server(&scfg)
	}
	ts.Server, err = server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config = ts.Server.HTTPServer("")
	hs.Start()
	t.Cleanup(hs.Close)
	ts.Client = hs.Client()
	return ts
}

// writeExampleBundle copies bundles/example into ts.Bundle with the test
// issuers in place of gitlab.com, gitlab.example.com, GitHub's issuer and
// the company IdP, then rewritten by patch (nil: none).
func (ts *testServer) writeExampleBundle(t testing.TB, patch func(string) string) {
	t.Helper()
	data := readRepoFile(t, "bundles/example/data.yaml")
	for _, r := range []struct{ old, new string }{
		{"issuer: https://gitlab.com\n", "issuer: " + ts.GitLab.URL() + "\n"},
		{"issuer: https://gitlab.example.com\n", "issuer: " + ts.GitLabSelf.URL() + "\n"},
		{"jwks_url: https://gitlab.example.com/oauth/discovery/keys\n", "jwks_url: " + ts.GitLabSelf.JWKSURL() + "\n"},
		{"issuer: https://token.actions.githubusercontent.com\n", "issuer: " + ts.GitHub.URL() + "\n"},
		{"issuer: https://login.example.com\n", "issuer: " + ts.Corp.URL() + "\n"},
	} {
		if strings.Count(data, r.old) != 1 {
			t.Fatalf("bundles/example/data.yaml no longer has exactly one %q", strings.TrimSpace(r.old))
		}
		data = strings.Replace(data, r.old, r.new, 1)
	}
	if patch != nil {
		data = patch(data)
	}
	mustWrite(t, filepath.Join(ts.Bundle, "data.yaml"), data)
	mustWrite(t, filepath.Join(ts.Bundle, "custom.rego"), readRepoFile(t, "bundles/example/custom.rego"))
}

func readRepoFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

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
}

func (ts *testServer) do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := ts.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v", req.Method, req.URL.Path, err)
		}
	}
	return r
}

func (ts *testServer) post(t testing.TB, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return ts.do(t, req)
}

func (ts *testServer) get(t testing.TB, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
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
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
	}
	for i := 0; i+1 < len(params); i += 2 {
		form.Add(params[i], params[i+1])
	}
	return ts.post(t, "/oauth2/token", "application/x-www-form-urlencoded", form.Encode())
}

// explain returns what the decision log says of the decision an error
// response names, to make a failure readable.
func (ts *testServer) explain(r response) string {
	d, _ := r.body["error_description"].(string)
	_, id, ok := strings.Cut(d, "decision id ")
	if !ok {
		return r.raw
	}
	for _, e := range ts.Logs.FilterField(zap.String("decision_id", id)).All() {
		if e.Message == "decision" {
			return fmt.Sprintf("%s; decision log: result %v, reasons %v", r.raw, e.ContextMap()["result"], e.ContextMap()["reasons"])
		}
	}
	return r.raw
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

var decisionDescription = regexp.MustCompile(`^request refused; decision id [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// grant is what an allowed exchange must issue.
type grant struct {
	identity, subject string
	roles             []string
	scope             string
	audience          string
	ttl               int64
}

func TestExampleBundleRulesOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	deploy := grant{"gitlab-ci-deploy", "gitlab-ci-deploy@workload.example.com", []string{"gitops-service-agent"}, "read write", "https://api.example.com", 900}
	docs := grant{"docs-reader", "docs-reader", []string{"reader"}, "read", "https://api.example.com", 300}
	prod := grant{"production-deployer", "production-deployer@workload.example.com", []string{"deployer"}, "deploy", "https://deploy.example.com", 600}
	release := grant{"github-release", "github-release@workload.example.com", []string{"releaser"}, "read write", "https://api.example.com", 900}
	tests := []struct {
		name   string
		token  func(t testing.TB) string
		params []string
		want   *grant // nil: refused as invalid_request
	}{
		// gitlab-ci-deploy: subject glob, namespace_path, ref_protected, refs branch:main and tag:v*.
		{"a protected main branch of a my-group project gets gitlab-ci-deploy",
			func(t testing.TB) string { return gitlabToken(t, ts.GitLab, nil) }, []string{"identity", "gitlab-ci-deploy"}, &deploy},
		{"the identity may be named by its email",
			func(t testing.TB) string { return gitlabToken(t, ts.GitLab, nil) }, []string{"identity", "gitlab-ci-deploy@workload.example.com"}, &deploy},
		{"with no identity named, the one identity that matches is used",
			func(t testing.TB) string { return gitlabToken(t, ts.GitLab, nil) }, nil, &deploy},
		{"a v-prefixed tag matches refs tag:v*",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"ref_type": "tag", "ref": "v1.2.3",
					"sub": "project_path:my-group/app:ref_type:tag:ref:v1.2.3"})
			}, []string{"identity", "gitlab-ci-deploy"}, &deploy},
		{"a tag without the v prefix is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"ref_type": "tag", "ref": "release-1",
					"sub": "project_path:my-group/app:ref_type:tag:ref:release-1"})
			}, []string{"identity", "gitlab-ci-deploy"}, nil},
		{"a feature branch is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"ref": "feature",
					"sub": "project_path:my-group/app:ref_type:branch:ref:feature"})
			}, []string{"identity", "gitlab-ci-deploy"}, nil},
		{`ref_protected "false" is not true`,
			func(t testing.TB) string { return gitlabToken(t, ts.GitLab, map[string]any{"ref_protected": "false"}) },
			[]string{"identity", "gitlab-ci-deploy"}, nil},
		{"an absent ref_protected claim never matches",
			func(t testing.TB) string { return gitlabToken(t, ts.GitLab, map[string]any{"ref_protected": nil}) },
			[]string{"identity", "gitlab-ci-deploy"}, nil},
		{"a subgroup project does not match a * subject glob, which stays in one segment",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/sub/app",
					"sub": "project_path:my-group/sub/app:ref_type:branch:ref:main"})
			}, []string{"identity", "gitlab-ci-deploy"}, nil},
		{"another namespace is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"namespace_path": "other-group"})
			},
			[]string{"identity", "gitlab-ci-deploy"}, nil},
		{"the custom rule blocking my-group/legacy-app overrides a matching federation",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/legacy-app",
					"sub": "project_path:my-group/legacy-app:ref_type:branch:ref:main"})
			}, []string{"identity", "gitlab-ci-deploy"}, nil},
		// production-deployer: ** across segments, environment and environment_protected.
		{"a platform subgroup project's protected production deployment gets production-deployer",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLabSelf, map[string]any{"project_path": "platform/team/svc", "namespace_path": "platform/team"})
			}, []string{"identity", "production-deployer"}, &prod},
		{"a staging environment is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLabSelf, map[string]any{"project_path": "platform/team/svc", "environment": "staging"})
			}, []string{"identity", "production-deployer"}, nil},
		{"an unprotected environment is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLabSelf, map[string]any{"project_path": "platform/team/svc", "environment_protected": "false"})
			}, []string{"identity", "production-deployer"}, nil},
		{"the custom rule refuses production from a merge request pipeline",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLabSelf, map[string]any{"project_path": "platform/team/svc", "pipeline_source": "merge_request_event"})
			}, []string{"identity", "production-deployer"}, nil},
		{"a token from another provider's issuer is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "platform/team/svc"})
			},
			[]string{"identity", "production-deployer"}, nil},
		// docs-reader: a list of project globs, any ref; ambiguity.
		{"any branch of the handbook gets docs-reader, unprotected too",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/handbook", "ref": "typo-fix", "ref_protected": "false"})
			}, nil, &docs},
		{"two matching identities with none named is refused as ambiguous",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/docs",
					"sub": "project_path:my-group/docs:ref_type:branch:ref:main"})
			}, nil, nil},
		{"naming one of two matching identities resolves the ambiguity",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/docs",
					"sub": "project_path:my-group/docs:ref_type:branch:ref:main"})
			}, []string{"identity", "docs-reader"}, &docs},
		{"a project not in docs-reader's list is refused",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/other"})
			},
			[]string{"identity", "docs-reader"}, nil},
		// github-release: GitHub refs, repository claims.
		{"a push to main of acme/service gets github-release",
			func(t testing.TB) string { return githubToken(t, ts.GitHub, nil) }, []string{"identity", "github-release"}, &release},
		{"a v-prefixed tag of acme/service gets github-release",
			func(t testing.TB) string {
				return githubToken(t, ts.GitHub, map[string]any{"ref": "refs/tags/v2.0.0", "ref_type": "tag",
					"sub": "repo:acme/service:ref:refs/tags/v2.0.0"})
			}, []string{"identity", "github-release"}, &release},
		{"another branch of acme/service is refused",
			func(t testing.TB) string {
				return githubToken(t, ts.GitHub, map[string]any{"ref": "refs/heads/dev", "sub": "repo:acme/service:ref:refs/heads/dev"})
			}, []string{"identity", "github-release"}, nil},
		{"another repository of acme is refused",
			func(t testing.TB) string {
				return githubToken(t, ts.GitHub, map[string]any{"repository": "acme/other", "sub": "repo:acme/other:ref:refs/heads/main"})
			}, []string{"identity", "github-release"}, nil},
		// Identities that never match, names that do not exist.
		{"an identity past its expires_at never matches",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"namespace_path": "contractor"})
			},
			[]string{"identity", "contractor-2025"}, nil},
		{"an identity the bundle does not define is refused",
			func(t testing.TB) string { return gitlabToken(t, ts.GitLab, nil) }, []string{"identity", "nobody"}, nil},
		// Subject tokens that are not acceptable: the same answer as a deny.
		{"a token for another audience is refused like a deny",
			func(t testing.TB) string {
				return gitlabToken(t, ts.GitLab, map[string]any{"aud": "https://elsewhere.example.com"})
			}, nil, nil},
		{"an expired token is refused like a deny",
			func(t testing.TB) string {
				now := time.Now().Unix()
				return gitlabToken(t, ts.GitLab, map[string]any{"iat": now - 600, "nbf": now - 600, "exp": now - 300})
			}, nil, nil},
		{"a token from an issuer no provider names is refused like a deny",
			func(t testing.TB) string { return gitlabToken(t, enginetest.NewIssuer(t), nil) }, nil, nil},
		{"a token signed by a key its issuer does not publish is refused like a deny",
			func(t testing.TB) string {
				c := patchClaims(enginetest.GitLabClaims(ts.GitLab.URL(), sourceAudience), map[string]any{"namespace_path": "my-group"})
				return ts.GitLab.Mint(t, c, enginetest.WithKey(enginetest.NewKey(t, jose.RS256)))
			}, nil, nil},
		{"a string that is not a JWT is refused like a deny",
			func(testing.TB) string { return "not-a-jwt" }, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.exchange(t, tc.token(t), tc.params...)
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control %q Pragma %q", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			if tc.want == nil {
				if r.status != http.StatusBadRequest || r.body["error"] != "invalid_request" || r.body["access_token"] != nil {
					t.Fatalf("%d %s, want 400 invalid_request", r.status, ts.explain(r))
				}
				if d, _ := r.body["error_description"].(string); !decisionDescription.MatchString(d) {
					t.Fatalf("error_description %q is not the fixed text with a decision id", d)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("%d %s, want 200", r.status, ts.explain(r))
			}
			if r.body["token_type"] != "Bearer" || r.body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" ||
				r.body["expires_in"] != float64(tc.want.ttl) || r.body["scope"] != tc.want.scope {
				t.Fatalf("response %v, want scope %q expires_in %d", r.body, tc.want.scope, tc.want.ttl)
			}
			c := ts.verifyIssued(t, r.body["access_token"].(string))
			if c.ClientID != tc.want.identity || c.Subject != tc.want.subject || c.Scope != tc.want.scope ||
				!slices.Equal(c.Roles, tc.want.roles) || !slices.Equal(c.Audience, []string{tc.want.audience}) ||
				c.Expiry-c.IssuedAt != tc.want.ttl {
				t.Fatalf("claims %+v, want %+v", c, *tc.want)
			}
			if c.Act == nil || c.Act.Subject == "" || !strings.HasPrefix(c.Act.Issuer, "http://127.0.0.1:") {
				t.Fatalf("act %+v: the source token's iss and sub (RFC 8693 §4.1)", c.Act)
			}
		})
	}
}

func TestScopesAndAudiencesAreNarrowedOrRefusedOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name       string
		params     []string
		wantStatus int
		wantCode   string
		wantScope  string
		wantAud    string
	}{
		{"a subset of the identity's scopes is granted as asked (RFC 6749 §3.3)",
			[]string{"scope", "read"}, 200, "", "read", "https://api.example.com"},
		{"no scope asked for grants all of the identity's", nil, 200, "", "read write", "https://api.example.com"},
		{"a scope the identity lacks is invalid_scope (RFC 6749 §5.2)",
			[]string{"scope", "read admin"}, 400, "invalid_scope", "", ""},
		{"an audience of the identity is granted (RFC 8693 §2.1)",
			[]string{"audience", "https://api.example.com"}, 200, "", "read write", "https://api.example.com"},
		{"an audience the identity lacks is invalid_target (RFC 8693 §2.2.2)",
			[]string{"audience", "https://evil.example.com"}, 400, "invalid_target", "", ""},
		{"one refused audience among allowed ones is invalid_target",
			[]string{"audience", "https://api.example.com", "audience", "https://evil.example.com"}, 400, "invalid_target", "", ""},
		{"requested_token_type jwt is issued as jwt (RFC 8693 §2.2.1)",
			[]string{"requested_token_type", "urn:ietf:params:oauth:token-type:jwt"}, 200, "", "read write", "https://api.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := append([]string{"identity", "gitlab-ci-deploy"}, tc.params...)
			r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil), params...)
			if r.status != tc.wantStatus {
				t.Fatalf("%d %s", r.status, ts.explain(r))
			}
			if tc.wantStatus != 200 {
				if r.body["error"] != tc.wantCode || !strings.Contains(r.body["error_description"].(string), "; decision id ") {
					t.Fatalf("body %v, want %s with a decision id", r.body, tc.wantCode)
				}
				return
			}
			c := ts.verifyIssued(t, r.body["access_token"].(string))
			if c.Scope != tc.wantScope || !slices.Equal(c.Audience, []string{tc.wantAud}) {
				t.Fatalf("scope %q aud %v", c.Scope, c.Audience)
			}
			wantType := "urn:ietf:params:oauth:token-type:access_token"
			if slices.Contains(tc.params, "urn:ietf:params:oauth:token-type:jwt") {
				wantType = "urn:ietf:params:oauth:token-type:jwt"
			}
			if r.body["issued_token_type"] != wantType {
				t.Fatalf("issued_token_type %v, want %s", r.body["issued_token_type"], wantType)
			}
		})
	}
}

func TestJSONExchangeOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	tok := gitlabToken(t, ts.GitLab, nil)
	r := ts.post(t, "/v1/auth:exchangeToken", "application/json",
		`{"token":"`+tok+`","email":"gitlab-ci-deploy@workload.example.com","scopes":["read"],"audience":"https://api.example.com"}`)
	if r.status != 200 || r.body["tokenType"] != "Bearer" || r.body["expiresIn"] != float64(900) || r.body["scope"] != "read" {
		t.Fatalf("%d %s", r.status, ts.explain(r))
	}
	if c := ts.verifyIssued(t, r.body["accessToken"].(string)); c.ClientID != "gitlab-ci-deploy" {
		t.Fatalf("client_id %q", c.ClientID)
	}
	r = ts.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":"`+tok+`","identity":"docs-reader"}`)
	if r.status != 400 || r.body["error"] != "invalid_request" || !decisionDescription.MatchString(r.body["error_description"].(string)) {
		t.Fatalf("a deny on the JSON endpoint: %d %s", r.status, ts.explain(r))
	}
}

func TestAnIssuedTokenVerifiesWithAnOrdinaryOIDCLibraryThroughDiscovery(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil), "identity", "gitlab-ci-deploy")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, ts.explain(r))
	}
	// A downstream service configured with nothing but the issuer URL.
	ctx := oidc.ClientContext(context.Background(), ts.Client)
	provider, err := oidc.NewProvider(ctx, ts.URL)
	if err != nil {
		t.Fatalf("discovery through /.well-known/openid-configuration: %v", err)
	}
	v := provider.Verifier(&oidc.Config{ClientID: "https://api.example.com", SupportedSigningAlgs: []string{oidc.ES256}})
	tok, err := v.Verify(ctx, r.body["access_token"].(string))
	if err != nil {
		t.Fatalf("go-oidc refuses the issued token: %v", err)
	}
	if tok.Subject != "gitlab-ci-deploy@workload.example.com" || tok.Issuer != ts.URL {
		t.Fatalf("sub %q iss %q", tok.Subject, tok.Issuer)
	}
	m := ts.get(t, "/.well-known/oauth-authorization-server")
	if m.body["issuer"] != ts.URL || m.body["token_endpoint"] != ts.URL+"/oauth2/token" {
		t.Fatalf("RFC 8414 metadata %v", m.body)
	}
}

func TestWhoamiIntrospectAndRevokeRoundTrip(t *testing.T) {
	ts := newTestServer(t, nil)
	source := gitlabToken(t, ts.GitLab, nil)
	r := ts.exchange(t, source, "identity", "gitlab-ci-deploy", "scope", "read")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, ts.explain(r))
	}
	issued := r.body["access_token"].(string)
	introspect := func(token string) response {
		t.Helper()
		return ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
	}
	revoke := func(token string) response {
		t.Helper()
		return ts.post(t, "/oauth2/revoke", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
	}
	whoami := func(token string) response {
		t.Helper()
		return ts.get(t, "/v1/whoami", "Authorization", "Bearer "+token)
	}
	inactive := func(t *testing.T, r response) {
		t.Helper()
		if r.status != 200 || r.raw != "{\"active\":false}\n" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %q, want exactly {\"active\":false} (RFC 7662 §2.2)", r.status, r.raw)
		}
	}
	unauthorized := func(t *testing.T, r response) {
		t.Helper()
		if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` || r.body["error"] != "invalid_token" {
			t.Fatalf("%d %s %q, want 401 invalid_token (RFC 6750 §3.1)", r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}

	t.Run("whoami tells a live token's identity, roles, scopes and expiry", func(t *testing.T) {
		r := whoami(issued)
		if r.status != 200 || r.body["identity"] != "gitlab-ci-deploy" || r.body["subject"] != "gitlab-ci-deploy@workload.example.com" ||
			r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s", r.status, ts.explain(r))
		}
		if !slices.Equal(toStrings(r.body["roles"]), []string{"gitops-service-agent"}) || !slices.Equal(toStrings(r.body["scopes"]), []string{"read"}) {
			t.Fatalf("roles %v scopes %v", r.body["roles"], r.body["scopes"])
		}
		exp, err := time.Parse(time.RFC3339, r.body["expires_at"].(string))
		if err != nil || time.Until(exp) > 15*time.Minute || time.Until(exp) < 14*time.Minute {
			t.Fatalf("expires_at %v (%v)", r.body["expires_at"], err)
		}
	})
	t.Run("introspection of a live token is active with its claims (RFC 7662 §2.2)", func(t *testing.T) {
		r := introspect(issued)
		c := ts.verifyIssued(t, issued)
		if r.status != 200 || r.body["active"] != true || r.body["sub"] != c.Subject || r.body["client_id"] != "gitlab-ci-deploy" ||
			r.body["scope"] != "read" || r.body["token_type"] != "Bearer" || r.body["iss"] != ts.URL || r.body["jti"] != c.ID ||
			r.body["exp"] != float64(c.Expiry) || r.body["iat"] != float64(c.IssuedAt) || r.body["nbf"] != float64(c.NotBefore) ||
			!slices.Equal(toStrings(r.body["aud"]), c.Audience) || !slices.Equal(toStrings(r.body["roles"]), c.Roles) {
			t.Fatalf("%d %s", r.status, ts.explain(r))
		}
	})
	t.Run("the subject token is not a token this server issued", func(t *testing.T) {
		inactive(t, introspect(source))
		unauthorized(t, whoami(source))
	})
	t.Run("a garbage token is inactive, and revoking it is still 200 (RFC 7009 §2.2)", func(t *testing.T) {
		inactive(t, introspect("garbage"))
		if r := revoke("garbage"); r.status != 200 || r.raw != "" {
			t.Fatalf("%d %q", r.status, r.raw)
		}
	})
	t.Run("a revoked token is refused by introspection and whoami (RFC 7009 §2.1)", func(t *testing.T) {
		if r := revoke(issued); r.status != 200 || r.raw != "" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %q", r.status, r.raw)
		}
		inactive(t, introspect(issued))
		unauthorized(t, whoami(issued))
		if r := revoke(issued); r.status != 200 {
			t.Fatalf("revoking twice: %d", r.status)
		}
	})
	t.Run("another token of the same identity stays live", func(t *testing.T) {
		r := ts.exchange(t, source, "identity", "gitlab-ci-deploy")
		if got := introspect(r.body["access_token"].(string)); got.body["active"] != true {
			t.Fatalf("%v", got.body)
		}
	})
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestRateLimitsAre429WithRetryAfter(t *testing.T) {
	t.Run("per client IP, before the token is even verified", func(t *testing.T) {
		ts := newTestServer(t, func(o *Options) {
			o.Server = func(c *server.Config) { c.ClientRate, c.ClientBurst = 0.01, 2 }
		})
		tok := gitlabToken(t, ts.GitLab, nil)
		for i := range 2 {
			if r := ts.exchange(t, tok); r.status != 200 {
				t.Fatalf("exchange %d within the burst: %d %s", i, r.status, ts.explain(r))
			}
		}
		r := ts.exchange(t, tok)
		assert429(t, r, false)
		if !strings.Contains(metricsText(t, ts), `trustgate_http_rate_limited_total{endpoint="/oauth2/token",limit="client"} 1`) {
			t.Fatal("the client limit was not counted")
		}
	})
	t.Run("per token subject, with a decision id", func(t *testing.T) {
		ts := newTestServer(t, func(o *Options) {
			o.Engine = func(c *engine.Config) { c.SubjectRate, c.SubjectBurst = 0.01, 1 }
		})
		if r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil)); r.status != 200 {
			t.Fatalf("first exchange: %d %s", r.status, ts.explain(r))
		}
		r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
		assert429(t, r, true)
		other := gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/web", "sub": "project_path:my-group/web:ref_type:branch:ref:main"})
		if r := ts.exchange(t, other); r.status != 200 {
			t.Fatalf("another subject is not limited: %d %s", r.status, ts.explain(r))
		}
		if !strings.Contains(metricsText(t, ts), `trustgate_http_rate_limited_total{endpoint="/oauth2/token",limit="subject"} 1`) {
			t.Fatal("the subject limit was not counted")
		}
	})
}

func assert429(t *testing.T, r response, withDecision bool) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.body["error"] != "slow_down" {
		t.Fatalf("%d %v, want 429 slow_down", r.status, r.body)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" || strings.ContainsAny(ra, ".-") {
		t.Fatalf("Retry-After %q, want whole seconds >= 1 (RFC 9110 §10.2.3)", ra)
	}
	if got := strings.Contains(r.body["error_description"].(string), "decision id"); got != withDecision {
		t.Fatalf("error_description %q: decision id present = %v, want %v", r.body["error_description"], got, withDecision)
	}
}

func metricsText(t testing.TB, ts *testServer) string {
	t.Helper()
	r, err := ts.Client.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServerSideFailuresAre5xxAndNeverAToken(t *testing.T) {
	t.Run("with no policy loaded an exchange is 500 server_error and readiness fails (DESIGN §6)", func(t *testing.T) {
		ts := newTestServer(t, func(o *Options) { o.NoPolicy = true })
		r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
		if r.status != 500 || r.body["error"] != "server_error" || r.body["access_token"] != nil ||
			!strings.HasPrefix(r.body["error_description"].(string), "internal error; decision id ") {
			t.Fatalf("%d %v", r.status, r.body)
		}
		if r := ts.get(t, "/readyz"); r.status != 503 || r.body["reason"] != "no policy loaded" {
			t.Fatalf("readyz %d %v", r.status, r.body)
		}
		if r := ts.get(t, "/v1/policy"); r.status != 200 || r.body["loaded"] != false {
			t.Fatalf("/v1/policy %d %v", r.status, r.body)
		}
		if ts.Logs.FilterMessage("request failed").FilterLevelExact(zap.ErrorLevel).Len() != 1 {
			t.Fatal("the 500 was not logged at Error")
		}
	})
	t.Run("issuer keys that cannot be fetched are 503 temporarily_unavailable with Retry-After", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ts.GitLab.ServeJWKS([]byte("this is not a JWKS"))
		r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
		if r.status != 503 || r.body["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") != "30" {
			t.Fatalf("%d %v Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
		}
	})
}

func TestReadinessAndPolicyStatusOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	if r := ts.get(t, "/readyz"); r.status != 200 {
		t.Fatalf("readyz %d %v", r.status, r.body)
	}
	r := ts.get(t, "/v1/policy")
	bundles, _ := r.body["bundles"].([]any)
	if r.status != 200 || r.body["loaded"] != true || r.body["loaded_at"] == nil || len(bundles) != 1 {
		t.Fatalf("/v1/policy %d %v", r.status, r.body)
	}
	ts.Server.Drain()
	if r := ts.get(t, "/readyz"); r.status != 503 || r.body["reason"] != "draining" {
		t.Fatalf("readyz while draining %d %v", r.status, r.body)
	}
	if r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil)); r.status != 200 {
		t.Fatalf("a draining server stops serving exchanges: %d", r.status)
	}
}

// jwtShaped matches a compact JWS or a base64url JSON header anywhere.
var jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}`)

func TestNoTokenReachesAnyLogWhateverTheRequest(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Server = func(c *server.Config) { c.RevealReasons = true } })
	good := gitlabToken(t, ts.GitLab, nil)
	denied := gitlabToken(t, ts.GitLab, map[string]any{"ref": "feature"})
	issued, _ := ts.exchange(t, good).body["access_token"].(string)
	if issued == "" {
		t.Fatal("no token issued")
	}
	// Every way a token can be sent, right or wrong.
	ts.exchange(t, denied, "identity", "gitlab-ci-deploy")
	ts.exchange(t, good+"x")
	ts.exchange(t, issued) // our own token as a subject token
	ts.exchange(t, good, "scope", "admin")
	ts.exchange(t, good, "audience", "https://evil.example.com")
	ts.post(t, "/oauth2/token?subject_token="+good, "application/x-www-form-urlencoded", "grant_type=x")
	ts.post(t, "/oauth2/token", "application/x-www-form-urlencoded", "grant_type=password&subject_token="+good)
	ts.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":"`+good+`","`+good+`":1}`)
	ts.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":"`+denied+`"}`)
	ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", "token="+issued)
	ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", "token="+good)
	ts.post(t, "/oauth2/revoke", "application/x-www-form-urlencoded", "token="+issued)
	ts.get(t, "/v1/whoami", "Authorization", "Bearer "+issued)
	ts.get(t, "/v1/whoami", "Authorization", "Basic "+good)
	ts.get(t, "/v1/whoami?access_token="+issued)
	ts.get(t, "/"+good)
	ts.get(t, "/oauth2/token?subject_token="+good)

	entries := ts.Logs.All()
	if len(entries) < 10 {
		t.Fatalf("only %d log lines: the scan would prove little", len(entries))
	}
	var segments []string
	for _, tok := range []string{good, denied, issued} {
		segments = append(segments, strings.Split(tok, ".")...)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range entries {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		if m := jwtShaped.FindString(line); m != "" {
			t.Errorf("a log line holds something token-shaped (%.12s...): %s", m, e.Message)
		}
		for _, seg := range segments {
			if len(seg) >= 8 && strings.Contains(line, seg) {
				t.Errorf("a log line holds a token segment: %s", e.Message)
			}
		}
	}
}

func BenchmarkExchangeHTTP(b *testing.B) {
	ts := newTestServer(b, func(o *Options) { o.Quiet = true })
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {gitlabToken(b, ts.GitLab, nil)},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
		"identity":           {"gitlab-ci-deploy"},
		"scope":              {"read"},
	}.Encode()
	exchange := func() error {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/oauth2/token", strings.NewReader(form))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := ts.Client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := exchange(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := exchange(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
