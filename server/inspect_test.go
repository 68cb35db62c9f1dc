package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/mint"
)

const accessToken = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJhY2Nlc3MifQ.c2lnbmF0dXJl"

func liveClaims() *mint.Claims {
	return &mint.Claims{
		Issuer: "https://sts.example.com", Subject: "deploy@workload.example.com", Audience: []string{"https://api.example.com"},
		Expiry: 1_900_000_900, IssuedAt: 1_900_000_000, NotBefore: 1_900_000_000, ID: "jti-1", Scope: "read write",
		Roles: []string{"deployer"}, ClientID: "deploy",
		Act: &mint.Actor{Issuer: "https://gitlab.com", Subject: "project_path:g/p:ref_type:branch:ref:main"},
		Src: map[string]string{"project_path": "g/p"},
	}
}

func TestWhoamiReadsTheBearerTokenFromTheAuthorizationHeaderOnly(t *testing.T) {
	invalid := `Bearer error="invalid_token"`
	tests := []struct {
		name          string
		target        string
		header        http.Header
		wantInspected string // "" when the engine must not be asked
		wantChallenge string
	}{
		{"a Bearer token is inspected (RFC 6750 §2.1)", pathWhoami,
			http.Header{"Authorization": {"Bearer " + accessToken}}, accessToken, ""},
		{"the scheme is matched case-insensitively (RFC 9110 §11.1)", pathWhoami,
			http.Header{"Authorization": {"bEaReR " + accessToken}}, accessToken, ""},
		{"a b64token with padding is accepted (RFC 6750 §2.1)", pathWhoami,
			http.Header{"Authorization": {"Bearer abc+/~-._=="}}, "abc+/~-._==", ""},
		{"no Authorization header is 401 with a bare challenge (RFC 6750 §3.1)", pathWhoami,
			nil, "", "Bearer"},
		{"a token in the access_token query parameter is not read (RFC 6750 §2.3 is not supported)", pathWhoami + "?access_token=" + accessToken,
			nil, "", "Bearer"},
		{"the Basic scheme is 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Basic " + accessToken}}, "", invalid},
		{"Bearer without a token is 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Bearer"}}, "", invalid},
		{"Bearer and an empty token is 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Bearer "}}, "", invalid},
		{"two spaces after Bearer is 401 invalid_token (RFC 6750 §2.1 has one)", pathWhoami,
			http.Header{"Authorization": {"Bearer  " + accessToken}}, "", invalid},
		{"a token with a space in it is 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Bearer a b"}}, "", invalid},
		{"a token with a character outside b64token is 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Bearer a,b"}}, "", invalid},
		{"padding in the middle of a token is 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Bearer a=b"}}, "", invalid},
		{"two Authorization headers are 401 invalid_token", pathWhoami,
			http.Header{"Authorization": {"Bearer " + accessToken, "Bearer " + accessToken}}, "", invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.inspector.claims = liveClaims()
			rec := h.do(t, request{method: http.MethodGet, target: tc.target, header: tc.header})
			inspected, _ := h.inspector.calls()
			if tc.wantInspected == "" {
				if len(inspected) != 0 {
					t.Fatalf("the engine inspected %q", inspected)
				}
				if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != tc.wantChallenge {
					t.Fatalf("status %d WWW-Authenticate %q, want 401 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), tc.wantChallenge)
				}
				assertNoStore(t, rec)
				if e := decodeError(t, rec); e.Error != codeInvalidToken {
					t.Fatalf("error %q", e.Error)
				}
				assertNotLogged(t, h.logs, accessToken)
				return
			}
			if len(inspected) != 1 || inspected[0] != tc.wantInspected || rec.Code != http.StatusOK {
				t.Fatalf("status %d, inspected %q", rec.Code, inspected)
			}
		})
	}
}

func TestWhoamiDescribesALiveTokenAndRefusesAnyOther(t *testing.T) {
	bearer := http.Header{"Authorization": {"Bearer " + accessToken}}
	t.Run("a live token's identity, roles, scopes and expiry are shown", func(t *testing.T) {
		h := newHarness(t)
		h.inspector.claims = liveClaims()
		rec := h.do(t, request{method: http.MethodGet, target: pathWhoami, header: bearer})
		assertNoStore(t, rec)
		want := `{"identity":"deploy","subject":"deploy@workload.example.com","roles":["deployer"],"scopes":["read","write"],` +
			`"audiences":["https://api.example.com"],"issued_at":"2030-03-17T17:46:40Z","expires_at":"2030-03-17T18:01:40Z",` +
			`"act":{"iss":"https://gitlab.com","sub":"project_path:g/p:ref_type:branch:ref:main"},"src":{"project_path":"g/p"}}`
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
			t.Fatalf("%d %s\nwant %s", rec.Code, rec.Body, want)
		}
	})
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"an inactive token is 401 invalid_token with a challenge (RFC 6750 §3.1)",
			fmt.Errorf("%w: revoked", engine.ErrInactive), http.StatusUnauthorized, codeInvalidToken},
		{"a failing revocation store is 500, not a 401 the caller cannot fix",
			fmt.Errorf("%w: revocation store: down", engine.ErrInternal), http.StatusInternalServerError, codeServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.inspector.inspectErr = tc.err
			rec := h.do(t, request{method: http.MethodGet, target: pathWhoami, header: bearer})
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d", rec.Code)
			}
			if e := decodeError(t, rec); e.Error != tc.wantCode {
				t.Fatalf("error %q", e.Error)
			}
			if tc.wantStatus == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Fatalf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func tokenPost(path, body string) request {
	return request{method: http.MethodPost, target: path, contentType: formMediaType, body: body}
}

