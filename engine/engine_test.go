package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/verify"
)

const stsIssuer = "https://sts.example.com"

// fixture is a real engine over a real test issuer and a bundle on disk.
type fixture struct {
	eng    *engine.Engine
	issuer *enginetest.Issuer
	keys   *mint.KeyRing
	logs   *observer.ObservedLogs
	bundle string
	store  *state.Store // replay and revocation, in memory
}

// bundleData is a bundle trusting the test issuer with identities that
// exercise the data model.
func bundleData(issuer string) string {
	return `trustgate:
  providers:
    test:
      issuer: ` + issuer + `
      platform: gitlab
      audiences: [` + stsIssuer + `]
  identities:
    deploy:
      email: deploy@workload.example.com
      roles: [deployer]
      scopes: [read, write]
      audiences: [https://api.example.com, https://other.example.com]
      ttl: 10m
      federations:
        - provider: test
          claims:
            namespace_path: my-group
            ref_protected: "true"
          refs: ["branch:main"]
`
}

func newFixture(t testing.TB, mutate ...func(*engine.Config)) *fixture {
	t.Helper()
	iss := enginetest.NewIssuer(t)
	ring := newRing(t)
	st := newStore(t)
	core, logs := observer.New(zap.DebugLevel)
	cfg := engine.Config{
		Issuer:      stsIssuer,
		Verifier:    verify.New(verify.Config{AllowInsecureIssuers: true, Replay: st}),
		Keys:        ring,
		Revocations: st,
		Logger:      zap.New(core),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{eng: eng, issuer: iss, keys: ring, logs: logs, bundle: t.TempDir(), store: st}
	f.reload(t, map[string]string{"data.yaml": bundleData(iss.URL())})
	return f
}

// reload writes files into the fixture's bundle and makes it the policy.
func (f *fixture) reload(t testing.TB, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(f.bundle, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := policy.Load(context.Background(), []string{f.bundle}, policy.Options{ServerIssuer: stsIssuer, AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	f.eng.SetPolicy(p)
}

func (f *fixture) token(t testing.TB, override map[string]any) string {
	t.Helper()
	c := enginetest.GitLabClaims(f.issuer.URL(), stsIssuer)
	c["namespace_path"] = "my-group"
	c["project_path"] = "my-group/app"
	c["ref"], c["ref_type"], c["ref_protected"] = "main", "branch", "true"
	for k, v := range override {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return f.issuer.Mint(t, c)
}

func TestExchangeIssuesATokenTheRingVerifies(t *testing.T) {
	f := newFixture(t)
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil), Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Identity != "deploy" || tok.Subject != "deploy@workload.example.com" || tok.ExpiresIn != 10*time.Minute {
		t.Fatalf("token %+v", tok)
	}
	in, err := f.eng.Inspect(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	c := in.Claims
	if c.Issuer != stsIssuer || c.ClientID != "deploy" || c.Scope != "read" || len(c.Audience) != 1 ||
		c.Audience[0] != "https://api.example.com" || c.Act == nil || c.Act.Issuer != f.issuer.URL() ||
		c.Src["project_path"] != "my-group/app" || c.Expiry-c.IssuedAt != 600 {
		t.Fatalf("issued claims %+v", c)
	}
}

func TestExchangeRefusalsCarrySentinelsAndADecisionID(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		req  func() engine.Request
		want error
	}{
		{"a token that is not a JWT is an invalid token", func() engine.Request {
			return engine.Request{SubjectToken: "garbage"}
		}, engine.ErrInvalidToken},
		{"a token from an unprotected ref is denied", func() engine.Request {
			return engine.Request{SubjectToken: f.token(t, map[string]any{"ref_protected": "false"})}
		}, engine.ErrDenied},
		{"a scope the identity lacks is invalid_scope", func() engine.Request {
			return engine.Request{SubjectToken: f.token(t, nil), Scopes: []string{"admin"}}
		}, engine.ErrInvalidScope},
		{"an audience the identity lacks is invalid_target", func() engine.Request {
			return engine.Request{SubjectToken: f.token(t, nil), Audiences: []string{"https://evil.example.com"}}
		}, engine.ErrInvalidTarget},
		{"an unknown identity name is denied", func() engine.Request {
			return engine.Request{SubjectToken: f.token(t, nil), Identity: "nobody"}
		}, engine.ErrDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := f.eng.Exchange(context.Background(), tc.req())
			if tok != nil {
				t.Fatalf("a token was issued: %+v", tok)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			var e *engine.Error
			if !errors.As(err, &e) || len(e.DecisionID) != 36 {
				t.Fatalf("error %#v carries no decision id", err)
			}
		})
	}
}

func TestTheCallerMayNameTheIdentityByEmail(t *testing.T) {
	f := newFixture(t)
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil), Identity: "deploy@workload.example.com"})
	if err != nil || tok.Identity != "deploy" {
		t.Fatalf("token %+v, err %v", tok, err)
	}
}

func TestTTLIsCappedByMaxTTL(t *testing.T) {
	f := newFixture(t, func(c *engine.Config) { c.MaxTTL = 2 * time.Minute; c.DefaultTTL = time.Minute })
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tok.ExpiresIn != 2*time.Minute {
		t.Fatalf("expires in %s, want the 2m cap", tok.ExpiresIn)
	}
}

func TestNoPolicyMeansNoToken(t *testing.T) {
	eng, err := engine.New(engine.Config{Issuer: stsIssuer, Verifier: verify.New(verify.Config{}), Keys: newRing(t), Revocations: newStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Ready(); !errors.Is(err, engine.ErrNoPolicy) {
		t.Fatalf("Ready() = %v before any policy, want ErrNoPolicy", err)
	}
	if _, err := eng.Exchange(context.Background(), engine.Request{SubjectToken: "x.y.z"}); !errors.Is(err, engine.ErrNoPolicy) {
		t.Fatalf("Exchange error %v, want ErrNoPolicy", err)
	}
}

func TestRevokedTokensAreInactive(t *testing.T) {
	f := newFixture(t)
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.eng.Revoke(context.Background(), tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Inspect(context.Background(), tok.AccessToken); !errors.Is(err, engine.ErrInactive) {
		t.Fatalf("Inspect of a revoked token: %v, want ErrInactive", err)
	}
}

func TestSubjectRateLimitAppliesPerSubject(t *testing.T) {
	f := newFixture(t, func(c *engine.Config) { c.SubjectRate, c.SubjectBurst = 0.001, 2 })
	ctx := context.Background()
	for i := range 2 {
		if _, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)}); err != nil {
			t.Fatalf("exchange %d within the burst: %v", i, err)
		}
	}
	_, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)})
	var e *engine.Error
	if !errors.Is(err, engine.ErrRateLimited) || !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("third exchange: %v, want ErrRateLimited with a RetryAfter", err)
	}
	other := f.token(t, map[string]any{"sub": "project_path:my-group/other:ref_type:branch:ref:main"})
	if _, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: other}); err != nil {
		t.Fatalf("another subject was limited too: %v", err)
	}
}

