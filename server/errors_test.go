package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/server/console"
)

const decisionID = "0f8fad5b-d9cb-469f-a165-70867728950e"

func TestEngineErrorsMapToOAuthErrorResponses(t *testing.T) {
	refused := &engine.Error{DecisionID: decisionID, Reasons: []string{"ref main is not protected"}, Err: engine.ErrDenied}
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantCode       string
		wantDesc       string
		wantRetryAfter string
		wantLevel      zapcore.Level
	}{
		{"an invalid subject token is 400 invalid_request (DESIGN §6, RFC 8693 §2.2.2)",
			&engine.Error{DecisionID: decisionID, Err: engine.ErrInvalidToken},
			400, codeInvalidRequest, descRefused + "; decision id " + decisionID, "", zap.WarnLevel},
		{"a policy deny is 400 invalid_request with the same words as an invalid token (DESIGN §6)",
			refused, 400, codeInvalidRequest, descRefused + "; decision id " + decisionID, "", zap.WarnLevel},
		{"a refused scope is 400 invalid_scope (RFC 6749 §5.2)",
			&engine.Error{DecisionID: decisionID, Err: engine.ErrInvalidScope},
			400, codeInvalidScope, descScope + "; decision id " + decisionID, "", zap.WarnLevel},
		{"a refused audience is 400 invalid_target (RFC 8693 §2.2.2)",
			&engine.Error{DecisionID: decisionID, Err: engine.ErrInvalidTarget},
			400, codeInvalidTarget, descTarget + "; decision id " + decisionID, "", zap.WarnLevel},
		{"a rate-limited subject is 429 with Retry-After in whole seconds rounded up (RFC 6585 §4, RFC 9110 §10.2.3)",
			&engine.Error{DecisionID: decisionID, RetryAfter: 1500 * time.Millisecond, Err: engine.ErrRateLimited},
			429, codeSlowDown, descRateLimited + "; decision id " + decisionID, "2", zap.WarnLevel},
		{"a rate-limited subject without a wait still gets Retry-After: 1",
			&engine.Error{DecisionID: decisionID, Err: engine.ErrRateLimited},
			429, codeSlowDown, descRateLimited + "; decision id " + decisionID, "1", zap.WarnLevel},
		{"no loaded policy is 500 server_error (DESIGN §6)",
			&engine.Error{DecisionID: decisionID, Err: engine.ErrNoPolicy},
			500, codeServerError, descServer + "; decision id " + decisionID, "", zap.ErrorLevel},
		{"a failed evaluation is 500 server_error (DESIGN §6)",
			&engine.Error{DecisionID: decisionID, Err: fmt.Errorf("%w: eval timeout", engine.ErrInternal)},
			500, codeServerError, descServer + "; decision id " + decisionID, "", zap.ErrorLevel},
		{"unavailable issuer keys are 503 temporarily_unavailable with Retry-After: 30, logged at Debug (the outage has its own log)",
			&engine.Error{DecisionID: decisionID, Err: engine.ErrUnavailable},
			503, codeUnavailable, descUnavailable + "; decision id " + decisionID, "30", zap.DebugLevel},
		{"a state store that cannot answer is 503 temporarily_unavailable with Retry-After: 5 (DESIGN §11), logged at Debug",
			&engine.Error{DecisionID: decisionID, Err: fmt.Errorf("%w: replay store down", engine.ErrStateUnavailable)},
			503, codeUnavailable, descNoState + "; decision id " + decisionID, "5", zap.DebugLevel},
		{"unavailable issuer keys keep the engine's Retry-After when it gives one",
			&engine.Error{DecisionID: decisionID, RetryAfter: 10 * time.Second, Err: engine.ErrUnavailable},
			503, codeUnavailable, descUnavailable + "; decision id " + decisionID, "10", zap.DebugLevel},
		{"no evaluation slot in time is 503 temporarily_unavailable with Retry-After: 1",
			&engine.Error{DecisionID: decisionID, RetryAfter: time.Second, Err: fmt.Errorf("%w: no slot", engine.ErrOverloaded)},
			503, codeUnavailable, descOverloaded + "; decision id " + decisionID, "1", zap.ErrorLevel},
		{"an unreachable console IdP is 503 temporarily_unavailable with Retry-After: 30",
			fmt.Errorf("%w: dial tcp: connection refused", console.ErrIdPUnavailable),
			503, codeUnavailable, descNoIdP, "30", zap.ErrorLevel},
		{"an internal error wrapping an invalid token is still the server's fault: 500",
			&engine.Error{DecisionID: decisionID, Err: fmt.Errorf("%w: %w", engine.ErrInternal, engine.ErrInvalidToken)},
			500, codeServerError, descServer + "; decision id " + decisionID, "", zap.ErrorLevel},
		{"an error the server does not know fails closed as 500 server_error",
			errors.New("something new"),
			500, codeServerError, descServer, "", zap.ErrorLevel},
		{"a canceled request is logged at Warn, not Error",
			&engine.Error{DecisionID: decisionID, Err: fmt.Errorf("%w: %w", engine.ErrInternal, context.Canceled)},
			500, codeServerError, descServer + "; decision id " + decisionID, "", zap.WarnLevel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.exchanger.exchangeFn = func(engine.Request) (*engine.Token, error) { return nil, tc.err }
			canceled := tc.wantLevel == zap.WarnLevel && tc.wantStatus >= 500
			rec := h.doCanceled(t, formPost(exchangeForm()), canceled)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			assertNoStore(t, rec)
			e := decodeError(t, rec)
			if e.Error != tc.wantCode || e.Description != tc.wantDesc {
				t.Fatalf("error = %q %q, want %q %q", e.Error, e.Description, tc.wantCode, tc.wantDesc)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.wantRetryAfter {
				t.Fatalf("Retry-After = %q, want %q", got, tc.wantRetryAfter)
			}
			entries := h.logs.FilterLevelExact(tc.wantLevel).All()
			if len(entries) != 1 {
				t.Fatalf("%d log lines at %s, want 1: %v", len(entries), tc.wantLevel, h.logs.All())
			}
			fields := entries[0].ContextMap()
			if fields["endpoint"] != pathToken || fields["client_ip"] != "192.0.2.1" || fields["error_code"] != tc.wantCode {
				t.Fatalf("log fields %v", fields)
			}
			var ee *engine.Error
			switch {
			case errors.As(tc.err, &ee) && fields["decision_id"] != decisionID:
				t.Fatalf("log fields %v lack the decision id", fields)
			case ee == nil && fields["error"] != tc.err.Error():
				t.Fatalf("log fields %v lack the server-side cause", fields)
			case ee != nil && fields["error"] != nil:
				t.Fatalf("log fields %v repeat the cause the decision log holds", fields)
			}
			assertNotLogged(t, h.logs, subjectToken)
			assertNotLogged(t, h.logs, "ref main is not protected") // reasons are the decision log's
		})
	}
}

