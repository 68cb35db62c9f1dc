package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/server"
)

// goldenError is one error response the server can give, pinned as
// testdata/golden/errors/<file>.
type goldenError struct {
	name      string
	file      string
	operation string
	status    int
	call      func(t *testing.T) response
}

// checkGoldenErrors runs each case and pins its response.
func checkGoldenErrors(t *testing.T, n *normaliser, cases []goldenError) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.call(t)
			wantError(t, tc.name, r, tc.status, codeOf(r))
			n.checkGoldenResponse(t, "errors/"+tc.file, tc.operation, r)
		})
	}
}

// codeOf is the error code of a response, required to be one.
func codeOf(r response) string {
	code, _ := r.body["error"].(string)
	if code == "" {
		return "<none>"
	}
	return code
}

func TestGoldenErrorsOfTheTokenEndpoints(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	n := newNormaliser(e.testServer)
	const token, form = "POST /oauth2/token", "application/x-www-form-urlencoded"
	post := func(body string) func(t *testing.T) response {
		return func(t *testing.T) response { return e.post(t, "/oauth2/token", form, body) }
	}
	job := func(t *testing.T, params ...string) string { return formBody(e.pipeline(t, nil), params...) }
	checkGoldenErrors(t, n, []goldenError{
		{"A request without grant_type is invalid_request.", "token-no-grant-type.json", token, 400, post("")},
		{"Another grant type is unsupported_grant_type.", "token-unsupported-grant-type.json", token, 400,
			post("grant_type=password&username=a&password=b")},
		{"A token the policy refuses is invalid_request with a decision id.", "token-refused.json", token, 400,
			func(t *testing.T) response {
				return e.post(t, "/oauth2/token", form, formBody(e.pipeline(t, map[string]any{"ref": "feature"}), "identity", standingIdentity))
			}},
		{"A scope the identity lacks is invalid_scope.", "token-invalid-scope.json", token, 400,
			func(t *testing.T) response { return e.post(t, "/oauth2/token", form, job(t, "scope", "admin")) }},
		{"An audience the identity lacks is invalid_target.", "token-invalid-target.json", token, 400,
			func(t *testing.T) response {
				return e.post(t, "/oauth2/token", form, job(t, "audience", "https://evil.example.com"))
			}},
		{"A resource parameter is invalid_target.", "token-resource.json", token, 400,
			func(t *testing.T) response {
				return e.post(t, "/oauth2/token", form, job(t, "resource", "https://api.example.com"))
			}},
		{"A body over the limit is 413 invalid_request.", "token-too-large.json", token, 413,
			post("grant_type=" + strings.Repeat("x", 70<<10))},
		{"A GET of the token endpoint is 405 with Allow.", "method-not-allowed.json", "GET /oauth2/token", 405,
			func(t *testing.T) response { return e.get(t, "/oauth2/token") }},
		{"A path the server does not serve is 404.", "not-found.json", "GET /no/such/path", 404,
			func(t *testing.T) response { return e.get(t, "/no/such/path") }},
		{"A JSON exchange whose body is not one object is invalid_request.", "exchange-json-syntax.json", "POST /v1/auth:exchangeToken", 400,
			func(t *testing.T) response {
				return e.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":`)
			}},
		{"whoami without a token is 401 with a bare Bearer challenge.", "whoami-no-token.json", "GET /v1/whoami", 401,
			func(t *testing.T) response { return e.get(t, "/v1/whoami") }},
		{"whoami with a token this server did not issue is 401 invalid_token.", "whoami-inactive.json", "GET /v1/whoami", 401,
			func(t *testing.T) response {
				return e.get(t, "/v1/whoami", "Authorization", "Bearer "+e.pipeline(t, nil))
			}},
		{"introspection without the token parameter is invalid_request.", "introspect-no-token.json", "POST /oauth2/introspect", 400,
			func(t *testing.T) response { return e.post(t, "/oauth2/introspect", form, "") }},
	})
}

func TestGoldenErrorsOfTheJustInTimeAPI(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	n := newNormaliser(e.testServer)
	const list, one = "/v1/access/requests", "/v1/access/requests/{id}"
	unknown := "/v1/access/requests/aaaaaaaaaaaaaaaaaaaaaaaaaa"
	checkGoldenErrors(t, n, []goldenError{
		{"A call without a bearer token is 401 with a bare Bearer challenge.", "access-no-token.json", "GET " + list, 401,
			func(t *testing.T) response { return e.call(t, http.MethodGet, list, "", "") }},
		{"A bearer value that is no ID token is 401 invalid_token.", "access-invalid-token.json", "GET " + list, 401,
			func(t *testing.T) response { return e.call(t, http.MethodGet, list, "not-a-token", "") }},
		{"A request the policy refuses is 403 access_denied.", "access-denied.json", "POST " + list, 403,
			func(t *testing.T) response {
				return e.call(t, http.MethodPost, list, e.pipeline(t, nil), `{"identity": "`+breakglass+`", "duration": "5h", "reason": "a long night"}`)
			}},
		{"An unknown request is 404 not_found.", "access-not-found.json", "GET " + one, 404,
			func(t *testing.T) response { return e.call(t, http.MethodGet, unknown, e.approver(t, "alice"), "") }},
		{"Cancelling an approved request is 409 conflict.", "access-conflict.json", "POST " + one + "/cancel", 409,
			func(t *testing.T) response {
				job := e.pipeline(t, nil)
				return e.act(t, e.approved(t, job), "cancel", e.pipeline(t, nil))
			}},
		{"A request without a reason is invalid_request.", "access-no-reason.json", "POST " + list, 400,
			func(t *testing.T) response {
				return e.call(t, http.MethodPost, list, e.pipeline(t, nil), `{"identity": "`+breakglass+`"}`)
			}},
		{"An unknown field is invalid_request.", "access-unknown-field.json", "POST " + list, 400,
			func(t *testing.T) response {
				return e.call(t, http.MethodPost, list, e.pipeline(t, nil), `{"identity": "`+breakglass+`", "reason": "x", "approver": "me"}`)
			}},
		{"A list filtered by an unknown state is invalid_request.", "access-bad-state.json", "GET " + list, 400,
			func(t *testing.T) response {
				return e.call(t, http.MethodGet, list+"?state=granted", e.approver(t, "alice"), "")
			}},
	})
}

