package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine"
)

func jsonPost(body string) request {
	return request{method: http.MethodPost, target: pathExchangeJSON, contentType: jsonMediaType, body: body}
}

func TestJSONExchangePassesAWellFormedRequestToTheEngine(t *testing.T) {
	tests := []struct {
		name string
		req  request
		want engine.Request
	}{
		{"a body with only the token asks for the identity that matches",
			jsonPost(`{"token":"` + subjectToken + `"}`),
			engine.Request{SubjectToken: subjectToken}},
		{"identity, scopes and audience are all passed on",
			jsonPost(`{"token":"` + subjectToken + `","identity":"deploy","scopes":["read","write","read"],"audience":"https://api.example.com"}`),
			engine.Request{SubjectToken: subjectToken, Identity: "deploy", Scopes: []string{"read", "write"}, Audiences: []string{"https://api.example.com"}}},
		{"email names the identity like identity does",
			jsonPost(`{"email":"deploy@workload.example.com","token":"` + subjectToken + `"}`),
			engine.Request{SubjectToken: subjectToken, Identity: "deploy@workload.example.com"}},
		{"an empty identity with an email is not both",
			jsonPost(`{"token":"` + subjectToken + `","identity":"","email":"deploy@workload.example.com"}`),
			engine.Request{SubjectToken: subjectToken, Identity: "deploy@workload.example.com"}},
		{"an empty scopes array asks for every scope",
			jsonPost(`{"token":"` + subjectToken + `","scopes":[]}`),
			engine.Request{SubjectToken: subjectToken}},
		{"whitespace around the object is not trailing data (RFC 8259 §2)",
			jsonPost(" \n\t{\"token\":\"" + subjectToken + "\"} \r\n"),
			engine.Request{SubjectToken: subjectToken}},
		{"escaped characters in strings are decoded (RFC 8259 §7)",
			jsonPost(`{"token":"` + subjectToken + `","identity":"d\u0065ploy"}`),
			engine.Request{SubjectToken: subjectToken, Identity: "deploy"}},
		{"a charset parameter on the media type is accepted",
			request{method: http.MethodPost, target: pathExchangeJSON, contentType: "application/json; charset=utf-8",
				body: `{"token":"` + subjectToken + `"}`},
			engine.Request{SubjectToken: subjectToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, got := accepted(t, tc.req)
			got.ClientIP = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("engine request = %#v, want %#v", got, tc.want)
			}
			var resp map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"accessToken": "issued.access.token", "tokenType": "Bearer", "expiresIn": float64(900), "scope": "read write"}
			if !reflect.DeepEqual(resp, want) {
				t.Errorf("response = %v, want %v", resp, want)
			}
		})
	}
}