func TestTheDecisionLogHoldsOneRecordAndNoToken(t *testing.T) {
	f := newFixture(t)
	raw := f.token(t, map[string]any{"ref_protected": "false"})
	before := time.Now()
	_, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw, ClientIP: "192.0.2.1"})
	after := time.Now()
	var e *engine.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a refusal, got %v", err)
	}
	records := f.logs.FilterMessage("decision").All()
	if len(records) != 1 {
		t.Fatalf("%d decision records, want 1", len(records))
	}
	fields := records[0].ContextMap()
	if fields["decision_id"] != e.DecisionID || fields["result"] != "denied" || fields["allow"] != false ||
		fields["source_iss"] != f.issuer.URL() || fields["client_ip"] != "192.0.2.1" {
		t.Fatalf("record fields %v", fields)
	}
	ts, _ := fields["timestamp"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || !strings.HasSuffix(ts, "Z") || at.Before(before) || at.After(after) {
		t.Fatalf("record timestamp %v (%v): want RFC 3339 in UTC, taken during the exchange", fields["timestamp"], err)
	}
}

// events is a DecisionSink that keeps what it is given.
type events struct {
	mu  sync.Mutex
	all []decisionlog.Event
}

func (s *events) Record(e decisionlog.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, e)
}

// TestNoLogLineOrDecisionEventHoldsTheToken encodes every log entry as the
// JSON a deployment writes, every field and list included, and every event
// given to the decision sink, and looks for each segment of the subject
// token and of the issued one.
func TestNoLogLineOrDecisionEventHoldsTheToken(t *testing.T) {
	sink := &events{}
	f := newFixture(t, func(c *engine.Config) {
		c.DecisionSink = sink
		// A clock outside UTC: records are written in UTC all the same.
		c.Now = func() time.Time { return time.Now().In(time.FixedZone("UTC+1", 3600)) }
	})
	stranger := enginetest.NewKey(t, jose.RS256) // never published by the issuer
	tokens := map[string]string{
		"granted":              f.token(t, nil),
		"denied":               f.token(t, map[string]any{"ref_protected": "false"}),
		"signed by a stranger": f.issuer.Mint(t, enginetest.GitLabClaims(f.issuer.URL(), stsIssuer), enginetest.WithKey(stranger)),
		"not a JWS":            "eyJub3QiOiJhIHRva2VuIn0.bm90LWEtcGF5bG9hZC1hdC1hbGw.c2lnbmF0dXJlLWJ5dGVzLWhlcmU",
	}
	var secrets []string
	for name, raw := range tokens {
		tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw, ClientIP: "192.0.2.1"})
		if (name == "granted") != (err == nil) {
			t.Fatalf("%s: error %v", name, err)
		}
		secrets = append(secrets, strings.Split(raw, ".")...)
		if tok != nil {
			secrets = append(secrets, strings.Split(tok.AccessToken, ".")...)
		}
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	var written []string
	for _, entry := range f.logs.All() {
		buf, err := enc.EncodeEntry(entry.Entry, entry.Context)
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, buf.String())
	}
	if len(sink.all) != len(tokens) {
		t.Fatalf("%d decision events, want %d", len(sink.all), len(tokens))
	}
	for _, e := range sink.all {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var ts struct {
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal(b, &ts); err != nil || !strings.HasSuffix(ts.Timestamp, "Z") {
			t.Fatalf("event timestamp %q (%v): want RFC 3339 in UTC, as OPA's decision logs", ts.Timestamp, err)
		}
		written = append(written, string(b))
	}
	for _, w := range written {
		for _, part := range secrets {
			if len(part) >= 8 && strings.Contains(w, part) {
				t.Fatalf("written output holds a token segment: %.120s...", w)
			}
		}
	}
}

