package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/server"
)

func TestScopesAndAudiencesAreNarrowedOrRefusedOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name       string
		params     []string
		wantStatus int
		wantCode   string
		wantScope  string
		wantAud    string
	}{
		{"a subset of the identity's scopes is granted as asked (RFC 6749 §3.3)",
			[]string{"scope", "read"}, 200, "", "read", "https://api.example.com"},
		{"no scope asked for grants all of the identity's", nil, 200, "", "read write", "https://api.example.com"},
		{"a scope the identity lacks is invalid_scope (RFC 6749 §5.2)",
			[]string{"scope", "read admin"}, 400, "invalid_scope", "", ""},
		{"an audience of the identity is granted (RFC 8693 §2.1)",
			[]string{"audience", "https://api.example.com"}, 200, "", "read write", "https://api.example.com"},
		{"an audience the identity lacks is invalid_target (RFC 8693 §2.2.2)",
			[]string{"audience", "https://evil.example.com"}, 400, "invalid_target", "", ""},
		{"one refused audience among allowed ones is invalid_target",
			[]string{"audience", "https://api.example.com", "audience", "https://evil.example.com"}, 400, "invalid_target", "", ""},
		{"requested_token_type jwt is issued as jwt (RFC 8693 §2.2.1)",
			[]string{"requested_token_type", "urn:ietf:params:oauth:token-type:jwt"}, 200, "", "read write", "https://api.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := append([]string{"identity", "gitlab-ci-deploy"}, tc.params...)
			r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil), params...)
			if r.status != tc.wantStatus {
				t.Fatalf("%d %s", r.status, ts.explain(r))
			}
			if tc.wantStatus != 200 {
				if r.body["error"] != tc.wantCode || !strings.Contains(r.body["error_description"].(string), "; decision id ") {
					t.Fatalf("body %v, want %s with a decision id", r.body, tc.wantCode)
				}
				return
			}
			c := ts.verifyIssued(t, r.body["access_token"].(string))
			if c.Scope != tc.wantScope || !slices.Equal(c.Audience, []string{tc.wantAud}) {
				t.Fatalf("scope %q aud %v", c.Scope, c.Audience)
			}
			wantType := "urn:ietf:params:oauth:token-type:access_token"
			if slices.Contains(tc.params, "urn:ietf:params:oauth:token-type:jwt") {
				wantType = "urn:ietf:params:oauth:token-type:jwt"
			}
			if r.body["issued_token_type"] != wantType {
				t.Fatalf("issued_token_type %v, want %s", r.body["issued_token_type"], wantType)
			}
		})
	}
}

func TestJSONExchangeOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	tok := gitlabToken(t, ts.GitLab, nil)
	r := ts.post(t, "/v1/auth:exchangeToken", "application/json",
		`{"token":"`+tok+`","email":"gitlab-ci-deploy@workload.example.com","scopes":["read"],"audience":"https://api.example.com"}`)
	if r.status != 200 || r.body["tokenType"] != "Bearer" || r.body["expiresIn"] != float64(900) || r.body["scope"] != "read" {
		t.Fatalf("%d %s", r.status, ts.explain(r))
	}
	if c := ts.verifyIssued(t, r.body["accessToken"].(string)); c.ClientID != "gitlab-ci-deploy" {
		t.Fatalf("client_id %q", c.ClientID)
	}
	r = ts.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":"`+tok+`","identity":"docs-reader"}`)
	if r.status != 400 || r.body["error"] != "invalid_request" || !decisionDescription.MatchString(r.body["error_description"].(string)) {
		t.Fatalf("a deny on the JSON endpoint: %d %s", r.status, ts.explain(r))
	}
}

func TestAnIssuedTokenVerifiesWithAnOrdinaryOIDCLibraryThroughDiscovery(t *testing.T) {
	ts := newTestServer(t, nil)
	r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil), "identity", "gitlab-ci-deploy")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, ts.explain(r))
	}
	// A downstream service configured with nothing but the issuer URL.
	ctx := oidc.ClientContext(context.Background(), ts.Client)
	provider, err := oidc.NewProvider(ctx, ts.URL)
	if err != nil {
		t.Fatalf("discovery through /.well-known/openid-configuration: %v", err)
	}
	v := provider.Verifier(&oidc.Config{ClientID: "https://api.example.com", SupportedSigningAlgs: []string{oidc.ES256}})
	tok, err := v.Verify(ctx, r.body["access_token"].(string))
	if err != nil {
		t.Fatalf("go-oidc refuses the issued token: %v", err)
	}
	if tok.Subject != "gitlab-ci-deploy@workload.example.com" || tok.Issuer != ts.URL {
		t.Fatalf("sub %q iss %q", tok.Subject, tok.Issuer)
	}
	m := ts.get(t, "/.well-known/oauth-authorization-server")
	if m.body["issuer"] != ts.URL || m.body["token_endpoint"] != ts.URL+"/oauth2/token" {
		t.Fatalf("RFC 8414 metadata %v", m.body)
	}
}

