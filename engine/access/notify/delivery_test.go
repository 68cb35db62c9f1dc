package notify_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/access/notify"
)

// The receiver fails twice, then sees requested, approved and revoked,
// each once, each verifying with the secret; the metrics count it all.
func TestAReceiverThatFailsTwiceThenSeesEachEventOnce(t *testing.T) {
	s := openStore(t, sqliteURL(t))
	rcv := newReceiver(t, testSecret, 2)
	targets := []notify.Target{jsonTarget("audit", rcv)}
	requestApproveRevoke(t, s, requestID(1), notify.Subscribers(targets))

	reg := prometheus.NewRegistry()
	log, logs := observed()
	start(t, notify.Config{Outbox: s, Targets: targets, Registerer: reg, Logger: log})
	eventually(t, "three events are accepted", func() bool { order, _ := rcv.accepted(); return len(order) == 3 })
	eventually(t, "the outbox is empty", func() bool { n, _ := s.PendingNotifications(context.Background()); return n == 0 })

	order, seen := rcv.accepted()
	if !sameEvents(order, "requested", "approved", "revoked") {
		t.Errorf("events %v, want requested, approved and revoked", order)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s accepted %d times, want once", id, n)
		}
	}
	if got := testutil.ToFloat64(notifyMetric(t, reg, "trustgate_notifications_delivered_total")); got != 3 {
		t.Errorf("delivered = %v, want 3", got)
	}
	if got := testutil.ToFloat64(notifyMetric(t, reg, "trustgate_notifications_failed_total")); got != 2 {
		t.Errorf("failed = %v, want 2", got)
	}
	if n := logs.FilterMessage("notification failed; retrying").Len(); n != 2 {
		t.Errorf("%d retry log lines, want 2", n)
	}
}

// notifyMetric is the collector of name in reg (all label values summed).
func notifyMetric(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	g.Set(sum)
	return g
}

// The receiver fails twice; the Notifier and the Store are closed and
// opened again on the same SQLite file; the receiver then sees each event
// once, those queued before the restart and one after it, each verifying.
func TestAReceiverThatFailsTwiceSeesEachEventOnceAcrossARestart(t *testing.T) {
	url := sqliteURL(t)
	rcv := newReceiver(t, testSecret, 2)
	targets := []notify.Target{jsonTarget("audit", rcv)}
	subs := notify.Subscribers(targets)
	s := openStore(t, url)
	ctx, now := context.Background(), time.Now()
	if err := s.CreateAccessRequest(ctx, pendingRequest(requestID(1), now), subs); err != nil {
		t.Fatal(err)
	}
	rv := access.Review{Reviewer: approver, Verdict: access.VerdictApprove, Reason: "go ahead", At: now.Add(time.Millisecond)}
	if _, _, err := s.ReviewAccessRequest(ctx, requestID(1), rv, subs); err != nil {
		t.Fatal(err)
	}
	// Both fail; their retries are due seconds later, after the restart.
	stop := start(t, notify.Config{Outbox: s, Targets: targets, BaseDelay: 2 * time.Second, MaxDelay: 2 * time.Second})
	eventually(t, "both notifications were tried", func() bool { return len(rcv.allBodies()) == 2 })
	stop()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, url)
	e := access.Event{Type: access.EventRevoked, Actor: approver, Reason: "done", At: time.Now()}
	if _, err := s.EndAccessRequest(ctx, requestID(1), access.StateApproved, access.StateRevoked, e, subs); err != nil {
		t.Fatal(err)
	}
	start(t, notify.Config{Outbox: s, Targets: targets})
	eventually(t, "three events are accepted", func() bool { order, _ := rcv.accepted(); return len(order) == 3 })
	eventually(t, "the outbox is empty", func() bool { n, _ := s.PendingNotifications(ctx); return n == 0 })
	order, seen := rcv.accepted()
	if !sameEvents(order, "requested", "approved", "revoked") {
		t.Errorf("events across the restart %v", order)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s accepted %d times, want once", id, n)
		}
	}
	if posts := len(rcv.allBodies()); posts != 5 {
		t.Errorf("%d posts, want 5 (two refused, three accepted)", posts)
	}
}

