package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/server"
)

func TestJustInTimeRefusalsOverHTTP(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	tests := []struct {
		name   string
		call   func(t *testing.T) response
		status int
		code   string
	}{
		{"A requester may not approve their own request, even as the person behind the pipeline.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, map[string]any{"user_login": "alice"}), "1h")["id"].(string)
			return e.act(t, id, "approve", e.approver(t, "alice"))
		}, http.StatusForbidden, "access_denied"},
		{"A person who is not a prod-approver may not approve: the request is 404 to them.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			return e.act(t, id, "approve", e.person(t, "mallory", "sre"))
		}, http.StatusNotFound, "not_found"},
		{"A person who is not a prod-approver may not deny either.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			return e.act(t, id, "deny", e.person(t, "mallory", "sre"))
		}, http.StatusNotFound, "not_found"},
		{"Another pipeline may not approve: it is no approver.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			return e.act(t, id, "approve", e.pipeline(t, map[string]any{"project_path": "my-group/other", "sub": "project_path:my-group/other:ref_type:branch:ref:main"}))
		}, http.StatusNotFound, "not_found"},
		{"A duration over max_duration is refused by policy.", func(t *testing.T) response {
			return e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil),
				`{"identity": "`+breakglass+`", "duration": "5h", "reason": "a long night"}`)
		}, http.StatusForbidden, "access_denied"},
		{"A pipeline the identity does not federate with may not ask for it.", func(t *testing.T) response {
			return e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, map[string]any{"ref": "feature", "ref_protected": "false"}),
				`{"identity": "`+breakglass+`", "reason": "incident"}`)
		}, http.StatusForbidden, "access_denied"},
		{"A standing identity cannot be requested.", func(t *testing.T) response {
			return e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil), `{"identity": "gitlab-ci-deploy", "reason": "incident"}`)
		}, http.StatusForbidden, "access_denied"},
		{"An approved request cannot be cancelled.", func(t *testing.T) response {
			job := e.pipeline(t, nil)
			return e.act(t, e.approved(t, job), "cancel", job)
		}, http.StatusConflict, "conflict"},
		{"Another pipeline may not revoke a grant: 404.", func(t *testing.T) response {
			id := e.approved(t, e.pipeline(t, nil))
			other := e.pipeline(t, map[string]any{"project_path": "my-group/other", "sub": "project_path:my-group/other:ref_type:branch:ref:main"})
			return e.act(t, id, "revoke", other)
		}, http.StatusNotFound, "not_found"},
		{"A person who is no approver may not revoke a grant: 404.", func(t *testing.T) response {
			return e.act(t, e.approved(t, e.pipeline(t, nil)), "revoke", e.person(t, "mallory", "sre"))
		}, http.StatusNotFound, "not_found"},
		{"A denied request cannot be approved.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			if r := e.act(t, id, "deny", e.approver(t, "alice")); r.status != http.StatusOK || r.body["state"] != "denied" {
				t.Fatalf("deny: %d %s", r.status, r.raw)
			}
			return e.act(t, id, "approve", e.approver(t, "bob"))
		}, http.StatusConflict, "conflict"},
		{"A pending request cannot be revoked.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			return e.act(t, id, "revoke", e.approver(t, "alice"))
		}, http.StatusConflict, "conflict"},
		{"An unknown id is 404 to an approver.", func(t *testing.T) response {
			return e.call(t, http.MethodGet, "/v1/access/requests/aaaaaaaaaaaaaaaaaaaaaaaaaa", e.approver(t, "alice"), "")
		}, http.StatusNotFound, "not_found"},
		{"Approving an unknown id is 404.", func(t *testing.T) response {
			return e.act(t, "aaaaaaaaaaaaaaaaaaaaaaaaaa", "approve", e.approver(t, "alice"))
		}, http.StatusNotFound, "not_found"},
		{"Another pipeline's request is 404, as if it did not exist.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			other := e.pipeline(t, map[string]any{"project_path": "my-group/other", "sub": "project_path:my-group/other:ref_type:branch:ref:main"})
			return e.call(t, http.MethodGet, "/v1/access/requests/"+id, other, "")
		}, http.StatusNotFound, "not_found"},
		{"Another pipeline may not cancel a request: 404.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			other := e.pipeline(t, map[string]any{"project_path": "my-group/other", "sub": "project_path:my-group/other:ref_type:branch:ref:main"})
			return e.act(t, id, "cancel", other)
		}, http.StatusNotFound, "not_found"},
		{"A person who is no approver cannot read a request: 404.", func(t *testing.T) response {
			id := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
			return e.call(t, http.MethodGet, "/v1/access/requests/"+id, e.person(t, "mallory", "sre"), "")
		}, http.StatusNotFound, "not_found"},
	}
	t.Cleanup(func() { assertNoTokenLogged(t, e.Logs.All()) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.call(t)
			wantError(t, tc.name, r, tc.status, tc.code)
			if d, _ := r.body["error_description"].(string); !strings.Contains(d, "decision id ") || strings.Contains(d, "reasons") {
				t.Fatalf("error_description %q: want the decision id and no reasons (reveal_reasons is off)", d)
			}
		})
	}
}