func TestWhoamiIntrospectAndRevokeRoundTrip(t *testing.T) {
	ts := newTestServer(t, nil)
	source := gitlabToken(t, ts.GitLab, nil)
	r := ts.exchange(t, source, "identity", "gitlab-ci-deploy", "scope", "read")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, ts.explain(r))
	}
	issued := r.body["access_token"].(string)
	introspect := func(token string) response {
		t.Helper()
		return ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
	}
	revoke := func(token string) response {
		t.Helper()
		return ts.post(t, "/oauth2/revoke", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
	}
	whoami := func(token string) response {
		t.Helper()
		return ts.get(t, "/v1/whoami", "Authorization", "Bearer "+token)
	}
	inactive := func(t *testing.T, r response) {
		t.Helper()
		if r.status != 200 || r.raw != "{\"active\":false}\n" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %q, want exactly {\"active\":false} (RFC 7662 §2.2)", r.status, r.raw)
		}
	}
	unauthorized := func(t *testing.T, r response) {
		t.Helper()
		if r.status != 401 || r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` || r.body["error"] != "invalid_token" {
			t.Fatalf("%d %s %q, want 401 invalid_token (RFC 6750 §3.1)", r.status, r.body, r.header.Get("WWW-Authenticate"))
		}
	}

	t.Run("whoami tells a live token's identity, roles, scopes and expiry", func(t *testing.T) {
		r := whoami(issued)
		if r.status != 200 || r.body["identity"] != "gitlab-ci-deploy" || r.body["subject"] != "gitlab-ci-deploy@workload.example.com" ||
			r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %s", r.status, ts.explain(r))
		}
		if !slices.Equal(toStrings(r.body["roles"]), []string{"gitops-service-agent"}) || !slices.Equal(toStrings(r.body["scopes"]), []string{"read"}) {
			t.Fatalf("roles %v scopes %v", r.body["roles"], r.body["scopes"])
		}
		exp, err := time.Parse(time.RFC3339, r.body["expires_at"].(string))
		if err != nil || time.Until(exp) > 15*time.Minute || time.Until(exp) < 14*time.Minute {
			t.Fatalf("expires_at %v (%v)", r.body["expires_at"], err)
		}
	})
	t.Run("introspection of a live token is active with its claims (RFC 7662 §2.2)", func(t *testing.T) {
		r := introspect(issued)
		c := ts.verifyIssued(t, issued)
		if r.status != 200 || r.body["active"] != true || r.body["sub"] != c.Subject || r.body["client_id"] != "gitlab-ci-deploy" ||
			r.body["scope"] != "read" || r.body["token_type"] != "Bearer" || r.body["iss"] != ts.URL || r.body["jti"] != c.ID ||
			r.body["exp"] != float64(c.Expiry) || r.body["iat"] != float64(c.IssuedAt) || r.body["nbf"] != float64(c.NotBefore) ||
			!slices.Equal(toStrings(r.body["aud"]), c.Audience) || !slices.Equal(toStrings(r.body["roles"]), c.Roles) {
			t.Fatalf("%d %s", r.status, ts.explain(r))
		}
	})
	t.Run("the subject token is not a token this server issued", func(t *testing.T) {
		inactive(t, introspect(source))
		unauthorized(t, whoami(source))
	})
	t.Run("a garbage token is inactive, and revoking it is still 200 (RFC 7009 §2.2)", func(t *testing.T) {
		inactive(t, introspect("garbage"))
		if r := revoke("garbage"); r.status != 200 || r.raw != "" {
			t.Fatalf("%d %q", r.status, r.raw)
		}
	})
	t.Run("a revoked token is refused by introspection and whoami (RFC 7009 §2.1)", func(t *testing.T) {
		if r := revoke(issued); r.status != 200 || r.raw != "" || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%d %q", r.status, r.raw)
		}
		inactive(t, introspect(issued))
		unauthorized(t, whoami(issued))
		if r := revoke(issued); r.status != 200 {
			t.Fatalf("revoking twice: %d", r.status)
		}
	})
	t.Run("another token of the same identity stays live", func(t *testing.T) {
		r := ts.exchange(t, source, "identity", "gitlab-ci-deploy")
		if got := introspect(r.body["access_token"].(string)); got.body["active"] != true {
			t.Fatalf("%v", got.body)
		}
	})
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestRateLimitsAre429WithRetryAfter(t *testing.T) {
	t.Run("per client IP, before the token is even verified", func(t *testing.T) {
		ts := newTestServer(t, func(o *Options) {
			o.Server = func(c *server.Config) { c.ClientRate, c.ClientBurst = 0.01, 2 }
		})
		tok := gitlabToken(t, ts.GitLab, nil)
		for i := range 2 {
			if r := ts.exchange(t, tok); r.status != 200 {
				t.Fatalf("exchange %d within the burst: %d %s", i, r.status, ts.explain(r))
			}
		}
		r := ts.exchange(t, tok)
		assert429(t, r, false)
		if !strings.Contains(metricsText(t, ts), `trustgate_http_rate_limited_total{endpoint="/oauth2/token",limit="client"} 1`) {
			t.Fatal("the client limit was not counted")
		}
	})
	t.Run("per token subject, with a decision id", func(t *testing.T) {
		ts := newTestServer(t, func(o *Options) {
			o.Engine = func(c *engine.Config) { c.SubjectRate, c.SubjectBurst = 0.01, 1 }
		})
		if r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil)); r.status != 200 {
			t.Fatalf("first exchange: %d %s", r.status, ts.explain(r))
		}
		r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
		assert429(t, r, true)
		other := gitlabToken(t, ts.GitLab, map[string]any{"project_path": "my-group/web", "sub": "project_path:my-group/web:ref_type:branch:ref:main"})
		if r := ts.exchange(t, other); r.status != 200 {
			t.Fatalf("another subject is not limited: %d %s", r.status, ts.explain(r))
		}
		if !strings.Contains(metricsText(t, ts), `trustgate_http_rate_limited_total{endpoint="/oauth2/token",limit="subject"} 1`) {
			t.Fatal("the subject limit was not counted")
		}
	})
}

func assert429(t *testing.T, r response, withDecision bool) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.body["error"] != "slow_down" {
		t.Fatalf("%d %v, want 429 slow_down", r.status, r.body)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" || strings.ContainsAny(ra, ".-") {
		t.Fatalf("Retry-After %q, want whole seconds >= 1 (RFC 9110 §10.2.3)", ra)
	}
	if got := strings.Contains(r.body["error_description"].(string), "decision id"); got != withDecision {
		t.Fatalf("error_description %q: decision id present = %v, want %v", r.body["error_description"], got, withDecision)
	}
}

func metricsText(t testing.TB, ts *testServer) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ts.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServerSideFailuresAre5xxAndNeverAToken(t *testing.T) {
	t.Run("with no policy loaded an exchange is 500 server_error and readiness fails (DESIGN §6)", func(t *testing.T) {
		ts := newTestServer(t, func(o *Options) { o.NoPolicy = true })
		r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
		if r.status != 500 || r.body["error"] != "server_error" || r.body["access_token"] != nil ||
			!strings.HasPrefix(r.body["error_description"].(string), "internal error; decision id ") {
			t.Fatalf("%d %v", r.status, r.body)
		}
		if r := ts.get(t, "/readyz"); r.status != 503 || r.body["reason"] != "no policy loaded" {
			t.Fatalf("readyz %d %v", r.status, r.body)
		}
		if r := ts.get(t, "/v1/policy"); r.status != 200 || r.body["loaded"] != false {
			t.Fatalf("/v1/policy %d %v", r.status, r.body)
		}
		if ts.Logs.FilterMessage("request failed").FilterLevelExact(zap.ErrorLevel).Len() != 1 {
			t.Fatal("the 500 was not logged at Error")
		}
	})
	t.Run("issuer keys that cannot be fetched are 503 temporarily_unavailable with Retry-After", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ts.GitLab.ServeJWKS([]byte("this is not a JWKS"))
		r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
		if r.status != 503 || r.body["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") != "30" {
			t.Fatalf("%d %v Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
		}
	})
}

func TestReadinessAndPolicyStatusOverHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	if r := ts.get(t, "/readyz"); r.status != 200 {
		t.Fatalf("readyz %d %v", r.status, r.body)
	}
	r := ts.get(t, "/v1/policy")
	bundles, _ := r.body["bundles"].([]any)
	if r.status != 200 || r.body["loaded"] != true || r.body["loaded_at"] == nil || len(bundles) != 1 {
		t.Fatalf("/v1/policy %d %v", r.status, r.body)
	}
	if r := ts.exchange(t, gitlabToken(t, ts.GitLab, nil)); r.closed {
		t.Fatal("a server in service closes keep-alive connections")
	}
	ts.Server.Drain()
	if r := ts.get(t, "/readyz"); r.status != 503 || r.body["reason"] != "draining" {
		t.Fatalf("readyz while draining %d %v", r.status, r.body)
	}
	r = ts.exchange(t, gitlabToken(t, ts.GitLab, nil))
	if r.status != 200 {
		t.Fatalf("a draining server stops serving exchanges: %d", r.status)
	}
	if !r.closed {
		t.Fatal("a draining server answers without Connection: close: keep-alive clients stay on it")
	}
}

// jwtShaped matches a compact JWS or a base64url JSON header anywhere.
var jwtShaped = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}`)