// doCanceled serves req with an already canceled context when cancel is set.
func (h *harness) doCanceled(t *testing.T, req request, cancel bool) *httptest.ResponseRecorder {
	t.Helper()
	if !cancel {
		return h.do(t, req)
	}
	r := newRequest(t, req)
	ctx, stop := context.WithCancel(r.Context())
	stop()
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, r.WithContext(ctx))
	return rec
}

func TestRevealReasonsAppendsDenyReasonsOnlyWhenConfiguredAndOnlyTo4xx(t *testing.T) {
	reasons := []string{`ref "main" is not protected`, "project é/x\\y has\nno federation"}
	tests := []struct {
		name     string
		reveal   bool
		err      error
		wantDesc string
	}{
		{"without RevealReasons a deny says only that it was refused",
			false, &engine.Error{DecisionID: decisionID, Reasons: reasons, Err: engine.ErrDenied},
			descRefused + "; decision id " + decisionID},
		{"with RevealReasons a deny carries its reasons in RFC 6749 §5.2 error_description characters",
			true, &engine.Error{DecisionID: decisionID, Reasons: reasons, Err: engine.ErrDenied},
			descRefused + "; decision id " + decisionID + "; reasons: ref 'main' is not protected; project ?/x/y has?no federation"},
		{"with RevealReasons a server error still says nothing of its cause",
			true, &engine.Error{DecisionID: decisionID, Reasons: []string{"opa: eval_cancel_error"}, Err: engine.ErrInternal},
			descServer + "; decision id " + decisionID},
		{"with RevealReasons very long reasons are cut to 1024 bytes",
			true, &engine.Error{DecisionID: decisionID, Reasons: []string{strings.Repeat("r", 4000)}, Err: engine.ErrDenied},
			(descRefused + "; decision id " + decisionID + "; reasons: " + strings.Repeat("r", 4000))[:maxDescription]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.RevealReasons = tc.reveal })
			h.exchanger.exchangeFn = func(engine.Request) (*engine.Token, error) { return nil, tc.err }
			rec := h.do(t, formPost(exchangeForm()))
			if e := decodeError(t, rec); e.Description != tc.wantDesc {
				t.Fatalf("error_description = %q, want %q", e.Description, tc.wantDesc)
			}
		})
	}
}

