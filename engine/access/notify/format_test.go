package notify_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access/notify"
)

// deliverOne files request id for target and returns the body the
// receiver got.
func deliverOne(t *testing.T, target func(*receiver) notify.Target, console string) (map[string]any, []byte) {
	t.Helper()
	s := openStore(t, sqliteURL(t))
	rcv := newReceiver(t, nil, 0)
	tg := target(rcv)
	if err := s.CreateAccessRequest(context.Background(), pendingRequest(requestID(7), time.Now()), notify.Subscribers([]notify.Target{tg})); err != nil {
		t.Fatal(err)
	}
	start(t, notify.Config{Outbox: s, Targets: []notify.Target{tg}, ConsoleURL: console})
	eventually(t, "the event is accepted", func() bool { order, _ := rcv.accepted(); return len(order) == 1 })
	body := rcv.allBodies()[0]
	return decode(t, body), body
}

// The Slack body is an incoming-webhook message: text, and blocks with
// the identity, the requester's facts, risk, reason, approvals and a
// button to the request in the console; what the requester wrote cannot
// mention a channel.
func TestTheSlackBodyIsAnIncomingWebhookMessage(t *testing.T) {
	m, raw := deliverOne(t, func(r *receiver) notify.Target {
		return notify.Target{Name: "slack", URL: r.srv.URL, Format: notify.FormatSlack, Events: notify.AllEvents}
	}, "https://sts.example.com/console/")
	link := "https://sts.example.com/console/requests/" + requestID(7)
	text, _ := m["text"].(string)
	if !strings.Contains(text, "Access requested: prod-db-breakglass") || !strings.Contains(text, link) {
		t.Errorf("text %q lacks the headline or the link", text)
	}
	blocks, _ := m["blocks"].([]any)
	var types []string
	for _, b := range blocks {
		types = append(types, b.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "header,section,context,actions" {
		t.Errorf("block types %v", types)
	}
	texts := strings.Join(textsOf(blocks), "|")
	for _, want := range []string{
		"*Identity*\nprod-db-breakglass", "*Project*\nmy-group/api", "*Ref*\nmain", "*Pipeline*\n4242",
		"*Actor*\nbob", "*Risk*\nhigh", "*Approvals*\n0 of 1", "*Reason:* incident INC-7: &lt;!channel&gt; restore",
		"*Scopes:* all of the identity's: read, write", "*Starts:* 2030-05-04T18:00:00Z",
		"button", link,
	} {
		if !strings.Contains(texts, want) {
			t.Errorf("the Slack blocks lack %q:\n%s", want, raw)
		}
	}
	if strings.Contains(texts+text, "<!channel>") {
		t.Error("the requester's <!channel> reached Slack unescaped")
	}
}

// The JSON body is the event and the request, with a stable event id and
// the console link, signed so that notify.Verify accepts it.
func TestTheJSONBodyIsTheEventAndTheRequest(t *testing.T) {
	m, _ := deliverOne(t, func(r *receiver) notify.Target {
		tg := jsonTarget("audit", r)
		return tg
	}, "https://sts.example.com/console")
	if m["id"] != requestID(7)+".1" || m["event"] != "requested" || m["url"] != "https://sts.example.com/console/requests/"+requestID(7) {
		t.Errorf("id %v, event %v, url %v", m["id"], m["event"], m["url"])
	}
	req, _ := m["request"].(map[string]any)
	if req["id"] != requestID(7) || req["state"] != "pending" || req["risk"] != "high" {
		t.Errorf("request %v", req)
	}
	if actor, _ := m["actor"].(map[string]any); actor["sub"] != requester.Subject {
		t.Errorf("actor %v", m["actor"])
	}
}

func TestVerifyAcceptsOnlyAFreshUntamperedSignature(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"r.1","event":"requested"}`)
	ts, sig := notify.Sign(testSecret, now, body)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		h.Set(notify.HeaderTimestamp, ts)
		h.Set(notify.HeaderSignature, sig)
		return h
	}
	for _, tc := range []struct {
		name   string
		h      http.Header
		body   []byte
		secret []byte
		at     time.Time
		want   error
	}{
		{"A delivery as signed verifies.", header(ts, sig), body, testSecret, now.Add(time.Minute), nil},
		{"A changed body does not verify.", header(ts, sig), []byte(`{"id":"r.1","event":"approved"}`), testSecret, now, notify.ErrBadSignature},
		{"Another secret does not verify.", header(ts, sig), body, []byte("another secret of enough length!!"), now, notify.ErrBadSignature},
		{"A timestamp moved to now does not verify.", header("1800000300", sig), body, testSecret, now.Add(5 * time.Minute), notify.ErrBadSignature},
		{"A delivery replayed after the tolerance is stale.", header(ts, sig), body, testSecret, now.Add(6 * time.Minute), notify.ErrStale},
		{"A delivery from the future is stale.", header(ts, sig), body, testSecret, now.Add(-6 * time.Minute), notify.ErrStale},
		{"A delivery without a signature is unsigned.", header(ts, ""), body, testSecret, now, notify.ErrUnsigned},
		{"A signature of another scheme is unsigned.", header(ts, strings.Replace(sig, "sha256=", "sha1=", 1)), body, testSecret, now, notify.ErrUnsigned},
		{"A signature that is not hex does not verify.", header(ts, "sha256=zz"), body, testSecret, now, notify.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := notify.Verify(tc.secret, tc.h, tc.body, tc.at, 5*time.Minute); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if !regexp.MustCompile(`^sha256=[0-9a-f]{64}$`).MatchString(sig) {
		t.Errorf("signature %q is not sha256=<64 hex>", sig)
	}
}

// textsOf are every string in a decoded JSON value.
func textsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, textsOf(x)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, x := range v {
			out = append(out, textsOf(x)...)
		}
		return out
	}
	return nil
}
