package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/state/pgtest"
	"github.com/trustgate/trustgate/engine/verify"
)

// replicas are two engines sharing one PostgreSQL, one signing key and
// one policy, as two replicas behind a load balancer; a pipeline issuer and
// a people issuer mint the tokens.
type replicas struct {
	a, b     *engine.Engine
	storeA   *state.Store
	pipeline *enginetest.Issuer
	people   *enginetest.Issuer
}

// jitBundle has a GitLab provider for pipelines, a people provider, and
// prod-db: just-in-time, bound to project and ref, one approval from
// prod-approvers.
func jitBundle(pipeline, people string) string {
	return `trustgate:
  providers:
    gitlab: {issuer: ` + pipeline + `, platform: gitlab, audiences: [` + stsIssuer + `]}
    corp: {issuer: ` + people + `, platform: generic, audiences: [` + stsIssuer + `]}
  identities:
    prod-db:
      roles: [db-admin]
      scopes: [read, write]
      audiences: [https://db.example.com]
      ttl: 10m
      access: just-in-time
      jit:
        max_duration: 4h
        default_duration: 1h
        bind: ref
        approvers:
          - provider: corp
            claims: {groups: prod-approvers}
      federations:
        - provider: gitlab
          claims: {project_path: "my-group/*"}
`
}

// startPostgres starts a PostgreSQL cluster for one test and its
// subtests; where PostgreSQL is not installed the test is skipped, or
// failed in CI, as pgtest.Require does.
func startPostgres(t *testing.T) *pgtest.Cluster {
	t.Helper()
	c, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("pgtest: %v; run `make test` to install PostgreSQL and run these tests", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newReplicas builds two replicas on a new database of pg.
func newReplicas(t *testing.T, pg *pgtest.Cluster, log *zap.Logger, notify access.Subscribers) *replicas {
	t.Helper()
	url := pg.NewDatabase(t)
	r := &replicas{pipeline: enginetest.NewIssuer(t), people: enginetest.NewIssuer(t)}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(jitBundle(r.pipeline.URL(), r.people.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(context.Background(), []string{dir}, policy.Options{ServerIssuer: stsIssuer, AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	ring := newRing(t)
	r.a, r.storeA = newReplica(t, url, ring, pol, log.Named("a"), notify)
	r.b, _ = newReplica(t, url, ring, pol, log.Named("b"), notify)
	return r
}

func newReplica(t *testing.T, url string, ring *mint.KeyRing, pol *policy.Policy, log *zap.Logger, notify access.Subscribers) (*engine.Engine, *state.Store) {
	t.Helper()
	st, err := state.Open(context.Background(), url, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := access.New(access.Config{Store: st, Notify: notify, Record: engine.AccessRecorder(log), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		Issuer:      stsIssuer,
		Verifier:    verify.New(verify.Config{AllowInsecureIssuers: true, Replay: st}),
		Keys:        ring,
		Revocations: st,
		Access:      svc,
		Logger:      log,
	})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetPolicy(pol)
	return eng, st
}

// job is a pipeline's ID token: GitLab, my-group/app on protected main.
func (r *replicas) job(t *testing.T) engine.AccessCall {
	t.Helper()
	c := enginetest.GitLabClaims(r.pipeline.URL(), stsIssuer)
	c["project_path"], c["namespace_path"] = "my-group/app", "my-group"
	c["sub"] = "project_path:my-group/app:ref_type:branch:ref:main"
	return engine.AccessCall{Token: r.pipeline.Mint(t, c)}
}

// approver is a person's ID token from the company IdP, in prod-approvers.
func (r *replicas) approver(t *testing.T, name string) engine.AccessCall {
	t.Helper()
	now := time.Now().Unix()
	return engine.AccessCall{Token: r.people.Mint(t, map[string]any{
		"iss": r.people.URL(), "aud": stsIssuer, "sub": "u-" + name, "email": name + "@example.com",
		"groups": []any{"prod-approvers", "sre"}, "iat": now, "nbf": now - 5, "exp": now + 300, "jti": fmt.Sprintf("%s-%d", name, time.Now().UnixNano()),
	})}
}

func (r *replicas) request(t *testing.T, reason string) access.Request {
	t.Helper()
	req, err := r.a.RequestAccess(context.Background(), r.job(t), access.NewRequest{Identity: "prod-db", Duration: time.Hour, Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	if req.State != access.StatePending || req.ApprovalsRequired != 1 {
		t.Fatalf("request %s is %s needing %d approvals, want pending needing 1", req.ID, req.State, req.ApprovalsRequired)
	}
	return req
}

// race runs the calls at once and returns their errors, in order.
func race(calls ...func() error) []error {
	errs := make([]error, len(calls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			<-start
			errs[i] = call()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins: exactly one call succeeded and the other was refused with
// access.ErrConflict; it returns the winner's index.
func oneWins(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner == -1:
			winner = i
		case err == nil:
			t.Fatalf("both calls succeeded")
		case !errors.Is(err, access.ErrConflict):
			t.Fatalf("call %d failed with %v, want access.ErrConflict", i, err)
		}
	}
	if winner == -1 {
		t.Fatalf("no call succeeded: %v", errs)
	}
	return winner
}

// historyOf counts each event type in a request's history.
func historyOf(r access.Request) map[access.EventType]int {
	out := map[access.EventType]int{}
	for _, e := range r.History {
		out[e.Type]++
	}
	return out
}