func TestAnApprovalNeedsABindingTokenToExchange(t *testing.T) {
	// The federation is widened to the whole group, so a token of another
	// project passes it and only the grant's ref binding refuses it.
	e := newJITServer(t, alwaysWorking, func(o *Options) {
		o.Data = func(data string) string {
			return strings.Replace(data, "            project_path: my-group/app\n", "            namespace_path: my-group\n", 1)
		}
	})
	e.approved(t, e.pipeline(t, nil))
	other := e.pipeline(t, map[string]any{"project_path": "my-group/other", "sub": "project_path:my-group/other:ref_type:branch:ref:main"})
	if tok, r := e.breakglassToken(t, other); tok != "" || r.status != http.StatusBadRequest || r.body["error"] != "invalid_request" {
		t.Fatalf("a token of another project under a ref grant: %d %s", r.status, r.raw)
	}
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok == "" {
		t.Fatalf("the bound token: %d %s", r.status, e.explain(r))
	}
}

func TestRequestsLapseAndGrantsEndOnTheClock(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	pending := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
	e.approved(t, e.pipeline(t, nil))
	tok, r := e.breakglassToken(t, e.pipeline(t, nil))
	if tok == "" {
		t.Fatalf("exchange under the grant: %d %s", r.status, e.explain(r))
	}

	// Near its end the grant, not the identity's 15m ttl, bounds a token.
	e.clock.Advance(59*time.Minute + 30*time.Second)
	late, r := e.breakglassToken(t, e.pipeline(t, nil))
	if late == "" {
		t.Fatalf("an exchange 30s before the grant ends: %d %s", r.status, e.explain(r))
	}
	if in, ok := r.body["expires_in"].(float64); !ok || in > 30 || in < 20 {
		t.Fatalf("a token 30s before the grant ends expires in %v s, want the grant's remaining ~30s", r.body["expires_in"])
	}
	if c := e.verifyIssued(t, late); c.Expiry-c.IssuedAt > 30 {
		t.Fatalf("the token lives %d s past a grant that ends in 30s", c.Expiry-c.IssuedAt)
	}

	e.clock.Advance(90 * time.Second)
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" || r.status != http.StatusBadRequest {
		t.Fatalf("an exchange after the grant ended: %d %s", r.status, r.raw)
	} else if why := e.explain(r); !strings.Contains(why, "has no approved request") {
		t.Fatalf("the refusal after the grant ended is not the grant's: %s", why)
	}
	if in := e.introspect(t, tok); in.body["active"] != false {
		t.Fatalf("a token of an ended grant: %s", in.raw)
	}

	e.clock.Advance(24 * time.Hour)
	wantError(t, "approving a lapsed request", e.act(t, pending, "approve", e.approver(t, "alice")), http.StatusConflict, "conflict")
}