// The library guards glob.match against non-string claims: evaluation runs
// with strict builtin errors, where a glob over a boolean would be an error
// (a 500) instead of a comparison of its JSON text.
func TestANonStringClaimIsComparedAsItsJSONTextNotAnError(t *testing.T) {
	f := newFixture(t)
	tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, map[string]any{"ref_protected": true})})
	if err != nil {
		t.Fatalf("a boolean true against pattern \"true\": %v, want a token", err)
	}
	if tok.Identity != "deploy" {
		t.Fatalf("identity %q", tok.Identity)
	}
	_, err = f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, map[string]any{"ref_protected": false, "namespace_path": 7})})
	if !errors.Is(err, engine.ErrDenied) {
		t.Fatalf("non-string claims that do not match: %v, want ErrDenied (not an internal error)", err)
	}
}

func TestBusyEvaluationSlotsQueueThenRefuseWithRetryAfter(t *testing.T) {
	f := newFixture(t, func(c *engine.Config) { c.MaxConcurrentEvaluations, c.QueueTimeout = 2, 250*time.Millisecond })
	release := engine.HoldEvaluationSlots(f.eng)
	_, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil)})
	var e *engine.Error
	if !errors.Is(err, engine.ErrOverloaded) || !errors.As(err, &e) || e.RetryAfter != time.Second || e.DecisionID == "" {
		t.Fatalf("with every slot busy: %v, want ErrOverloaded with a decision id and RetryAfter 1s", err)
	}
	if got := f.logs.FilterMessage("decision").All()[0].ContextMap()["result"]; got != "overloaded" {
		t.Fatalf("decision record result %v, want overloaded", got)
	}

	// A waiting exchange gets the slot as soon as one is released.
	done := make(chan error, 1)
	raw := f.token(t, nil)
	go func() {
		_, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw})
		done <- err
	}()
	for engine.WaitingForSlot(f.eng) == 0 {
		select {
		case err := <-done:
			t.Fatalf("the exchange ended without waiting for a slot: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("after the slots were released: %v", err)
	}
	if n := engine.WaitingForSlot(f.eng); n != 0 {
		t.Fatalf("%d still counted as waiting", n)
	}

	// A caller that gives up while queued is refused, not left waiting.
	release = engine.HoldEvaluationSlots(f.eng)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)}); !errors.Is(err, engine.ErrOverloaded) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled caller: %v, want ErrOverloaded wrapping context.Canceled", err)
	}
	records := f.logs.FilterMessage("decision").All()
	if got := records[len(records)-1].ContextMap()["result"]; got != "cancelled" {
		t.Fatalf("decision record result %v for a caller that went away, want cancelled (not overloaded)", got)
	}
}

