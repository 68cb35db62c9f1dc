package engine_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/access/notify"
	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// jwtShape is anything that looks like a compact JWS: two base64url
// segments of a JSON header and payload.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)

// hook is a webhook on loopback that keeps every body it is posted.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.bodies = append(h.bodies, string(body))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) posted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// The whole story on two replicas, with a Slack and a JSON webhook: the
// pipeline's and the approver's ID tokens and the issued access token
// appear in no notification and no log line, nor does anything shaped
// like a JWT.
func testNoTokenInNotificationsOrLogs(t *testing.T, pg *pgtest.Cluster) {
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	slack, audit := newHook(t), newHook(t)
	targets := []notify.Target{
		{Name: "slack", URL: slack.srv.URL, Format: notify.FormatSlack, Events: notify.AllEvents},
		{Name: "audit", URL: audit.srv.URL, Format: notify.FormatJSON, Secret: []byte("0123456789abcdef0123456789abcdef"), Events: notify.AllEvents},
	}
	r := newReplicas(t, pg, log, notify.Subscribers(targets))
	n, err := notify.New(notify.Config{Outbox: r.storeA, Targets: targets, ConsoleURL: "https://sts.example.com/console", PollInterval: 10 * time.Millisecond, Logger: log.Named("notify")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	job, ann := r.job(t), r.approver(t, "ann")
	req, err := r.a.RequestAccess(ctx, job, access.NewRequest{Identity: "prod-db", Duration: time.Hour, Reason: "deploy the fix"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.b.ReviewAccess(ctx, ann, req.ID, access.VerdictApprove, "ok"); err != nil {
		t.Fatal(err)
	}
	tok, err := r.b.Exchange(ctx, engine.Request{SubjectToken: job.Token, Identity: "prod-db"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.a.RevokeAccess(ctx, job, req.ID, "done"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return len(slack.posted()) == 3 && len(audit.posted()) == 3 })

	texts := append(slack.posted(), audit.posted()...)
	for _, e := range logs.All() {
		texts = append(texts, fmt.Sprint(e.Message, " ", e.ContextMap()))
	}
	for _, text := range texts {
		for _, secret := range []string{job.Token, ann.Token, tok.AccessToken} {
			if sig := secret[strings.LastIndex(secret, ".")+1:]; strings.Contains(text, sig) {
				t.Errorf("a notification or log line holds a token's signature: %.200s", text)
			}
		}
		if m := jwtShape.FindString(text); m != "" {
			t.Errorf("a notification or log line holds something shaped like a JWT (%.20s...): %.200s", m, text)
		}
	}
	if !strings.Contains(strings.Join(audit.posted(), ""), `"event":"revoked"`) {
		t.Errorf("the JSON webhook did not get the revocation: %v", audit.posted())
	}
}

// eventually waits for cond, failing the test after 20 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the notifications")
		}
	}
}