func TestOutsideWorkingHoursARequestNeedsTwoApprovers(t *testing.T) {
	e := newJITServer(t, neverWorking, nil)
	created := e.file(t, e.pipeline(t, nil), "30m")
	id := created["id"].(string)
	if created["risk"] != "critical" || created["approvals_required"] != float64(2) {
		t.Fatalf("created: risk %v, approvals %v", created["risk"], created["approvals_required"])
	}
	alice := e.approver(t, "alice")
	if r := e.act(t, id, "approve", alice); r.status != http.StatusOK || r.body["state"] != "pending" {
		t.Fatalf("the first approval: %d %s", r.status, r.raw)
	}
	wantError(t, "a second approval by the same person", e.act(t, id, "approve", e.approver(t, "alice")), http.StatusForbidden, "access_denied")
	if tok, _ := e.breakglassToken(t, e.pipeline(t, nil)); tok != "" {
		t.Fatal("one approval of two granted the identity")
	}
	if r := e.act(t, id, "approve", e.approver(t, "bob")); r.status != http.StatusOK || r.body["state"] != "approved" {
		t.Fatalf("the second approval: %d %s", r.status, r.raw)
	}
	if tok, r := e.breakglassToken(t, e.pipeline(t, nil)); tok == "" {
		t.Fatalf("exchange after two approvals: %d %s", r.status, e.explain(r))
	}
}

func TestEachCallerListsOnlyWhatThePolicyLetsThemSee(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	other := map[string]any{"project_path": "my-group/other", "sub": "project_path:my-group/other:ref_type:branch:ref:main"}
	mine := e.file(t, e.pipeline(t, nil), "1h")["id"].(string)
	// my-group/other may not ask for breakglass, so its list is empty.
	if ids := requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests", e.pipeline(t, other), "")); len(ids) != 0 {
		t.Fatalf("another pipeline lists %v", ids)
	}
	if ids := requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests", e.pipeline(t, nil), "")); !slices.Equal(ids, []string{mine}) {
		t.Fatalf("the requester lists %v, want [%s]", ids, mine)
	}
	if ids := requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests", e.person(t, "mallory", "sre"), "")); len(ids) != 0 {
		t.Fatalf("a non-approver lists %v", ids)
	}
	if ids := requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests?state=approved", e.approver(t, "alice"), "")); len(ids) != 0 {
		t.Fatalf("the approver's approved list %v, want none", ids)
	}
}

