package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/access/notify"
	"github.com/trustgate/trustgate/engine/state"
	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// pg is this package's PostgreSQL cluster (TestMain).
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// receiver is a webhook on loopback that answers 500 to its first
// failFirst posts, then checks each post's signature and records it.
type receiver struct {
	t         testing.TB
	secret    []byte
	failFirst int
	srv       *httptest.Server

	mu     sync.Mutex
	posts  int
	seen   map[string]int // accepted deliveries by event id
	order  []string       // event types, in the order first accepted
	bodies [][]byte       // every body posted, accepted or not
	first  time.Time      // when the first post was accepted
}

func newReceiver(t testing.TB, secret []byte, failFirst int) *receiver {
	t.Helper()
	r := &receiver{t: t, secret: secret, failFirst: failFirst, seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts++
	r.bodies = append(r.bodies, body)
	if r.posts <= r.failFirst {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	if r.secret != nil && !validMAC(r.secret, req.Header, body) {
		r.t.Errorf("post %d: the signature does not verify with the secret", r.posts)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(notify.HeaderEventID)
	if len(r.order) == 0 {
		r.first = time.Now()
	}
	if r.seen[id] == 0 {
		r.order = append(r.order, req.Header.Get(notify.HeaderEvent))
	}
	r.seen[id]++
	w.WriteHeader(http.StatusNoContent)
}

// validMAC checks the signature the way docs/notifications.md tells a
// receiver to, without the package's Verify.
func validMAC(secret []byte, h http.Header, body []byte) bool {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(h.Get(notify.HeaderTimestamp) + "."))
	m.Write(body)
	return h.Get(notify.HeaderSignature) == "sha256="+hex.EncodeToString(m.Sum(nil))
}

// accepted returns the accepted event types in order and the deliveries by event id.
func (r *receiver) accepted() ([]string, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order), maps(r.seen)
}

func (r *receiver) allBodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies)
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// jsonTarget is a signed JSON target posting to r.
func jsonTarget(name string, r *receiver) notify.Target {
	return notify.Target{Name: name, URL: r.srv.URL + "/hook", Format: notify.FormatJSON, Secret: testSecret, Events: notify.AllEvents}
}

func sqliteURL(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "state.db") }

func openStore(t testing.TB, url string) *state.Store {
	t.Helper()
	s, err := state.Open(context.Background(), url, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// start runs a Notifier over store until the test ends or stop is called;
// stop waits for Run to return.
func start(t *testing.T, cfg notify.Config) (stop func()) {
	t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.BaseDelay == 0 {
		cfg.BaseDelay, cfg.MaxDelay = 20*time.Millisecond, 80*time.Millisecond
	}
	n, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually waits for cond, failing the test after 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return zap.New(core), logs
}

var (
	requester = access.Person{Provider: "gitlab", Issuer: "https://gitlab.example.com", Subject: "project_path:my-group/api:ref_type:branch:ref:main"}
	approver  = access.Person{Provider: "corp", Issuer: "https://login.example.com", Subject: "u-1", Name: "ann@example.com"}
)

// pendingRequest is a request for prod-db-breakglass as the service files it.
// changeWindow is when pendingRequest's grant may start.
var changeWindow = time.Date(2030, 5, 4, 18, 0, 0, 0, time.UTC)

func pendingRequest(id string, now time.Time) access.Request {
	return access.Request{
		ID: id, Identity: "prod-db-breakglass", State: access.StatePending, Risk: "high", ApprovalsRequired: 1,
		Reviews: []access.Review{},
		Requester: access.Requester{Person: requester, Facts: map[string]string{
			"project_path": "my-group/api", "ref": "main", "ref_type": "branch", "pipeline_id": "4242", "user_login": "bob",
		}},
		Binding: access.Binding{Kind: "ref", Provider: "gitlab", Issuer: requester.Issuer, Project: "my-group/api", Ref: "branch:main"},
		Reason:  "incident INC-7: <!channel> restore the orders table", DurationSeconds: 3600,
		Scopes: []string{"read", "write"}, IdentityScopes: true, StartsAt: &changeWindow,
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
		History: []access.Event{{Type: access.EventRequested, Actor: requester, Reason: "incident INC-7", At: now}},
	}
}

// requestApproveRevoke files request id, approves it and revokes it: three
// events, each notified to the targets subs names.
func requestApproveRevoke(t *testing.T, s *state.Store, id string, subs access.Subscribers) {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	if err := s.CreateAccessRequest(ctx, pendingRequest(id, now), subs); err != nil {
		t.Fatal(err)
	}
	rv := access.Review{Reviewer: approver, Verdict: access.VerdictApprove, Reason: "go ahead", At: now.Add(time.Millisecond)}
	if _, ev, err := s.ReviewAccessRequest(ctx, id, rv, subs); err != nil || ev != access.EventApproved {
		t.Fatalf("approve: event %q, %v", ev, err)
	}
	e := access.Event{Type: access.EventRevoked, Actor: approver, Reason: "done", At: now.Add(2 * time.Millisecond)}
	if _, err := s.EndAccessRequest(ctx, id, access.StateApproved, access.StateRevoked, e, subs); err != nil {
		t.Fatalf("revoke: %v", err)
	}
}

func requestID(i int) string { return fmt.Sprintf("req%04d", i) }

// decode parses a JSON body.
func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return m
}

func zapString(key, val string) zap.Field { return zap.String(key, val) }

// newRedirector is a receiver that redirects every post elsewhere.
func newRedirector(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example.com/", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *receiver) firstAccepted() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}