// Two Notifiers (two replicas) on one database deliver each notification
// once: a claimed row is not claimed again while its lease runs.
func TestTwoReplicasDeliverEachNotificationOnce(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"on SQLite", sqliteURL(t)},
		{"on PostgreSQL", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				url = pg.Require(t).NewDatabase(t)
			}
			a, b := openStore(t, url), openStore(t, url)
			rcv := newReceiver(t, testSecret, 0)
			targets := []notify.Target{jsonTarget("audit", rcv)}
			const requests = 20
			for i := range requests {
				requestApproveRevoke(t, a, requestID(i), notify.Subscribers(targets))
			}
			start(t, notify.Config{Outbox: a, Targets: targets, Batch: 4})
			start(t, notify.Config{Outbox: b, Targets: targets, Batch: 4})
			eventually(t, "every event is accepted", func() bool { order, _ := rcv.accepted(); return len(order) == 3*requests })
			eventually(t, "the outbox is empty", func() bool { n, _ := a.PendingNotifications(context.Background()); return n == 0 })
			_, seen := rcv.accepted()
			for id, n := range seen {
				if n != 1 {
					t.Errorf("event %s accepted %d times, want once", id, n)
				}
			}
			if posts := len(rcv.allBodies()); posts != 3*requests {
				t.Errorf("%d posts for %d events", posts, 3*requests)
			}
		})
	}
}

// A replica that claimed notifications and died holds them only for its
// lease; then another delivers them.
func TestNotificationsClaimedByAReplicaThatDiedAreDeliveredAfterTheLease(t *testing.T) {
	s := openStore(t, sqliteURL(t))
	rcv := newReceiver(t, testSecret, 0)
	targets := []notify.Target{jsonTarget("audit", rcv)}
	requestApproveRevoke(t, s, requestID(1), notify.Subscribers(targets))
	const lease = 300 * time.Millisecond
	claimedAt := time.Now()
	claimed, err := s.DueNotifications(context.Background(), claimedAt, 10, lease)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("the dead replica claimed %d, %v", len(claimed), err)
	}
	start(t, notify.Config{Outbox: s, Targets: targets})
	eventually(t, "three events are accepted", func() bool { order, _ := rcv.accepted(); return len(order) == 3 })
	if waited := rcv.firstAccepted().Sub(claimedAt); waited < lease {
		t.Errorf("delivered %v after the claim, before its lease of %v ended", waited, lease)
	}
}

// A notification for a target no longer configured is dropped with a log
// line naming the target, and never claimed again, once it is older than
// the grace a rolling deploy needs.
func TestANotificationForATargetNoLongerConfiguredIsDropped(t *testing.T) {
	s := openStore(t, sqliteURL(t))
	rcv := newReceiver(t, testSecret, 0)
	gone := notify.Target{Name: "old-slack", Format: notify.FormatSlack, URL: "https://hooks.example.com/never", Events: notify.AllEvents}
	old := time.Now().Add(-notify.UnknownTargetGrace - time.Minute)
	if err := s.CreateAccessRequest(context.Background(), pendingRequest(requestID(1), old), notify.Subscribers([]notify.Target{gone})); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	log, logs := observed()
	start(t, notify.Config{Outbox: s, Targets: []notify.Target{jsonTarget("audit", rcv)}, Logger: log, Registerer: reg})
	eventually(t, "the outbox is empty", func() bool { n, _ := s.PendingNotifications(context.Background()); return n == 0 })
	// The drop is logged once its row is marked: the outbox may be empty
	// a moment before the line is written.
	drops := func() int {
		return logs.FilterMessageSnippet("notification dropped").FilterField(zapString("target", "old-slack")).Len()
	}
	eventually(t, "the drop is logged", func() bool { return drops() > 0 })
	if n := drops(); n != 1 {
		t.Errorf("%d drop log lines naming old-slack, want 1: %v", n, logs.All())
	}
	if got := testutil.ToFloat64(notifyMetric(t, reg, "trustgate_notifications_dropped_total")); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	if n := len(rcv.allBodies()); n != 0 {
		t.Errorf("the configured target got %d posts meant for another", n)
	}
}