func TestNoTokenReachesAnyLogWhateverTheRequest(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Server = func(c *server.Config) { c.RevealReasons = true } })
	good := gitlabToken(t, ts.GitLab, nil)
	denied := gitlabToken(t, ts.GitLab, map[string]any{"ref": "feature"})
	issued, _ := ts.exchange(t, good).body["access_token"].(string)
	if issued == "" {
		t.Fatal("no token issued")
	}
	// Every way a token can be sent, right or wrong.
	ts.exchange(t, denied, "identity", "gitlab-ci-deploy")
	ts.exchange(t, good+"x")
	ts.exchange(t, issued) // our own token as a subject token
	ts.exchange(t, good, "scope", "admin")
	ts.exchange(t, good, "audience", "https://evil.example.com")
	ts.post(t, "/oauth2/token?subject_token="+good, "application/x-www-form-urlencoded", "grant_type=x")
	ts.post(t, "/oauth2/token", "application/x-www-form-urlencoded", "grant_type=password&subject_token="+good)
	ts.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":"`+good+`","`+good+`":1}`)
	ts.post(t, "/v1/auth:exchangeToken", "application/json", `{"token":"`+denied+`"}`)
	ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", "token="+issued)
	ts.post(t, "/oauth2/introspect", "application/x-www-form-urlencoded", "token="+good)
	ts.post(t, "/oauth2/revoke", "application/x-www-form-urlencoded", "token="+issued)
	ts.get(t, "/v1/whoami", "Authorization", "Bearer "+issued)
	ts.get(t, "/v1/whoami", "Authorization", "Basic "+good)
	ts.get(t, "/v1/whoami?access_token="+issued)
	ts.get(t, "/"+good)
	ts.get(t, "/oauth2/token?subject_token="+good)

	entries := ts.Logs.All()
	if len(entries) < 10 {
		t.Fatalf("only %d log lines: the scan would prove little", len(entries))
	}
	var segments []string
	for _, tok := range []string{good, denied, issued} {
		segments = append(segments, strings.Split(tok, ".")...)
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range entries {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		if m := jwtShaped.FindString(line); m != "" {
			t.Errorf("a log line holds something token-shaped (%.12s...): %s", m, e.Message)
		}
		for _, seg := range segments {
			if len(seg) >= 8 && strings.Contains(line, seg) {
				t.Errorf("a log line holds a token segment: %s", e.Message)
			}
		}
	}
}

func BenchmarkExchangeHTTP(b *testing.B) {
	ts := newTestServer(b, func(o *Options) { o.Quiet = true })
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {gitlabToken(b, ts.GitLab, nil)},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
		"identity":           {"gitlab-ci-deploy"},
		"scope":              {"read"},
	}.Encode()
	exchange := func() error {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, ts.URL+"/oauth2/token", strings.NewReader(form))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := ts.Client.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		return nil
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := exchange(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := exchange(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