func TestNegativeEvaluationLimitsAreRefused(t *testing.T) {
	for _, mutate := range []func(*engine.Config){
		func(c *engine.Config) { c.MaxConcurrentEvaluations = -1 },
		func(c *engine.Config) { c.QueueTimeout = -time.Second },
	} {
		cfg := engine.Config{Issuer: stsIssuer, Verifier: verify.New(verify.Config{}), Keys: newRing(t), Revocations: newStore(t)}
		mutate(&cfg)
		if _, err := engine.New(cfg); err == nil {
			t.Fatalf("New accepted %+v", cfg)
		}
	}
}

func newRing(t testing.TB) *mint.KeyRing {
	t.Helper()
	k, err := mint.Generate(mint.ES256)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := mint.NewKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// TestARefusedAccessCallLogsTheTokensHashNotTheToken: the "access refused"
// line names the bearer token by its SHA-256 only, and neither it nor the
// error returned holds any segment of the token.
func TestARefusedAccessCallLogsTheTokensHashNotTheToken(t *testing.T) {
	f := newFixture(t) // no just-in-time access: every call is refused
	raw := f.token(t, nil)
	_, err := f.eng.RequestAccess(context.Background(), engine.AccessCall{Token: raw, ClientIP: "192.0.2.1"}, access.NewRequest{Identity: "deploy"})
	if !errors.Is(err, engine.ErrNoAccess) {
		t.Fatalf("RequestAccess: %v; want ErrNoAccess", err)
	}
	lines := f.logs.FilterMessage("access refused").All()
	if len(lines) != 1 {
		t.Fatalf("%d access refused lines, want 1", len(lines))
	}
	sum := sha256.Sum256([]byte(raw))
	fields := lines[0].ContextMap()
	if fields["source_token_sha256"] != hex.EncodeToString(sum[:]) || fields["client_ip"] != "192.0.2.1" {
		t.Fatalf("access refused fields %v", fields)
	}
	buf, encErr := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()).EncodeEntry(lines[0].Entry, lines[0].Context)
	if encErr != nil {
		t.Fatal(encErr)
	}
	for _, part := range strings.Split(raw, ".") {
		if strings.Contains(buf.String(), part) || strings.Contains(err.Error(), part) {
			t.Fatalf("the log line or the error holds a token segment: %s / %v", buf, err)
		}
	}
}