func TestJSONExchangeRefusesAnythingButOneStrictObject(t *testing.T) {
	tok := `"token":"` + subjectToken + `"`
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
	}{
		{"an unknown field is refused", jsonPost(`{` + tok + `,"scope":"read"}`), 400, codeInvalidRequest},
		{"an unknown field holding an object is refused", jsonPost(`{` + tok + `,"x":{"y":[1,{"z":null}]}}`), 400, codeInvalidRequest},
		{"a known field spelled in another case is refused, unlike encoding/json", jsonPost(`{"Token":"` + subjectToken + `"}`), 400, codeInvalidRequest},
		{"a field given twice is refused, unlike encoding/json which keeps the last", jsonPost(`{` + tok + `,` + tok + `}`), 400, codeInvalidRequest},
		{"a field given twice with an escaped name is refused", jsonPost(`{` + tok + `,"\u0074oken":"x"}`), 400, codeInvalidRequest},
		{"scopes given twice are refused", jsonPost(`{` + tok + `,"scopes":["read"],"scopes":["write"]}`), 400, codeInvalidRequest},
		{"a second object after the first is refused", jsonPost(`{` + tok + `}{}`), 400, codeInvalidRequest},
		{"a value after the object is refused", jsonPost(`{` + tok + `} 1`), 400, codeInvalidRequest},
		{"garbage after the object is refused", jsonPost(`{` + tok + `}x`), 400, codeInvalidRequest},
		{"an unterminated object is refused", jsonPost(`{` + tok), 400, codeInvalidRequest},
		{"a trailing comma is refused (RFC 8259 §4)", jsonPost(`{` + tok + `,}`), 400, codeInvalidRequest},
		{"an empty body is refused", jsonPost(``), 400, codeInvalidRequest},
		{"an array body is refused", jsonPost(`[` + `{` + tok + `}]`), 400, codeInvalidRequest},
		{"a string body is refused", jsonPost(`"` + subjectToken + `"`), 400, codeInvalidRequest},
		{"a null body is refused", jsonPost(`null`), 400, codeInvalidRequest},
		{"a null token is refused", jsonPost(`{"token":null}`), 400, codeInvalidRequest},
		{"a numeric token is refused", jsonPost(`{"token":1}`), 400, codeInvalidRequest},
		{"a token in an array is refused", jsonPost(`{"token":["` + subjectToken + `"]}`), 400, codeInvalidRequest},
		{"a boolean identity is refused", jsonPost(`{` + tok + `,"identity":true}`), 400, codeInvalidRequest},
		{"an audience list is refused: audience is one string", jsonPost(`{` + tok + `,"audience":["a","b"]}`), 400, codeInvalidRequest},
		{"scopes as a space-separated string are refused", jsonPost(`{` + tok + `,"scopes":"read write"}`), 400, codeInvalidRequest},
		{"null scopes are refused", jsonPost(`{` + tok + `,"scopes":null}`), 400, codeInvalidRequest},
		{"a number among the scopes is refused", jsonPost(`{` + tok + `,"scopes":["read",1]}`), 400, codeInvalidRequest},
		{"a nested array among the scopes is refused", jsonPost(`{` + tok + `,"scopes":[["read"]]}`), 400, codeInvalidRequest},
		{"an empty scope is invalid_scope (RFC 6749 §3.3)", jsonPost(`{` + tok + `,"scopes":[""]}`), 400, codeInvalidScope},
		{"a scope with a space is invalid_scope (RFC 6749 §3.3)", jsonPost(`{` + tok + `,"scopes":["read write"]}`), 400, codeInvalidScope},
		{"more than 32 scopes are invalid_scope", jsonPost(`{` + tok + `,"scopes":[` + strings.Repeat(`"s",`, 32) + `"last"]}`), 400, codeInvalidScope},
		{"identity and email together are refused", jsonPost(`{` + tok + `,"identity":"a","email":"a@example.com"}`), 400, codeInvalidRequest},
		{"a missing token is refused", jsonPost(`{"identity":"deploy"}`), 400, codeInvalidRequest},
		{"an empty token is refused", jsonPost(`{"token":""}`), 400, codeInvalidRequest},
		{"invalid UTF-8 is refused, not replaced", jsonPost("{" + tok + ",\"identity\":\"\xff\"}"), 400, codeInvalidRequest},
		{"parameters in the URL query are refused",
			request{method: http.MethodPost, target: pathExchangeJSON + "?token=x", contentType: jsonMediaType, body: `{` + tok + `}`}, 400, codeInvalidRequest},
		{"a form body is refused on the JSON endpoint",
			request{method: http.MethodPost, target: pathExchangeJSON, contentType: formMediaType, body: exchangeForm()}, 400, codeInvalidRequest},
		{"text/plain is refused",
			request{method: http.MethodPost, target: pathExchangeJSON, contentType: "text/plain", body: `{` + tok + `}`}, 400, codeInvalidRequest},
		{"a body over MaxBodyBytes is 413",
			jsonPost(`{` + tok + `,"identity":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`), 413, codeInvalidRequest},
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
			if e := decodeError(t, rec); e.Error != tc.wantCode {
				t.Fatalf("error = %q (%s), want %q", e.Error, e.Description, tc.wantCode)
			}
			if calls := h.exchanger.calls(); len(calls) != 0 {
				t.Fatalf("the engine was called with a malformed request")
			}
			assertNotLogged(t, h.logs, subjectToken)
		})
	}
}

func TestJSONExchangeDecodesHostileBodiesWithoutRecursion(t *testing.T) {
	// An unknown field is refused at its name, before its value is read, so
	// deep nesting costs nothing.
	deep := `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	h := newHarness(t)
	rec := h.do(t, jsonPost(deep))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d", rec.Code)
	}
}