func TestAJustInTimeCallWithoutAValidIDTokenIs401(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	stranger := enginetest.NewIssuer(t)
	expired := enginetest.PersonClaims(e.Corp.URL(), corpAudience, "alice", "prod-approvers")
	expired["iat"], expired["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-30*time.Minute).Unix()
	tests := []struct {
		name, header, challenge string
	}{
		{"No Authorization header is 401 with a bare Bearer challenge.", "", "Bearer"},
		{"Basic credentials are 401.", "Basic YWxpY2U6c2VjcmV0", `Bearer error="invalid_token"`},
		{"A bearer value that is no token is 401.", "Bearer not a token", `Bearer error="invalid_token"`},
		{"A token signed by a key the issuer never published is 401.", "Bearer " + e.Corp.Mint(t,
			enginetest.PersonClaims(e.Corp.URL(), corpAudience, "alice", "prod-approvers"), enginetest.WithKey(enginetest.NewKey(t, "RS256"))),
			`Bearer error="invalid_token"`},
		{"A token from an issuer the bundle does not know is 401.", "Bearer " + stranger.Mint(t,
			enginetest.PersonClaims(stranger.URL(), corpAudience, "alice", "prod-approvers")), `Bearer error="invalid_token"`},
		{"A token for another audience is 401.", "Bearer " + e.Corp.Mint(t,
			enginetest.PersonClaims(e.Corp.URL(), "https://elsewhere.example.com", "alice", "prod-approvers")), `Bearer error="invalid_token"`},
		{"An expired token is 401.", "Bearer " + e.Corp.Mint(t, expired), `Bearer error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/v1/access/requests", "/v1/access/requests/aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.URL+path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				r := e.do(t, req)
				wantError(t, path, r, http.StatusUnauthorized, "invalid_token")
				if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Fatalf("%s: WWW-Authenticate %q, want %q", path, got, tc.challenge)
				}
			}
		})
	}
}

func TestMalformedJustInTimeCallsAre400(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	job := e.pipeline(t, nil)
	const requests = "/v1/access/requests"
	tests := []struct {
		name, method, path, contentType, body string
	}{
		{"An unknown field is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "approver": "me"}`},
		{"Data after the object is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x"} {}`},
		{"A field given twice is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "identity": "other", "reason": "x"}`},
		{"A number where a string is due is refused.", http.MethodPost, requests, "application/json", `{"identity": 7, "reason": "x"}`},
		{"A null reason is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": null}`},
		{"An empty audience is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "audiences": ["https://db.example.com", ""]}`},
		{"Scopes that are not a list of strings are refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "scopes": "read"}`},
		{"A body that is not JSON is refused.", http.MethodPost, requests, "application/json", `identity=prod-db-breakglass`},
		{"A form body is refused.", http.MethodPost, requests, "application/x-www-form-urlencoded", `identity=prod-db-breakglass&reason=x`},
		{"A request without identity is refused.", http.MethodPost, requests, "application/json", `{"reason": "x"}`},
		{"A request without a reason is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass"}`},
		{"A duration that is no duration is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "duration": "forever"}`},
		{"A negative duration is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "duration": "-1h"}`},
		{"A duration in fractions of a second is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "duration": "1.5s"}`},
		{"A reason longer than 1000 bytes is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "` + strings.Repeat("x", 1001) + `"}`},
		{"A ticket longer than 200 bytes is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "ticket": "` + strings.Repeat("t", 201) + `"}`},
		{"A zero duration is refused.", http.MethodPost, requests, "application/json", `{"identity": "prod-db-breakglass", "reason": "x", "duration": "0s"}`},
		{"Parameters in the query of a POST are refused.", http.MethodPost, requests + "?identity=x", "application/json", `{"identity": "prod-db-breakglass", "reason": "x"}`},
		{"An approval without a reason is refused.", http.MethodPost, requests + "/aaaaaaaaaaaaaaaaaaaaaaaaaa/approve", "application/json", `{}`},
		{"An approval without a body is refused.", http.MethodPost, requests + "/aaaaaaaaaaaaaaaaaaaaaaaaaa/approve", "", ``},
		{"An approval with a reason longer than 1000 bytes is refused.", http.MethodPost, requests + "/aaaaaaaaaaaaaaaaaaaaaaaaaa/approve", "application/json", `{"reason": "` + strings.Repeat("x", 1001) + `"}`},
		{"An approval whose reason is not a string is refused.", http.MethodPost, requests + "/aaaaaaaaaaaaaaaaaaaaaaaaaa/approve", "application/json", `{"reason": 7}`},
		{"Parameters in the query of a cancel are refused.", http.MethodPost, requests + "/aaaaaaaaaaaaaaaaaaaaaaaaaa/cancel?reason=x", "", ``},
		{"Parameters in the query of a request's page are refused.", http.MethodGet, requests + "/aaaaaaaaaaaaaaaaaaaaaaaaaa?verbose=1", "", ``},
		{"A list filtered by an unknown state is refused.", http.MethodGet, requests + "?state=granted", "", ``},
		{"A list with another query parameter is refused.", http.MethodGet, requests + "?page=5", "", ``},
		{"A list with a limit beyond a page is refused.", http.MethodGet, requests + "?limit=201", "", ``},
		{"A list with a limit of zero is refused.", http.MethodGet, requests + "?limit=0", "", ``},
		{"A list with a limit that is no number is refused.", http.MethodGet, requests + "?limit=ten", "", ``},
		{"A list with a cursor no list gave is refused.", http.MethodGet, requests + "?cursor=not-a-cursor", "", ``},
		{"A list filtered twice is refused.", http.MethodGet, requests + "?state=pending&state=approved", "", ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, e.URL+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+job)
			wantError(t, tc.name, e.do(t, req), http.StatusBadRequest, "invalid_request")
		})
	}
	t.Run("A body over the cap is 413.", func(t *testing.T) {
		r := e.call(t, http.MethodPost, requests, job, `{"identity": "prod-db-breakglass", "reason": "`+strings.Repeat("x", 70<<10)+`"}`)
		wantError(t, "a large body", r, http.StatusRequestEntityTooLarge, "invalid_request")
	})
	t.Run("Nothing malformed reached the store.", func(t *testing.T) {
		if ids := requestIDs(t, e.call(t, http.MethodGet, requests, e.approver(t, "alice"), "")); len(ids) != 0 {
			t.Fatalf("requests %v were filed", ids)
		}
	})
}

func TestJustInTimeCallsFailClosedWhileTheStoreIsDown(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	job := e.pipeline(t, nil)
	id := e.approved(t, job)
	if err := e.State.Close(); err != nil {
		t.Fatal(err)
	}
	alice := e.approver(t, "alice")
	wantStateUnavailable(t, "filing a request", e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil),
		`{"identity": "`+breakglass+`", "reason": "incident"}`))
	wantStateUnavailable(t, "listing", e.call(t, http.MethodGet, "/v1/access/requests", alice, ""))
	wantStateUnavailable(t, "reading a request", e.call(t, http.MethodGet, "/v1/access/requests/"+id, alice, ""))
	wantStateUnavailable(t, "revoking", e.act(t, id, "revoke", alice))
	wantStateUnavailable(t, "an exchange for the just-in-time identity", e.exchange(t, e.pipeline(t, nil), "identity", breakglass))
}

