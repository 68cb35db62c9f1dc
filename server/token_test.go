package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
)

// subjectToken is what the tests send as a subject token: it must never come
// back in a response body or a log line.
const subjectToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViamVjdCJ9.c2lnbmF0dXJlLXNlY3JldA"

func exchangeForm(extra ...string) string {
	v := url.Values{
		"grant_type":         {grantTokenExchange},
		"subject_token":      {subjectToken},
		"subject_token_type": {tokenTypeIDToken},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "\x00" {
			v.Del(extra[i])
			continue
		}
		v.Add(extra[i], extra[i+1])
	}
	return v.Encode()
}

func formPost(body string) request {
	return request{method: http.MethodPost, target: pathToken, contentType: formMediaType, body: body}
}

func TestTokenEndpointPassesAWellFormedExchangeToTheEngine(t *testing.T) {
	tests := []struct {
		name       string
		req        request
		want       engine.Request
		wantIssued string
	}{
		{
			name:       "a request with only the required parameters asks for the identity that matches (RFC 8693 §2.1)",
			req:        formPost(exchangeForm()),
			want:       engine.Request{SubjectToken: subjectToken},
			wantIssued: tokenTypeAccessToken,
		},
		{
			name:       "subject_token_type jwt is accepted like id_token (RFC 8693 §3)",
			req:        formPost(exchangeForm("subject_token_type", "\x00", "subject_token_type", tokenTypeJWT)),
			want:       engine.Request{SubjectToken: subjectToken},
			wantIssued: tokenTypeAccessToken,
		},
		{
			name:       "requested_token_type jwt is answered with issued_token_type jwt (RFC 8693 §2.2.1)",
			req:        formPost(exchangeForm("requested_token_type", tokenTypeJWT)),
			want:       engine.Request{SubjectToken: subjectToken},
			wantIssued: tokenTypeJWT,
		},
		{
			name:       "requested_token_type access_token is answered with issued_token_type access_token (RFC 8693 §2.2.1)",
			req:        formPost(exchangeForm("requested_token_type", tokenTypeAccessToken)),
			want:       engine.Request{SubjectToken: subjectToken},
			wantIssued: tokenTypeAccessToken,
		},
		{
			name: "scope is split on single spaces and a repeated scope is asked for once (RFC 6749 §3.3)",
			req:  formPost(exchangeForm("scope", "read write read")),
			want: engine.Request{SubjectToken: subjectToken, Scopes: []string{"read", "write"}},
		},
		{
			name: "audience may be given several times and each is asked for (RFC 8693 §2.1)",
			req:  formPost(exchangeForm("audience", "https://a.example.com", "audience", "https://b.example.com")),
			want: engine.Request{SubjectToken: subjectToken, Audiences: []string{"https://a.example.com", "https://b.example.com"}},
		},
		{
			name: "identity names the identity asked for",
			req:  formPost(exchangeForm("identity", "gitlab-ci-deploy@workload.example.com")),
			want: engine.Request{SubjectToken: subjectToken, Identity: "gitlab-ci-deploy@workload.example.com"},
		},
		{
			name: "parameters sent without a value are treated as omitted (RFC 6749 §3.2)",
			req:  formPost(exchangeForm("identity", "", "scope", "", "audience", "", "requested_token_type", "")),
			want: engine.Request{SubjectToken: subjectToken},
		},
		{
			name: "unrecognized parameters are ignored, even repeated (RFC 6749 §3.2)",
			req:  formPost(exchangeForm("client_id", "ci", "unknown", "a", "unknown", "b")),
			want: engine.Request{SubjectToken: subjectToken},
		},
		{
			name: "a charset parameter on the media type is accepted",
			req: request{method: http.MethodPost, target: pathToken,
				contentType: "application/x-www-form-urlencoded; charset=UTF-8", body: exchangeForm()},
			want: engine.Request{SubjectToken: subjectToken},
		},
		{
			name: "the media type is compared case-insensitively (RFC 9110 §8.3.1)",
			req: request{method: http.MethodPost, target: pathToken,
				contentType: "Application/X-WWW-Form-URLEncoded", body: exchangeForm()},
			want: engine.Request{SubjectToken: subjectToken},
		},
		{
			name: "a URL with an empty query (a bare ?) carries no parameters and is accepted",
			req:  request{method: http.MethodPost, target: pathToken + "?", contentType: formMediaType, body: exchangeForm()},
			want: engine.Request{SubjectToken: subjectToken},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, got := accepted(t, tc.req)
			if got.ClientIP != "192.0.2.1" {
				t.Errorf("ClientIP = %q, want the peer address 192.0.2.1", got.ClientIP)
			}
			got.ClientIP = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("engine request = %+v, want %+v", got, tc.want)
			}
			var resp map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			wantIssued := tc.wantIssued
			if wantIssued == "" {
				wantIssued = tokenTypeAccessToken
			}
			want := map[string]any{
				"access_token": "issued.access.token", "issued_token_type": wantIssued,
				"token_type": "Bearer", "expires_in": float64(900), "scope": "read write",
			}
			if !reflect.DeepEqual(resp, want) {
				t.Errorf("response = %v, want %v", resp, want)
			}
		})
	}
}

