package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/enginetest"
)

// breakglass is the example bundle's just-in-time identity.
const breakglass = "prod-db-breakglass"

// corpAudience is the `aud` the example bundle's corp provider accepts.
const corpAudience = "trustgate"

// exampleHours are the example bundle's working hours; alwaysWorking makes
// every hour one (a request is high risk, one approval), neverWorking none
// (critical, two approvals), so tests do not depend on when they run.
const (
	exampleHours  = "    days: [Monday, Tuesday, Wednesday, Thursday, Friday]\n    start_hour: 8\n    end_hour: 18\n"
	alwaysWorking = "    days: [Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday]\n    start_hour: 0\n    end_hour: 24\n"
	neverWorking  = "    days: []\n    start_hour: 0\n    end_hour: 0\n"
)

// clock is the engine's and the access service's time: now plus an offset
// a test moves forward to make requests lapse and grants end.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// jitEnv is the whole service with just-in-time access on the example
// bundle: a pipeline issuer (provider gitlab) and a people issuer (corp).
type jitEnv struct {
	*testServer
	clock *clock
}

// newJITServer starts it; hours replaces the example's working hours, and
// opt may adjust the rest.
func newJITServer(t *testing.T, hours string, opt func(*Options)) *jitEnv {
	t.Helper()
	c := &clock{}
	ts := newTestServer(t, func(o *Options) {
		if opt != nil {
			opt(o)
		}
		adjust := o.Engine
		o.Engine = func(cfg *engine.Config) {
			cfg.Now = c.Now
			if adjust != nil {
				adjust(cfg)
			}
		}
		more := o.Data
		o.Data = func(data string) string {
			if strings.Count(data, exampleHours) != 1 {
				t.Fatalf("bundles/example/data.yaml no longer has the working hours %q", exampleHours)
			}
			data = strings.Replace(data, exampleHours, hours, 1)
			if more != nil {
				data = more(data)
			}
			return data
		}
	})
	return &jitEnv{testServer: ts, clock: c}
}

// pipeline is a GitLab CI ID token of my-group/app's protected main
// (which prod-db-breakglass federates with), patched.
func (e *jitEnv) pipeline(t *testing.T, patch map[string]any) string {
	t.Helper()
	return gitlabToken(t, e.GitLab, patch)
}

// person is a company IdP ID token of sub in groups.
func (e *jitEnv) person(t *testing.T, sub string, groups ...string) string {
	t.Helper()
	return e.Corp.Mint(t, enginetest.PersonClaims(e.Corp.URL(), corpAudience, sub, groups...))
}

// approver is a prod-approver's ID token.
func (e *jitEnv) approver(t *testing.T, sub string) string {
	t.Helper()
	return e.person(t, sub, "sre", "prod-approvers")
}

// call sends a just-in-time API call with bearer ("" sends no
// Authorization header) and a JSON body ("" sends none).
func (e *jitEnv) call(t *testing.T, method, path, bearer, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(t, req)
}

// file asks for breakglass with a pipeline token and requires a 201.
func (e *jitEnv) file(t *testing.T, token, duration string) map[string]any {
	t.Helper()
	r := e.call(t, http.MethodPost, "/v1/access/requests", token,
		`{"identity": "`+breakglass+`", "duration": "`+duration+`", "reason": "incident 42: the orders table is locked", "ticket": "INC-42"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("filing a request: %d %s", r.status, e.explain(r))
	}
	return r.body
}

// act posts to /v1/access/requests/{id}/{action} with a reason.
func (e *jitEnv) act(t *testing.T, id, action, token string) response {
	t.Helper()
	return e.call(t, http.MethodPost, "/v1/access/requests/"+id+"/"+action, token, `{"reason": "checked with on-call"}`)
}

// approved files a request and has an approver approve it.
func (e *jitEnv) approved(t *testing.T, requester string) string {
	t.Helper()
	id := e.file(t, requester, "1h")["id"].(string)
	if r := e.act(t, id, "approve", e.approver(t, "alice")); r.status != http.StatusOK || r.body["state"] != "approved" {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	return id
}

// breakglassToken exchanges token naming breakglass; it returns the access
// token or "" with the response.
func (e *jitEnv) breakglassToken(t *testing.T, token string) (string, response) {
	t.Helper()
	r := e.exchange(t, token, "identity", breakglass)
	tok, _ := r.body["access_token"].(string)
	return tok, r
}

// wantError requires status and the OAuth error code, with no token and
// no request in the body.
func wantError(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.raw, status, code)
	}
	for _, k := range []string{"access_token", "id", "requests"} {
		if _, ok := r.body[k]; ok {
			t.Fatalf("%s: the error body carries %q: %s", what, k, r.raw)
		}
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: Cache-Control %q", what, r.header.Get("Cache-Control"))
	}
}

// requestIDs are the ids of a list response.
func requestIDs(t *testing.T, r response) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	var body struct {
		Requests []struct {
			ID string `json:"id"`
		} `json:"requests"`
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil || body.Requests == nil {
		t.Fatalf("list body %s: %v", r.raw, err)
	}
	ids := make([]string, len(body.Requests))
	for i, rq := range body.Requests {
		ids[i] = rq.ID
	}
	return ids
}
