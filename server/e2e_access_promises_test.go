package server_test

import (
	"context"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/policies"
)

// Grants keep their promises (DESIGN §13, issue 16): each attack over
// HTTP, and its refusal.

// replica is a second audience of breakglass, which a request may leave
// out of its grant.
const replica = "https://db-replica.example.com"

// withReplica gives breakglass a second audience.
func withReplica(t *testing.T) func(*Options) {
	return func(o *Options) {
		o.Data = func(data string) string {
			const aud = "      audiences: [https://db.example.com]\n      ttl: 15m\n      access: just-in-time\n"
			if strings.Count(data, aud) != 1 {
				t.Fatalf("bundles/example/data.yaml no longer gives breakglass %q", aud)
			}
			return strings.Replace(data, aud, "      audiences: [https://db.example.com, "+replica+"]\n      ttl: 15m\n      access: just-in-time\n", 1)
		}
	}
}

// fileAndApprove files a request with body and approves it; it returns
// the approved request.
func (e *jitEnv) fileAndApprove(t *testing.T, job, body string) map[string]any {
	t.Helper()
	r := e.call(t, http.MethodPost, "/v1/access/requests", job, body)
	if r.status != http.StatusCreated {
		t.Fatalf("filing %s: %d %s", body, r.status, e.explain(r))
	}
	id := r.body["id"].(string)
	r = e.act(t, id, "approve", e.approver(t, "alice"))
	if r.status != http.StatusOK || r.body["state"] != "approved" {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	return r.body
}

func TestAnExchangeGetsNoMoreThanItsGrantApproved(t *testing.T) {
	e := newJITServer(t, alwaysWorking, withReplica(t))
	asked := e.fileAndApprove(t, e.pipeline(t, nil),
		`{"identity": "`+breakglass+`", "reason": "read the orders", "scopes": ["read"], "audiences": ["https://db.example.com"]}`)
	if s, _ := asked["scopes"].([]any); len(s) != 1 || s[0] != "read" || asked["identity_scopes"] != nil {
		t.Fatalf("the request carries scopes %v, identity_scopes %v", asked["scopes"], asked["identity_scopes"])
	}
	tests := []struct {
		name   string
		params []string
		status int
		code   string
		scope  string
		aud    string
	}{
		{"Asking for a scope the approver did not approve is invalid_scope and no token.", []string{"scope", "read write"}, http.StatusBadRequest, "invalid_scope", "", ""},
		{"Asking for an audience the approver did not approve is invalid_target and no token.", []string{"audience", replica}, http.StatusBadRequest, "invalid_target", "", ""},
		{"Asking for the approved scope gets it.", []string{"scope", "read"}, http.StatusOK, "", "read", "https://db.example.com"},
		{"Asking for nothing gets what was approved, not all of the identity's.", nil, http.StatusOK, "", "read", "https://db.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.exchange(t, e.pipeline(t, nil), append([]string{"identity", breakglass}, tc.params...)...)
			if tc.code != "" {
				wantError(t, tc.name, r, tc.status, tc.code)
				return
			}
			tok, _ := r.body["access_token"].(string)
			if r.status != tc.status || tok == "" {
				t.Fatalf("%d %s", r.status, e.explain(r))
			}
			if c := e.verifyIssued(t, tok); c.Scope != tc.scope || !slices.Equal([]string(c.Audience), []string{tc.aud}) {
				t.Fatalf("the token carries scope %q, audiences %v; want %q, [%s]", c.Scope, c.Audience, tc.scope, tc.aud)
			}
		})
	}
}

func TestARequestWithoutScopesIsForAllOfTheIdentitysScopesAndSaysSo(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	r := e.file(t, e.pipeline(t, nil), "1h")
	if s, _ := r["scopes"].([]any); len(s) != 2 || s[0] != "read" || s[1] != "write" || r["identity_scopes"] != true {
		t.Fatalf("the request carries scopes %v, identity_scopes %v; want read, write and true", r["scopes"], r["identity_scopes"])
	}
}

// secondIdP replaces the example's dev-people provider (an approver of
// breakglass) by a second people IdP, the same people's other accounts,
// whose approvers also include whoever has the verified email
// oncall@example.com.
func secondIdP(t *testing.T, idp *enginetest.Issuer) func(*Options) {
	return func(o *Options) {
		o.Data = func(data string) string {
			for _, r := range []struct{ old, new string }{
				{"issuer: http://127.0.0.1:8090/people\n", "issuer: " + idp.URL() + "\n"},
				{"          - provider: dev-people\n            claims:\n              groups: prod-approvers\n",
					"          - provider: dev-people\n            claims:\n              groups: prod-approvers\n          - provider: dev-people\n            claims:\n              email: oncall@example.com\n"},
			} {
				if strings.Count(data, r.old) != 1 {
					t.Fatalf("bundles/example/data.yaml no longer has exactly one %q", r.old)
				}
				data = strings.Replace(data, r.old, r.new, 1)
			}
			return data
		}
	}
}

