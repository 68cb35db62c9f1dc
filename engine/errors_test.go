package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/policy"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestAnErrorNamesEachThingOnce holds every kind of refusal to an error
// text in which no sentinel's words and no ": "-separated part appear
// twice ("issuer keys unavailable: issuer keys unavailable: ..." was one).
func TestAnErrorNamesEachThingOnce(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		want error
		run  func(t *testing.T, f *fixture) error
	}{
		{"Keys that cannot be fetched say issuer keys unavailable once.", engine.ErrUnavailable,
			func(t *testing.T, f *fixture) error {
				f.issuer.ServeJWKS([]byte("not a key set"))
				_, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)})
				return err
			}},
		{"A one-time-use token with the store down says state store unavailable once.", engine.ErrStateUnavailable,
			func(t *testing.T, f *fixture) error {
				f.oneTimeUse(t)
				if err := f.store.Close(); err != nil {
					t.Fatal(err)
				}
				_, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, map[string]any{"jti": "job-1"})})
				return err
			}},
		{"Introspection with the store down says state store unavailable once.", engine.ErrStateUnavailable,
			func(t *testing.T, f *fixture) error {
				tok, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)})
				if err != nil {
					t.Fatal(err)
				}
				if err := f.store.Close(); err != nil {
					t.Fatal(err)
				}
				_, err = f.eng.Inspect(ctx, tok.AccessToken)
				return err
			}},
		{"An expired token says why once, though its reason is its error.", engine.ErrInvalidToken,
			func(t *testing.T, f *fixture) error {
				past := time.Now().Add(-time.Hour).Unix()
				_, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, map[string]any{"iat": past - 60, "nbf": past - 60, "exp": past})})
				return err
			}},
		{"A denied exchange names the denial and then each reason once.", engine.ErrDenied,
			func(t *testing.T, f *fixture) error {
				_, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, map[string]any{"ref_protected": "false"})})
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t, newFixture(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			saysEachThingOnce(t, err)
		})
	}
}

// saysEachThingOnce fails t when a sentinel's text or a part of err's text
// appears in it twice.
func saysEachThingOnce(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range []error{engine.ErrUnavailable, engine.ErrStateUnavailable, engine.ErrInvalidToken,
		engine.ErrDenied, engine.ErrInternal, engine.ErrInactive} {
		if n := strings.Count(msg, s.Error()); n > 1 {
			t.Errorf("%q says %q %d times", msg, s, n)
		}
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(msg, ": ") {
		if seen[part] {
			t.Errorf("%q says %q twice", msg, part)
		}
		seen[part] = true
	}
}

// TestARefusalSaysThePolicysReasonsEvenWhenTheErrorsTextHoldsTheirWords:
// a reason is left out only when it is the failure's own text, never
// because its words happen to be in the error's.
func TestARefusalSaysThePolicysReasonsEvenWhenTheErrorsTextHoldsTheirWords(t *testing.T) {
	err := &engine.Error{Err: engine.ErrDenied, Reasons: []string{"policy", `ref "main" is not protected`}}
	if got, want := err.Error(), `denied by policy: policy; ref "main" is not protected`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	f := newFixture(t)
	_, err2 := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, map[string]any{"ref_protected": "false"})})
	var ee *engine.Error
	if !errors.As(err2, &ee) || len(ee.Reasons) == 0 {
		t.Fatalf("a denied exchange: %v, want an *engine.Error with the policy's reasons", err2)
	}
	for _, r := range ee.Reasons {
		if !strings.Contains(err2.Error(), r) {
			t.Errorf("%q leaves out the policy's reason %q", err2.Error(), r)
		}
	}
}

// TestAnAccessCallThePolicyRefusesSaysAndLogsThePolicysReasons: a refused
// just-in-time request carries the policy's reasons (not the verifier's,
// which found nothing wrong) in its *Error, its text and its log line.
func TestAnAccessCallThePolicyRefusesSaysAndLogsThePolicysReasons(t *testing.T) {
	pipeline, people := enginetest.NewIssuer(t), enginetest.NewIssuer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(jitBundle(pipeline.URL(), people.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(context.Background(), []string{dir}, policy.Options{ServerIssuer: stsIssuer, AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	eng, _ := newReplica(t, "memory:", newRing(t), pol, zap.New(core), nil)
	c := enginetest.GitLabClaims(pipeline.URL(), stsIssuer)
	c["project_path"], c["namespace_path"] = "other-group/app", "other-group" // prod-db federates my-group/* only

	_, err = eng.RequestAccess(context.Background(), engine.AccessCall{Token: pipeline.Mint(t, c)},
		access.NewRequest{Identity: "prod-db", Duration: time.Hour, Reason: "deploy the fix"})
	var ee *engine.Error
	if !errors.As(err, &ee) || !errors.Is(err, access.ErrDenied) || len(ee.Reasons) == 0 {
		t.Fatalf("RequestAccess: %v; want an *engine.Error of access.ErrDenied with the policy's reasons", err)
	}
	for _, r := range ee.Reasons {
		if !strings.Contains(err.Error(), r) {
			t.Errorf("%q leaves out the policy's reason %q", err.Error(), r)
		}
	}
	saysEachThingOnce(t, err)
	lines := logs.FilterMessage("access refused").All()
	if len(lines) != 1 {
		t.Fatalf("%d access refused lines, want 1", len(lines))
	}
	if got, want := fmt.Sprint(lines[0].ContextMap()["reasons"]), fmt.Sprint(ee.Reasons); got != want {
		t.Errorf("the log's reasons %s, want the *Error's %s", got, want)
	}
}
