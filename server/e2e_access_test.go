package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestJustInTimeAccessFromRequestToRevocation is the story of issue 10
// over HTTP: a pipeline asks for prod-db-breakglass, a prod-approver
// approves, the pipeline's exchange names the identity and gets a token
// bound to the grant, the approver revokes, and the token stops being
// active.
func TestJustInTimeAccessFromRequestToRevocation(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	job := e.pipeline(t, nil)

	// 1. The pipeline asks; nothing is granted yet.
	created := e.file(t, job, "1h")
	id, _ := created["id"].(string)
	if created["state"] != "pending" || created["risk"] != "high" || created["approvals_required"] != float64(1) ||
		created["duration_seconds"] != float64(3600) || created["ticket"] != "INC-42" {
		t.Fatalf("created: %v", created)
	}
	requester, _ := created["requester"].(map[string]any)
	if requester["provider"] != "gitlab" || requester["project_path"] != "my-group/app" || requester["ref"] != "main" {
		t.Fatalf("requester facts: %v", requester)
	}
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" || r.status != http.StatusBadRequest {
		t.Fatalf("an exchange before approval: %d %s", r.status, r.raw)
	}

	// 2. The approver sees it pending and approves.
	alice := e.approver(t, "alice")
	if ids := requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests?state=pending", alice, "")); !slices.Contains(ids, id) {
		t.Fatalf("the approver's pending list %v lacks %s", ids, id)
	}
	before := e.clock.Now().Truncate(time.Second)
	r := e.act(t, id, "approve", alice)
	if r.status != http.StatusOK || r.body["state"] != "approved" {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	ends, err := time.Parse(time.RFC3339Nano, r.body["expires_at"].(string))
	if err != nil || ends.Before(before.Add(time.Hour)) || ends.After(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("the grant ends at %v, want the approval time + 1h: %v", r.body["expires_at"], err)
	}

	// 3. The pipeline exchanges, naming the identity: a token of the grant.
	tok, r := e.breakglassToken(t, e.pipeline(t, nil))
	if tok == "" {
		t.Fatalf("an exchange under the grant: %d %s", r.status, e.explain(r))
	}
	c := e.verifyIssued(t, tok)
	if c.Grant != id || c.ClientID != breakglass || !slices.Equal(c.Roles, []string{"db-admin"}) || c.Expiry > ends.Unix() {
		t.Fatalf("issued: grant %q client_id %q roles %v exp %d (grant ends %d)", c.Grant, c.ClientID, c.Roles, c.Expiry, ends.Unix())
	}
	if in := e.introspect(t, tok); in.body["active"] != true || in.body["grant"] != id {
		t.Fatalf("introspection of the fresh token: %s", in.raw)
	}
	if w := e.get(t, "/v1/whoami", "Authorization", "Bearer "+tok); w.status != http.StatusOK || w.body["grant"] != id {
		t.Fatalf("whoami of the fresh token: %d %s", w.status, w.raw)
	}

	// 4. The approver revokes: the token is inactive at once.
	if r := e.act(t, id, "revoke", alice); r.status != http.StatusOK || r.body["state"] != "revoked" {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if in := e.introspect(t, tok); in.status != http.StatusOK || in.body["active"] != false || len(in.body) != 1 {
		t.Fatalf("introspection after revocation: %d %s", in.status, in.raw)
	}
	if w := e.get(t, "/v1/whoami", "Authorization", "Bearer "+tok); w.status != http.StatusUnauthorized {
		t.Fatalf("whoami after revocation: %d %s", w.status, w.raw)
	}
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" || r.status != http.StatusBadRequest {
		t.Fatalf("an exchange after revocation: %d %s", r.status, r.raw)
	}

	// 5. The history tells the story, and the log never held a token.
	got := e.call(t, http.MethodGet, "/v1/access/requests/"+id, job, "")
	if got.status != http.StatusOK || historyEvents(got) != "requested approved revoked" {
		t.Fatalf("the requester's view: %d, history %q", got.status, historyEvents(got))
	}
	assertNoTokenLogged(t, e.Logs.All(), job, alice, tok)
}

// historyEvents are a request's history events, space-separated.
func historyEvents(r response) string {
	var out []string
	h, _ := r.body["history"].([]any)
	for _, ev := range h {
		m, _ := ev.(map[string]any)
		s, _ := m["event"].(string)
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// assertNoTokenLogged scans every log line, encoded as production writes
// it, for anything JWT-shaped (jwtShaped) and for any part of the tokens
// given.
func assertNoTokenLogged(t *testing.T, entries []observer.LoggedEntry, tokens ...string) {
	t.Helper()
	var parts []string
	for _, tok := range tokens {
		for _, p := range strings.Split(tok, ".") {
			if len(p) >= 16 {
				parts = append(parts, p)
			}
		}
	}
	if len(entries) == 0 {
		t.Fatal("nothing was logged: the scan would prove nothing")
	}
	for _, e := range entries {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		if jwtShaped.MatchString(line) {
			t.Fatalf("a log line holds a JWT: %s", line)
		}
		for _, p := range parts {
			if strings.Contains(line, p) {
				t.Fatalf("a log line holds part of a token: %s", line)
			}
		}
		buf.Free()
	}
}

// TestARequesterMayEndItsOwnGrantEarly: DESIGN §13 lets the requester
// revoke too, so a pipeline that is done gives its privilege back.
func TestARequesterMayEndItsOwnGrantEarly(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	job := e.pipeline(t, nil)
	id := e.approved(t, job)
	tok, r := e.breakglassToken(t, e.pipeline(t, nil))
	if tok == "" {
		t.Fatalf("an exchange under the grant: %d %s", r.status, e.explain(r))
	}
	if r := e.act(t, id, "revoke", job); r.status != http.StatusOK || r.body["state"] != "revoked" {
		t.Fatalf("the requester revokes: %d %s", r.status, r.raw)
	}
	if in := e.introspect(t, tok); in.body["active"] != false {
		t.Fatalf("a token of a grant its requester revoked: %s", in.raw)
	}
	if tok, _ := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" {
		t.Fatal("an exchange after the requester revoked its grant gave a token")
	}
}

func TestAccessPathsAreLabelledByTemplateAnd405WithTheAllowedMethods(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	alice := e.approver(t, "alice")
	const id = "zzzzzzzzzzzzzzzzzzzzzzzzzz"
	e.call(t, http.MethodGet, "/v1/access/requests/"+id, alice, "")
	r := e.call(t, http.MethodGet, "/v1/access/requests/"+id+"/approve", alice, "")
	wantError(t, "GET on approve", r, http.StatusMethodNotAllowed, "method_not_allowed")
	if got := r.header.Get("Allow"); got != "POST" {
		t.Fatalf("Allow %q", got)
	}
	if r := e.call(t, http.MethodDelete, "/v1/access/requests", alice, ""); r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("DELETE on the collection: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	m := metricsText(t, e.testServer)
	for _, want := range []string{
		`trustgate_http_requests_total{code="404",endpoint="/v1/access/requests/{id}"} 1`,
		`trustgate_http_requests_total{code="405",endpoint="/v1/access/requests/{id}/approve"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, id) {
		t.Fatal("a request id is in a metric label")
	}
}