func TestJustInTimeCallsAreRateLimitedPerClientAndPerSubject(t *testing.T) {
	t.Run("The per-client limit answers 429 slow_down with Retry-After.", func(t *testing.T) {
		e := newJITServer(t, alwaysWorking, func(o *Options) {
			o.Server = func(c *server.Config) { c.ClientRate, c.ClientBurst = 0.001, 1 }
		})
		alice := e.approver(t, "alice")
		requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests", alice, ""))
		r := e.call(t, http.MethodGet, "/v1/access/requests", e.approver(t, "bob"), "")
		wantError(t, "a second call from one client", r, http.StatusTooManyRequests, "slow_down")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
	t.Run("The per-subject limit answers 429 slow_down to the same person from anywhere.", func(t *testing.T) {
		e := newJITServer(t, alwaysWorking, func(o *Options) {
			o.Engine = func(c *engine.Config) { c.SubjectRate, c.SubjectBurst = 0.001, 1 }
		})
		requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests", e.approver(t, "alice"), ""))
		wantError(t, "alice's second call", e.call(t, http.MethodGet, "/v1/access/requests", e.approver(t, "alice"), ""),
			http.StatusTooManyRequests, "slow_down")
		requestIDs(t, e.call(t, http.MethodGet, "/v1/access/requests", e.approver(t, "bob"), ""))
	})
}

func TestRevealReasonsExplainsAPolicyRefusal(t *testing.T) {
	e := newJITServer(t, alwaysWorking, func(o *Options) {
		o.Server = func(c *server.Config) { c.RevealReasons = true }
	})
	r := e.call(t, http.MethodPost, "/v1/access/requests", e.pipeline(t, nil), `{"identity": "`+breakglass+`", "duration": "5h", "reason": "x"}`)
	wantError(t, "an over-long request", r, http.StatusForbidden, "access_denied")
	if d, _ := r.body["error_description"].(string); !strings.Contains(d, "duration 18000s is longer than identity prod-db-breakglass's max_duration 4h") {
		t.Fatalf("error_description %q lacks the reason", d)
	}
}
