package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/access"
)

// serve's wiring: an event the config's subscribers queue reaches the
// configured webhook, from the state store serve opens.
func TestServeDeliversTheConfiguredNotifications(t *testing.T) {
	got := make(chan []byte, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- body
	}))
	t.Cleanup(hook.Close)
	c, err := config.Parse([]byte(fmt.Sprintf("issuer: http://127.0.0.1:1\nallow_insecure_issuers: true\nbundles: [.]\nnotifications: [{name: oncall, url_file: %s, format: slack}]\n",
		secretFile(t, hook.URL+"/services/x"))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := openState(ctx, config.State{URL: "memory:"}, config.DecisionHistory{}, zap.NewNop(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	now := time.Now()
	r := access.Request{ID: "r1", Identity: "prod-db-breakglass", State: access.StatePending, Risk: "high", ApprovalsRequired: 1,
		Requester: access.Requester{Person: access.Person{Issuer: "https://gitlab.example.com", Subject: "p"}},
		Reason:    "deploy", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		History: []access.Event{{Type: access.EventRequested, At: now}}}
	if err := store.CreateAccessRequest(ctx, r, c.Subscribers()); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	if err := startNotifications(ctx, c, store, zap.NewNop(), prometheus.NewRegistry(), errc); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if !strings.Contains(string(body), "Access requested: prod-db-breakglass") {
			t.Errorf("webhook got %s", body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook got nothing")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("the notifier ended with %v", err)
	}
}