// A replica on an older config, which does not know a target the others
// were given, leaves its recent notifications to a replica that does.
func TestAReplicaLeavesANewTargetsNotificationsToOneThatKnowsIt(t *testing.T) {
	url := sqliteURL(t)
	oldReplica, newReplica := openStore(t, url), openStore(t, url)
	rcv := newReceiver(t, testSecret, 0)
	added := jsonTarget("audit", rcv)
	if err := newReplica.CreateAccessRequest(context.Background(), pendingRequest(requestID(1), time.Now()), notify.Subscribers([]notify.Target{added})); err != nil {
		t.Fatal(err)
	}
	log, logs := observed()
	stop := start(t, notify.Config{Outbox: oldReplica, Logger: log})
	eventually(t, "the old replica saw it", func() bool { return logs.FilterMessageSnippet("left to another replica").Len() > 0 })
	stop()
	if n, _ := oldReplica.PendingNotifications(context.Background()); n != 1 {
		t.Fatalf("%d pending after the old replica saw it, want 1: it must not drop it", n)
	}
	// Released for a minute: the new replica's poll a minute on takes it.
	start(t, notify.Config{Outbox: newReplica, Targets: []notify.Target{added}, Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	eventually(t, "the new replica delivered it", func() bool { order, _ := rcv.accepted(); return len(order) == 1 })
}

// A receiver that redirects, or cannot be reached, is a failed delivery;
// neither the log nor the outbox's error keeps the webhook URL, a
// credential.
func TestAFailedDeliveryNeverRevealsTheWebhookURL(t *testing.T) {
	const credential = "T000/B000/XXXXsecretXXXX"
	redirect := newRedirector(t)
	for _, tc := range []struct{ name, url string }{
		{"a redirect", redirect + "/services/" + credential},
		{"a closed port", "http://127.0.0.1:1/services/" + credential},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, sqliteURL(t))
			target := notify.Target{Name: "slack", Format: notify.FormatSlack, URL: tc.url, Events: notify.AllEvents}
			if err := s.CreateAccessRequest(context.Background(), pendingRequest(requestID(1), time.Now()), notify.Subscribers([]notify.Target{target})); err != nil {
				t.Fatal(err)
			}
			log, logs := observed()
			stop := start(t, notify.Config{Outbox: s, Targets: []notify.Target{target}, Logger: log})
			eventually(t, "a failure is logged", func() bool { return logs.FilterMessage("notification failed; retrying").Len() > 0 })
			stop()
			for _, e := range logs.All() {
				if text := fmt.Sprint(e.Message, e.ContextMap()); strings.Contains(text, "secret") || strings.Contains(text, "/services/") {
					t.Errorf("log line holds the webhook URL: %s", text)
				}
			}
			if n, _ := s.PendingNotifications(context.Background()); n != 1 {
				t.Errorf("%d notifications pending after a failure, want 1", n)
			}
		})
	}
}

// Run ends when its context does, and a store that cannot be reached is
// logged, never fatal.
func TestRunEndsWithItsContextAndSurvivesAClosedStore(t *testing.T) {
	s := openStore(t, sqliteURL(t))
	_ = s.Close()
	log, logs := observed()
	stop := start(t, notify.Config{Outbox: s, Logger: log})
	eventually(t, "the outage is logged", func() bool { return logs.FilterMessageSnippet("cannot claim").Len() > 0 })
	stop()
}

func TestNewRefusesATargetItCannotDeliverTo(t *testing.T) {
	s := openStore(t, "memory:")
	for _, tc := range []struct {
		name    string
		targets []notify.Target
	}{
		{"A target without a name is refused.", []notify.Target{{URL: "https://x.example.com", Format: notify.FormatSlack}}},
		{"A target without a URL is refused.", []notify.Target{{Name: "a", Format: notify.FormatSlack}}},
		{"An unknown format is refused.", []notify.Target{{Name: "a", URL: "https://x.example.com", Format: "xml"}}},
		{"A JSON target without a secret is refused.", []notify.Target{{Name: "a", URL: "https://x.example.com", Format: notify.FormatJSON}}},
		{"Two targets of one name are refused.", []notify.Target{
			{Name: "a", URL: "https://x.example.com", Format: notify.FormatSlack},
			{Name: "a", URL: "https://y.example.com", Format: notify.FormatSlack},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := notify.New(notify.Config{Outbox: s, Targets: tc.targets}); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	if _, err := notify.New(notify.Config{}); err == nil {
		t.Error("New accepted a config without an outbox")
	}
}

func TestSubscribersNameTheTargetsOfEachEvent(t *testing.T) {
	subs := notify.Subscribers([]notify.Target{
		{Name: "slack", Events: []access.EventType{access.EventRequested, access.EventApproved}},
		{Name: "audit", Events: notify.AllEvents},
	})
	if got := subs(access.EventRequested); !slices.Equal(got, []string{"slack", "audit"}) {
		t.Errorf("requested goes to %v", got)
	}
	if got := subs(access.EventRevoked); !slices.Equal(got, []string{"audit"}) {
		t.Errorf("revoked goes to %v", got)
	}
	if got := subs(access.EventReviewed); len(got) != 0 {
		t.Errorf("reviewed goes to %v, subscribed by none", got)
	}
}

// sameEvents: got holds want, in any order (delivery order is not
// guaranteed; the event id's sequence number is).
func sameEvents(got []string, want ...string) bool {
	got = slices.Clone(got)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}