func TestTokenEndpointRefusesMalformedRequestsWithoutCallingTheEngine(t *testing.T) {
	type refusal struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
	}
	tests := []refusal{
		{"parameters in the URL query are refused even when the body is complete (RFC 6749 §3.2)",
			request{method: http.MethodPost, target: pathToken + "?scope=read", contentType: formMediaType, body: exchangeForm()},
			http.StatusBadRequest, codeInvalidRequest},
		{"a subject token in the URL query is refused and never read from there",
			request{method: http.MethodPost, target: pathToken + "?" + exchangeForm(), contentType: formMediaType},
			http.StatusBadRequest, codeInvalidRequest},
		{"a JSON body is refused: the token endpoint takes application/x-www-form-urlencoded (RFC 6749 §3.2)",
			request{method: http.MethodPost, target: pathToken, contentType: jsonMediaType, body: `{"grant_type":"x"}`},
			http.StatusBadRequest, codeInvalidRequest},
		{"a body without a content type is refused",
			request{method: http.MethodPost, target: pathToken, body: exchangeForm()},
			http.StatusBadRequest, codeInvalidRequest},
		{"a multipart/form-data body is refused",
			request{method: http.MethodPost, target: pathToken, contentType: "multipart/form-data; boundary=x", body: exchangeForm()},
			http.StatusBadRequest, codeInvalidRequest},
		{"a media type with a suffix is not the form media type",
			request{method: http.MethodPost, target: pathToken, contentType: formMediaType + "x", body: exchangeForm()},
			http.StatusBadRequest, codeInvalidRequest},
		{"an unparsable content type is refused",
			request{method: http.MethodPost, target: pathToken, contentType: formMediaType + "; charset", body: exchangeForm()},
			http.StatusBadRequest, codeInvalidRequest},
		{"two Content-Type headers are refused",
			request{method: http.MethodPost, target: pathToken, contentType: formMediaType, body: exchangeForm(),
				header: http.Header{"Content-Type": {formMediaType}}},
			http.StatusBadRequest, codeInvalidRequest},
		{"a malformed percent escape in the body is refused",
			formPost(exchangeForm() + "&identity=%zz"), http.StatusBadRequest, codeInvalidRequest},
		{"a semicolon as a separator is refused",
			formPost(exchangeForm() + ";identity=x"), http.StatusBadRequest, codeInvalidRequest},
		{"a parameter that is not valid UTF-8 is refused",
			formPost(exchangeForm() + "&identity=%ff%fe"), http.StatusBadRequest, codeInvalidRequest},
		{"an unrecognized parameter name that is not valid UTF-8 is refused",
			formPost(exchangeForm() + "&%ff=x"), http.StatusBadRequest, codeInvalidRequest},
		{"a missing grant_type is invalid_request (RFC 6749 §5.2)",
			formPost(exchangeForm("grant_type", "\x00")), http.StatusBadRequest, codeInvalidRequest},
		{"the authorization_code grant is unsupported_grant_type (RFC 6749 §5.2)",
			formPost(exchangeForm("grant_type", "\x00", "grant_type", "authorization_code")), http.StatusBadRequest, codeUnsupportedGrantType},
		{"the client_credentials grant is unsupported_grant_type (RFC 6749 §5.2)",
			formPost(exchangeForm("grant_type", "\x00", "grant_type", "client_credentials")), http.StatusBadRequest, codeUnsupportedGrantType},
		{"the JWT bearer grant is unsupported_grant_type (RFC 6749 §5.2, RFC 7523)",
			formPost(exchangeForm("grant_type", "\x00", "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")), http.StatusBadRequest, codeUnsupportedGrantType},
		{"a grant type differing only in case is unsupported_grant_type",
			formPost(exchangeForm("grant_type", "\x00", "grant_type", strings.ToUpper(grantTokenExchange))), http.StatusBadRequest, codeUnsupportedGrantType},
		{"a missing subject_token is invalid_request (RFC 8693 §2.1)",
			formPost(exchangeForm("subject_token", "\x00")), http.StatusBadRequest, codeInvalidRequest},
		{"an empty subject_token is invalid_request (RFC 6749 §3.2: empty is omitted)",
			formPost(exchangeForm("subject_token", "\x00", "subject_token", "")), http.StatusBadRequest, codeInvalidRequest},
		{"a missing subject_token_type is invalid_request (RFC 8693 §2.1)",
			formPost(exchangeForm("subject_token_type", "\x00")), http.StatusBadRequest, codeInvalidRequest},
		{"an access_token subject_token_type is refused: only ID tokens and JWTs are exchanged",
			formPost(exchangeForm("subject_token_type", "\x00", "subject_token_type", tokenTypeAccessToken)), http.StatusBadRequest, codeInvalidRequest},
		{"a SAML assertion subject_token_type is refused (RFC 8693 §3)",
			formPost(exchangeForm("subject_token_type", "\x00", "subject_token_type", "urn:ietf:params:oauth:token-type:saml2")), http.StatusBadRequest, codeInvalidRequest},
		{"requested_token_type refresh_token is refused (RFC 8693 §2.1)",
			formPost(exchangeForm("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")), http.StatusBadRequest, codeInvalidRequest},
		{"an actor_token is refused: delegation is not supported (RFC 8693 §2.1)",
			formPost(exchangeForm("actor_token", subjectToken, "actor_token_type", tokenTypeJWT)), http.StatusBadRequest, codeInvalidRequest},
		{"an actor_token_type alone is refused (RFC 8693 §2.1)",
			formPost(exchangeForm("actor_token_type", tokenTypeJWT)), http.StatusBadRequest, codeInvalidRequest},
		{"an actor_token alone is refused (RFC 8693 §2.1)",
			formPost(exchangeForm("actor_token", subjectToken)), http.StatusBadRequest, codeInvalidRequest},
		{"a resource parameter is invalid_target: resource indicators are not supported (RFC 8693 §2.2.2)",
			formPost(exchangeForm("resource", "https://api.example.com")), http.StatusBadRequest, codeInvalidTarget},
		{"a scope with two spaces in a row is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", "read  write")), http.StatusBadRequest, codeInvalidScope},
		{"a scope with a leading space is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", " read")), http.StatusBadRequest, codeInvalidScope},
		{"a scope with a trailing space is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", "read ")), http.StatusBadRequest, codeInvalidScope},
		{"a scope separated by a tab is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", "read\twrite")), http.StatusBadRequest, codeInvalidScope},
		{"a scope with a double quote is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", `re"ad`)), http.StatusBadRequest, codeInvalidScope},
		{"a scope with a backslash is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", `re\ad`)), http.StatusBadRequest, codeInvalidScope},
		{"a scope with a non-ASCII character is invalid_scope (RFC 6749 §3.3)",
			formPost(exchangeForm("scope", "lés")), http.StatusBadRequest, codeInvalidScope},
		{"more than 32 scopes are invalid_scope",
			formPost(exchangeForm("scope", strings.Repeat("s ", 32)+"last")), http.StatusBadRequest, codeInvalidScope},
		{"more than 32 audiences are invalid_request",
			formPost(exchangeForm(manyAudiences(33)...)), http.StatusBadRequest, codeInvalidRequest},
		{"a grant_type given twice with the same value is still repeated (RFC 6749 §3.2)",
			formPost(exchangeForm("grant_type", grantTokenExchange)), http.StatusBadRequest, codeInvalidRequest},
		{"a subject_token given a second time empty is still repeated (RFC 6749 §3.2)",
			formPost(exchangeForm() + "&subject_token="), http.StatusBadRequest, codeInvalidRequest},
		{"a body over MaxBodyBytes is 413",
			formPost(exchangeForm("identity", strings.Repeat("x", DefaultMaxBodyBytes))), http.StatusRequestEntityTooLarge, codeInvalidRequest},
	}
	for _, name := range []string{"grant_type", "subject_token", "subject_token_type", "requested_token_type", "scope", "identity"} {
		body := exchangeForm(name, "repeated", name, "again")
		tests = append(tests, refusal{
			name:       "a repeated " + name + " is invalid_request (RFC 6749 §3.2)",
			req:        formPost(body),
			wantStatus: http.StatusBadRequest, wantCode: codeInvalidRequest,
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			rec := h.do(t, tc.req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			assertNoStore(t, rec)
			if strings.Contains(rec.Body.String(), subjectToken) {
				t.Fatalf("the error body echoes the subject token")
			}
			e := decodeError(t, rec)
			if e.Error != tc.wantCode {
				t.Fatalf("error = %q (%s), want %q", e.Error, e.Description, tc.wantCode)
			}
			if calls := h.exchanger.calls(); len(calls) != 0 {
				t.Fatalf("the engine was called with a malformed request")
			}
			assertNotLogged(t, h.logs, subjectToken)
			if n := h.logs.FilterMessage("request refused").FilterField(zap.String("error_code", tc.wantCode)).Len(); n != 1 {
				t.Fatalf("%d Warn lines for the refusal, want 1: %v", n, h.logs.All())
			}
		})
	}
}

