package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAGrantWithLessThanASecondLeftIssuesNoToken(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
	// Approve at about 100ms into a second, so the grant ends well inside
	// one.
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(time.Second).Add(time.Second + 100*time.Millisecond).Sub(now))
	r := e.act(t, id, "approve", e.approver(t, "alice"))
	ends, err := time.Parse(time.RFC3339Nano, r.body["expires_at"].(string))
	if r.status != http.StatusOK || err != nil {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	// The policy sees whole seconds: at whole(ends) - d it still finds the
	// grant, and the grant has f + d < 1s left (f: ends' fraction). A token
	// would live 0s, born expired, so none is issued.
	whole := ends.Truncate(time.Second)
	e.clock.Advance(whole.Add(-(time.Second - ends.Sub(whole)) / 2).Sub(e.clock.Now()))
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" || r.status != http.StatusBadRequest || r.body["error"] != "invalid_request" {
		t.Fatalf("an exchange under a grant with under a second left: %d %s", r.status, r.raw)
	} else if rec := e.decision(decisionOf(r)); rec == nil || fmt.Sprint(rec["reasons"]) != "[]" {
		// The policy must still find the grant, or the refusal is its
		// and the check for a token born expired is never reached.
		t.Fatalf("the refusal is the policy's, not the engine's for a token born expired: %s", e.explain(r))
	}
}

func TestAJustInTimeIdentityMayBeNamedByEmail(t *testing.T) {
	const email = "breakglass@db.example.com"
	e := newJITServer(t, alwaysWorking, func(o *Options) {
		o.Data = func(data string) string {
			const anchor = "      description: Production database break-glass\n"
			if strings.Count(data, anchor) != 1 {
				t.Fatalf("bundles/example/data.yaml no longer describes %s as %q", breakglass, anchor)
			}
			return strings.Replace(data, anchor, anchor+"      email: "+email+"\n", 1)
		}
	})
	e.approved(t, e.pipeline(t, nil))
	r := e.exchange(t, e.pipeline(t, nil), "identity", email)
	tok, _ := r.body["access_token"].(string)
	if tok == "" {
		t.Fatalf("an exchange naming the just-in-time identity by its email: %d %s", r.status, e.explain(r))
	}
	if c := e.verifyIssued(t, tok); c.ClientID != breakglass || c.Grant == "" {
		t.Fatalf("issued client_id %q under grant %q, want %s under its grant", c.ClientID, c.Grant, breakglass)
	}
}