// devPeopleAudience is the aud the example's dev-people provider accepts.
const devPeopleAudience = "http://127.0.0.1:8080"

func TestOnePersonIsOnePersonWhateverProviderTheyComeThrough(t *testing.T) {
	idp := enginetest.NewIssuer(t)
	e := newJITServer(t, neverWorking, secondIdP(t, idp)) // critical: two approvals
	other := func(sub, email string, verified any, groups ...string) string {
		c := enginetest.PersonClaims(idp.URL(), devPeopleAudience, sub, groups...)
		c["email"], c["email_verified"] = email, verified
		return idp.Mint(t, c)
	}
	t.Run("The same person through a second provider does not approve twice.", func(t *testing.T) {
		id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
		if r := e.act(t, id, "approve", e.approver(t, "alice")); r.status != http.StatusOK || r.body["state"] != "pending" {
			t.Fatalf("alice's first approval: %d %s", r.status, r.raw)
		}
		r := e.act(t, id, "approve", other("00u-alice", "Alice@Example.com", true, "prod-approvers"))
		wantError(t, "alice again through the second IdP", r, http.StatusForbidden, "access_denied")
		if r := e.act(t, id, "approve", other("00u-bob", "bob@example.com", true, "prod-approvers")); r.status != http.StatusOK || r.body["state"] != "approved" {
			t.Fatalf("bob's approval: %d %s", r.status, r.raw)
		}
	})
	t.Run("The person behind the pipeline under another name with the same verified email may not approve.", func(t *testing.T) {
		job := e.pipeline(t, map[string]any{"user_login": "dave.smith", "user_email": "Dave@Example.com"})
		id := e.file(t, job, "1h")["id"].(string)
		r := e.act(t, id, "approve", other("00u-dsmith", "dave@example.com", true, "prod-approvers"))
		wantError(t, "dave through another name", r, http.StatusForbidden, "access_denied")
	})
	t.Run("An unverified email is no person: it matches no approver by email.", func(t *testing.T) {
		id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
		r := e.act(t, id, "approve", other("00u-mallory", "oncall@example.com", false))
		wantError(t, "an unverified oncall email", r, http.StatusNotFound, "not_found")
		r = e.act(t, id, "approve", other("00u-mallory", "oncall@example.com", "false"))
		wantError(t, "an unverified oncall email (a string flag)", r, http.StatusNotFound, "not_found")
		if r := e.act(t, id, "approve", other("00u-oncall", "oncall@example.com", true)); r.status != http.StatusOK {
			t.Fatalf("the verified oncall email: %d %s", r.status, r.raw)
		}
	})
	t.Run("An unverified email does not make the person behind the pipeline someone else's account.", func(t *testing.T) {
		job := e.pipeline(t, map[string]any{"user_login": "erin", "user_email": "erin@example.com"})
		id := e.file(t, job, "1h")["id"].(string)
		// Frank claims erin's email without the IdP vouching for it: he
		// is not erin, so his approval counts as his own.
		if r := e.act(t, id, "approve", other("00u-frank", "erin@example.com", false, "prod-approvers")); r.status != http.StatusOK {
			t.Fatalf("frank with an unverified email: %d %s", r.status, r.raw)
		}
	})
}