// TestGoldenErrorsOfServerConditions pins the errors that depend on how
// the server is configured or what it can reach: each case has a server
// of its own.
func TestGoldenErrorsOfServerConditions(t *testing.T) {
	withServer := func(opt func(*Options), call func(t *testing.T, e *jitEnv) response) func(t *testing.T) response {
		return func(t *testing.T) response {
			e := newJITServer(t, alwaysWorking, opt)
			return call(t, e)
		}
	}
	rateLimited := func(o *Options) { o.Server = func(c *server.Config) { c.ClientRate, c.ClientBurst = 0.001, 1 } }
	n := &normaliser{}
	cases := []goldenError{
		{"Introspection without client credentials is 401 invalid_client with a Basic challenge.", "introspect-no-client.json",
			"POST /oauth2/introspect", 401, withServer(func(o *Options) {
				o.Server = func(c *server.Config) {
					c.IntrospectionClients = []server.IntrospectionClient{{ID: "api", Secret: "s3cret-s3cret"}}
				}
			}, func(t *testing.T, e *jitEnv) response { return e.introspect(t, e.issue(t)) })},
		{"A second exchange over the client's rate is 429 slow_down.", "token-slow-down.json", "POST /oauth2/token", 429,
			withServer(rateLimited, func(t *testing.T, e *jitEnv) response {
				e.issue(t)
				r := e.exchange(t, e.pipeline(t, nil), "identity", standingIdentity)
				r.header.Set("Retry-After", "<seconds>") // the rest of the second this test took
				return r
			})},
		{"A second exchange by one subject over its rate is 429 slow_down.", "token-subject-slow-down.json", "POST /oauth2/token", 429,
			withServer(func(o *Options) { o.Engine = func(c *engine.Config) { c.SubjectRate, c.SubjectBurst = 0.001, 1 } },
				func(t *testing.T, e *jitEnv) response {
					e.issue(t)
					r := e.exchange(t, e.pipeline(t, nil), "identity", standingIdentity)
					r.header.Set("Retry-After", "<seconds>")
					return r
				})},
		{"An exchange with no policy loaded is 500 server_error.", "token-no-policy.json", "POST /oauth2/token", 500,
			withServer(func(o *Options) { o.NoPolicy = true }, func(t *testing.T, e *jitEnv) response {
				return e.exchange(t, e.pipeline(t, nil), "identity", standingIdentity)
			})},
		{"An exchange whose issuer's keys cannot be read is 503 with Retry-After.", "token-issuer-unavailable.json", "POST /oauth2/token", 503,
			withServer(nil, func(t *testing.T, e *jitEnv) response {
				e.GitLabSelf.ServeJWKS([]byte("{"))
				return e.exchange(t, gitlabToken(t, e.GitLabSelf, nil))
			})},
		{"whoami while the state store is down is 503 with Retry-After.", "whoami-state-unavailable.json", "GET /v1/whoami", 503,
			withServer(nil, func(t *testing.T, e *jitEnv) response {
				tok := e.issue(t)
				closeStore(t, e)
				return e.get(t, "/v1/whoami", "Authorization", "Bearer "+tok)
			})},
		{"A just-in-time call while the state store is down is 503 with Retry-After.", "access-state-unavailable.json",
			"GET /v1/access/requests", 503, withServer(nil, func(t *testing.T, e *jitEnv) response {
				closeStore(t, e)
				return e.call(t, http.MethodGet, "/v1/access/requests", e.approver(t, "alice"), "")
			})},
		{"A just-in-time call to a server without just-in-time access is 404.", "access-off.json", "GET /v1/access/requests", 404,
			withServer(func(o *Options) { o.NoAccess = true }, func(t *testing.T, e *jitEnv) response {
				return e.call(t, http.MethodGet, "/v1/access/requests", e.approver(t, "alice"), "")
			})},
	}
	checkGoldenErrors(t, n, cases)
}

func closeStore(t *testing.T, e *jitEnv) {
	t.Helper()
	if err := e.State.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenReadinessWithoutAPolicyAndWhileDraining(t *testing.T) {
	e := newJITServer(t, alwaysWorking, func(o *Options) { o.NoPolicy = true })
	r := e.get(t, "/readyz")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz without a policy: %d %s", r.status, r.raw)
	}
	newNormaliser(e.testServer).checkGoldenResponse(t, "status/readyz-not-ready.json", "GET /readyz", r)

	e = newJITServer(t, alwaysWorking, nil)
	e.Server.Drain()
	r = e.get(t, "/readyz")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %d %s", r.status, r.raw)
	}
	newNormaliser(e.testServer).checkGoldenResponse(t, "status/readyz-draining.json", "GET /readyz", r)
}