func TestErrorDescriptionsAreWithinRFC6749Characters(t *testing.T) {
	descs := []string{descRefused, descScope, descTarget, descRateLimited, descUnavailable, descServer, descInactive,
		descNoToken, descTooLarge, descNotFound, descMethod, descQuery, descFormType, descJSONType, descFormSyntax,
		descUnreadable, descUTF8, descScopeSyntax, descTooManyItems, descGrantMissing, descGrant, descSubjectToken,
		descSubjectTokenType, descRequestedTokenType, descActor, descResource, descJSONSyntax, descJSONUnknown,
		descJSONDuplicate, descJSONTrailing, descJSONUTF8, descJSONString, descJSONScopes, descJSONToken,
		descJSONIdentity, descTokenMissing}
	for _, d := range descs {
		if strings.Map(descriptionRune, d) != d {
			t.Errorf("%q has characters RFC 6749 §5.2 does not allow in error_description", d)
		}
	}
}

func TestRetryAfterIsWholeSecondsRoundedUpAndAtLeastOne(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want int64
	}{
		{"no wait is one second", 0, 1},
		{"a millisecond is one second", time.Millisecond, 1},
		{"exactly one second is one second", time.Second, 1},
		{"a second and a nanosecond is two seconds", time.Second + 1, 2},
		{"ninety seconds stay ninety", 90 * time.Second, 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryAfterSeconds(tc.in); got != tc.want {
				t.Fatalf("retryAfterSeconds(%s) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestAPanickingHandlerIsA500AndTheServerKeepsServing(t *testing.T) {
	h := newHarness(t)
	// A panic's value may hold request data: here, the subject token.
	h.exchanger.exchangeFn = func(r engine.Request) (*engine.Token, error) { panic("cannot use " + r.SubjectToken) }
	rec := h.do(t, formPost(exchangeForm()))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
	assertNoStore(t, rec)
	if e := decodeError(t, rec); e.Error != codeServerError {
		t.Fatalf("error %q", e.Error)
	}
	if h.logs.FilterMessage("handler panicked").Len() != 1 {
		t.Fatalf("the panic was not logged: %v", h.logs.All())
	}
	assertNotLogged(t, h.logs, subjectToken)
	h.exchanger.exchangeFn = nil
	if rec := h.do(t, formPost(exchangeForm())); rec.Code != http.StatusOK {
		t.Fatalf("after a panic: status %d", rec.Code)
	}
}
