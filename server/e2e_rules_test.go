package server_test

// The example bundle's rules, each allowed and refused over HTTP.

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/trustgate/trustgate/engine/enginetest"
)

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