func TestIntrospectionAnswersActiveOnlyForALiveToken(t *testing.T) {
	tests := []struct {
		name       string
		claims     *mint.Claims
		inspectErr error
		body       string
		wantStatus int
		wantBody   string
		wantCode   string
	}{
		{"a live token is active with its claims (RFC 7662 §2.2)", liveClaims(), nil, "token=" + accessToken, 200,
			`{"active":true,"scope":"read write","client_id":"deploy","token_type":"Bearer","exp":1900000900,"iat":1900000000,` +
				`"nbf":1900000000,"sub":"deploy@workload.example.com","aud":["https://api.example.com"],"iss":"https://sts.example.com",` +
				`"jti":"jti-1","roles":["deployer"],"act":{"iss":"https://gitlab.com","sub":"project_path:g/p:ref_type:branch:ref:main"}}`, ""},
		{"token_type_hint is accepted and ignored (RFC 7662 §2.1)", liveClaims(), nil, "token=" + accessToken + "&token_type_hint=refresh_token", 200,
			`{"active":true,"scope":"read write","client_id":"deploy","token_type":"Bearer","exp":1900000900,"iat":1900000000,` +
				`"nbf":1900000000,"sub":"deploy@workload.example.com","aud":["https://api.example.com"],"iss":"https://sts.example.com",` +
				`"jti":"jti-1","roles":["deployer"],"act":{"iss":"https://gitlab.com","sub":"project_path:g/p:ref_type:branch:ref:main"}}`, ""},
		{"a token that is not live is only {\"active\":false} (RFC 7662 §2.2)", nil, fmt.Errorf("%w: expired", engine.ErrInactive),
			"token=" + accessToken, 200, `{"active":false}`, ""},
		{"a missing token is 400 invalid_request (RFC 7662 §2.1)", nil, nil, "token_type_hint=access_token", 400, "", codeInvalidRequest},
		{"an empty token is 400 invalid_request (RFC 6749 §3.2)", nil, nil, "token=", 400, "", codeInvalidRequest},
		{"a repeated token is 400 invalid_request (RFC 6749 §3.2)", nil, nil, "token=a&token=b", 400, "", codeInvalidRequest},
		{"a repeated token_type_hint is 400 invalid_request (RFC 6749 §3.2)", nil, nil, "token=a&token_type_hint=x&token_type_hint=y", 400, "", codeInvalidRequest},
		{"a failing revocation store is 500 server_error", nil, fmt.Errorf("%w: store", engine.ErrInternal), "token=a", 500, "", codeServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.inspector.claims, h.inspector.inspectErr = tc.claims, tc.inspectErr
			rec := h.do(t, tokenPost(pathIntrospect, tc.body))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			assertNoStore(t, rec)
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Error != tc.wantCode {
					t.Fatalf("error %q", e.Error)
				}
				return
			}
			if tc.wantBody != "" && strings.TrimSpace(rec.Body.String()) != tc.wantBody {
				t.Fatalf("body %s\nwant %s", rec.Body, tc.wantBody)
			}
			assertNotLogged(t, h.logs, accessToken)
		})
	}
	t.Run("the token is never read from the URL query", func(t *testing.T) {
		h := newHarness(t)
		rec := h.do(t, tokenPost(pathIntrospect+"?token="+accessToken, ""))
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d", rec.Code)
		}
		if inspected, _ := h.inspector.calls(); len(inspected) != 0 {
			t.Fatal("the engine was asked")
		}
	})
}

func TestRevocationIs200ForAnyWellFormedRequest(t *testing.T) {
	tests := []struct {
		name       string
		revokeErr  error
		body       string
		wantStatus int
		wantCode   string
	}{
		{"a token is revoked and the answer is an empty 200 (RFC 7009 §2.2)", nil, "token=" + accessToken, 200, ""},
		{"token_type_hint is accepted and ignored (RFC 7009 §2.1)", nil, "token=" + accessToken + "&token_type_hint=access_token", 200, ""},
		{"a missing token is 400 invalid_request (RFC 7009 §2.2.1)", nil, "", 400, codeInvalidRequest},
		{"a repeated token is 400 invalid_request (RFC 6749 §3.2)", nil, "token=a&token=b", 400, codeInvalidRequest},
		{"a failing revocation store is 500 server_error, so the caller knows it did not happen", fmt.Errorf("%w: store", engine.ErrInternal),
			"token=" + accessToken, 500, codeServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.inspector.revokeErr = tc.revokeErr
			rec := h.do(t, tokenPost(pathRevoke, tc.body))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			assertNoStore(t, rec)
			if tc.wantCode != "" {
				if e := decodeError(t, rec); e.Error != tc.wantCode {
					t.Fatalf("error %q", e.Error)
				}
				return
			}
			if rec.Body.Len() != 0 {
				t.Fatalf("body %q, want none", rec.Body)
			}
			if _, revoked := h.inspector.calls(); !reflect.DeepEqual(revoked, []string{accessToken}) {
				t.Fatalf("revoked %q", revoked)
			}
		})
	}
}

func TestTokenResponsesAreJSONWithTheRFCFieldNames(t *testing.T) {
	h := newHarness(t)
	h.exchanger.token = &engine.Token{AccessToken: "t", ExpiresIn: 90*time.Second + 500*time.Millisecond}
	rec := h.do(t, formPost(exchangeForm()))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["expires_in"] != float64(90) {
		t.Fatalf("expires_in %v, want 90: rounded down, never longer than the token lives", got["expires_in"])
	}
	if _, ok := got["scope"]; ok {
		t.Fatalf("scope %v present for a token without scopes", got["scope"])
	}
}
