package access_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
)

const (
	gitlabIssuer = "https://gitlab.example.com"
	githubIssuer = "https://token.actions.githubusercontent.com"
	corpIssuer   = "https://login.example.com"
)

// bundleData is a bundle with a GitLab, a GitHub and a people provider and
// just-in-time identities: prod-db (bind ref, approvers in prod-approvers)
// and one per binding for the grant tests; risk levels as riskLevels says
// ("" keeps the library's).
func bundleData(riskLevels string) string {
	return `
trustgate:
  providers:
    gitlab: {issuer: ` + gitlabIssuer + `, platform: gitlab}
    github: {issuer: ` + githubIssuer + `, platform: github}
    corp: {issuer: ` + corpIssuer + `, platform: generic, audiences: [trustgate]}
` + riskLevels + `  identities:
    standing-db:
      scopes: [read]
      audiences: [https://db.example.com]
      federations:
        - provider: gitlab
          claims: {project_path: my-group/api}
` + jitIdentity("prod-db", "ref") + jitIdentity("subject-db", "subject") + jitIdentity("project-db", "project") +
		jitIdentity("pipeline-db", "pipeline")
}

func jitIdentity(name, bind string) string {
	return `    ` + name + `:
      scopes: [read, write]
      audiences: [https://db.example.com]
      access: just-in-time
      jit:
        max_duration: 4h
        default_duration: 1h
        bind: ` + bind + `
        approvers:
          - provider: corp
            claims: {groups: prod-approvers}
      federations:
        - provider: gitlab
          claims: {project_path: "my-group/*"}
        - provider: github
          claims: {repository: my-org/app}
`
}

// customRisk makes a request whose reason mentions the weekend critical.
const customRisk = `package trustgate.custom

risk contains "critical" if contains(input.request.reason, "weekend")
`

// loadPolicy loads the bundle with the real library and OPA.
func loadPolicy(t *testing.T, riskLevels string) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"data.yaml": bundleData(riskLevels), "custom.rego": customRisk} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A generous evaluation budget: under -race on a loaded machine the
	// default 500 ms is not always enough, and no test here measures time.
	opts := policy.Options{ServerIssuer: "https://sts.test", EvalTimeout: 30 * time.Second}
	p, err := policy.Load(context.Background(), []string{dir}, opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return p
}

// autoApproving: the library's high risk needs no approval.
const autoApproving = "  risk_levels: {high: {approvals: 0}, critical: {approvals: 2}}\n"

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// fixture is a Service on a real state.Store with its clock and the
// transitions it recorded.
type fixture struct {
	svc    *access.Service
	store  *state.Store
	clk    *clock
	mu     sync.Mutex
	events []access.EventType
}

func (f *fixture) recorded() []access.EventType {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]access.EventType(nil), f.events...)
}

// eachStore runs test on a Service over a memory: and a SQLite store.
func eachStore(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, name := range []string{"memory", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			url := "memory:"
			if name == "sqlite" {
				url = "sqlite:" + filepath.Join(t.TempDir(), "state.db")
			}
			f := &fixture{clk: &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}}
			s, err := state.Open(context.Background(), url, state.Options{Now: f.clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			f.store = s
			f.svc, err = access.New(access.Config{Store: s, Now: f.clk.Now, Record: func(_ access.Request, e access.Event) {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.events = append(f.events, e.Type)
			}})
			if err != nil {
				t.Fatal(err)
			}
			test(t, f)
		})
	}
}

// pipeline is a GitLab job of project on ref main, pipeline 77, started
// by alice.
func pipeline(project string) access.Party {
	return access.Party{Provider: "gitlab", Issuer: gitlabIssuer, Platform: verify.PlatformGitLab, Claims: map[string]any{
		"sub":          "project_path:" + project + ":ref_type:branch:ref:main",
		"project_path": project, "ref": "main", "ref_type": "branch", "ref_protected": "true",
		"pipeline_id": "77", "user_login": "alice", "user_email": "alice@example.com", "namespace_path": "my-group",
	}}
}

// workflow is a GitHub Actions run of my-org/app on main, run 9, by actor.
func workflow(actor string) access.Party {
	return access.Party{Provider: "github", Issuer: githubIssuer, Platform: verify.PlatformGitHub, Claims: map[string]any{
		"sub": "repo:my-org/app:ref:refs/heads/main", "repository": "my-org/app", "ref": "refs/heads/main",
		"run_id": "9", "actor": actor,
	}}
}

// employee is a person of the company IdP in groups.
func employee(sub string, groups ...string) access.Party {
	g := make([]any, len(groups))
	for i, x := range groups {
		g[i] = x
	}
	return access.Party{Provider: "corp", Issuer: corpIssuer, Platform: verify.PlatformGeneric, Claims: map[string]any{
		"sub": sub, "email": sub + "@example.com", "groups": g, "aud": "trustgate",
	}}
}

// approver is in prod-approvers.
func approver(sub string) access.Party { return employee(sub, "prod-approvers", "sre") }

// ask files a request for identity by who, failing the test on an error.
func ask(t *testing.T, f *fixture, pol access.Policy, who access.Party, identity, reason string) access.Request {
	t.Helper()
	r, err := f.svc.Request(context.Background(), pol, who, access.NewRequest{Identity: identity, Reason: reason})
	if err != nil {
		t.Fatalf("request %s: %v", identity, err)
	}
	return r
}