// wrongLibrary is the policy library with edits that break its promises:
// a deliberately wrong policy, as a custom or buggy one could be.
func wrongLibrary(t *testing.T, edits map[string][2]string) fs.FS {
	t.Helper()
	lib := fstest.MapFS{}
	err := fs.WalkDir(policies.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.rego") {
			return err
		}
		b, err := fs.ReadFile(policies.FS(), path)
		lib[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, e := range edits {
		src := string(lib[path].Data)
		if strings.Count(src, e[0]) != 1 {
			t.Fatalf("%s no longer has exactly one %q", path, e[0])
		}
		lib[path].Data = []byte(strings.Replace(src, e[0], e[1], 1))
	}
	return lib
}

func TestTheEngineRefusesWhatAWrongPolicyGrantsAJustInTimeIdentity(t *testing.T) {
	tests := []struct {
		name  string
		edits map[string][2]string
		// approved files and approves a read-only request first.
		approved bool
	}{
		{"A policy that grants a just-in-time identity with no grant at all gets no token.", map[string][2]string{
			"trustgate/grants.rego":   {"access_granted if active_grant\n", "access_granted := true\n"},
			"trustgate/decision.rego": {`	"grant": grant_id,`, `	"grant": "forged",`},
		}, false},
		{"A policy that grants more scopes than the grant carries gets no token.", map[string][2]string{
			"trustgate/decision.rego": {"} else := grant_scopes if {\n\tthe_grant\n}", "}"},
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newJITServer(t, alwaysWorking, nil)
			job := e.pipeline(t, nil)
			if tc.approved {
				e.fileAndApprove(t, job, `{"identity": "`+breakglass+`", "reason": "read the orders", "scopes": ["read"]}`)
			}
			opts := policy.Options{ServerIssuer: e.URL, AllowInsecureIssuers: true, Logger: zap.NewNop(), Library: wrongLibrary(t, tc.edits)}
			p, err := policy.Load(context.Background(), []string{e.Bundle}, opts)
			if err != nil {
				t.Fatal(err)
			}
			e.Engine.SetPolicy(p)
			r := e.exchange(t, e.pipeline(t, nil), "identity", breakglass)
			wantError(t, tc.name, r, http.StatusInternalServerError, "server_error")
		})
	}
}

// listPage lists with query as bearer: the ids and the next cursor.
func (e *jitEnv) listPage(t *testing.T, bearer, query string) ([]string, string) {
	t.Helper()
	r := e.call(t, http.MethodGet, "/v1/access/requests?"+query, bearer, "")
	next, _ := r.body["next_cursor"].(string)
	return requestIDs(t, r), next
}

func TestARequesterPagesThroughAllTheirRequestsBehindOthers(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	// The requester's three requests, then others' newer ones: a list
	// that filtered after its limit would show the requester nothing.
	var mine []string
	for range 3 {
		mine = append([]string{e.file(t, e.pipeline(t, nil), "1h")["id"].(string)}, mine...)
	}
	// Another requester (another sub, another user behind the pipeline)
	// files four newer ones, which the requester may not see.
	other := map[string]any{"sub": "project_path:my-group/app:ref_type:branch:ref:main:other-runner",
		"user_login": "someone-else", "user_id": "9999", "user_email": "someone-else@example.com"}
	theirs := map[string]bool{}
	for range 4 {
		theirs[e.file(t, e.pipeline(t, other), "1h")["id"].(string)] = true
	}
	ids, next := e.listPage(t, e.pipeline(t, nil), "limit=2")
	all := ids
	for next != "" {
		// A request filed between pages never moves one across them.
		e.file(t, e.pipeline(t, nil), "1h")
		ids, next = e.listPage(t, e.pipeline(t, nil), "limit=2&cursor="+next)
		all = append(all, ids...)
	}
	if !slices.Equal(all, mine) {
		t.Fatalf("paged %v; want the requester's own requests %v, newest first, and no other", all, mine)
	}
	for _, id := range all {
		if theirs[id] {
			t.Fatalf("the requester is shown another requester's request %s in %v", id, all)
		}
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Fatalf("%s listed twice in %v", id, all)
		}
		seen[id] = true
	}
	// An approver filters by state and identity in the query.
	ids, _ = e.listPage(t, e.approver(t, "alice"), "state=pending&identity="+breakglass+"&limit=200")
	if len(ids) < 7 {
		t.Fatalf("the approver lists %d pending requests", len(ids))
	}
	if ids, _ := e.listPage(t, e.approver(t, "alice"), "identity=gitlab-ci-deploy"); len(ids) != 0 {
		t.Fatalf("a standing identity has requests %v", ids)
	}
}

func TestARequestMayStartLater(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	starts := e.clock.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	body := `{"identity": "` + breakglass + `", "duration": "1h", "reason": "change window CHG-7", "starts_at": "` + starts.Format(time.RFC3339) + `"}`
	r := e.fileAndApprove(t, e.pipeline(t, nil), body)
	ends, _ := time.Parse(time.RFC3339Nano, r["expires_at"].(string))
	if r["starts_at"] != starts.Format(time.RFC3339) || !ends.Equal(starts.Add(time.Hour)) {
		t.Fatalf("approved before its start: starts_at %v, expires_at %v; want %s and an hour later", r["starts_at"], r["expires_at"], starts)
	}
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" || r.status != http.StatusBadRequest {
		t.Fatalf("an exchange before the grant starts: %d %s", r.status, r.raw)
	}
	e.clock.Advance(2 * time.Hour)
	tok, resp := e.breakglassToken(t, e.pipeline(t, nil))
	if tok == "" {
		t.Fatalf("an exchange once the grant started: %d %s", resp.status, e.explain(resp))
	}
	if c := e.verifyIssued(t, tok); c.Expiry > ends.Unix() {
		t.Fatalf("the token outlives its grant: exp %d, grant ends %d", c.Expiry, ends.Unix())
	}
	for name, at := range map[string]string{
		"further ahead than max_lead_time (7 days)": e.clock.Now().Add(8 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"in the past": e.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
	} {
		r := e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil),
			`{"identity": "`+breakglass+`", "reason": "x", "starts_at": "`+at+`"}`)
		wantError(t, "a start "+name, r, http.StatusForbidden, "access_denied")
	}
	r2 := e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil), `{"identity": "`+breakglass+`", "reason": "x", "starts_at": "tomorrow"}`)
	wantError(t, "a start that is no RFC 3339 time", r2, http.StatusBadRequest, "invalid_request")
}