func manyAudiences(n int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, "audience", "https://a"+strconv.Itoa(i)+".example.com")
	}
	return kv
}

func TestTokenEndpointOnlyAcceptsPost(t *testing.T) {
	h := newHarness(t)
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		t.Run(method+" is 405 with Allow: POST (RFC 6749 §3.2, RFC 9110 §15.5.6)", func(t *testing.T) {
			rec := h.do(t, request{method: method, target: pathToken + "?" + exchangeForm()})
			if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
				t.Fatalf("status %d Allow %q, want 405 POST", rec.Code, rec.Header().Get("Allow"))
			}
			assertNoStore(t, rec)
		})
	}
	if calls := h.exchanger.calls(); len(calls) != 0 {
		t.Fatalf("the engine was called %d times", len(calls))
	}
}

func TestTheConfiguredBodyCapIsEnforcedAndClosesTheConnection(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 512 })
	within := exchangeForm("identity", strings.Repeat("x", 100))
	if rec := h.do(t, formPost(within)); rec.Code != http.StatusOK {
		t.Fatalf("a body under the configured cap: status %d", rec.Code)
	}
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+pathToken, strings.NewReader(exchangeForm("identity", strings.Repeat("x", 1024))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", formMediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// RFC 9110 §15.5.14: the server may close the connection; net/http does
	// when the cap's reader holds the real ResponseWriter, instead of
	// reading the rest of an oversized body.
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("a body over the configured 512 bytes: status %d, Connection: close %v; want 413 and close", resp.StatusCode, resp.Close)
	}
}
