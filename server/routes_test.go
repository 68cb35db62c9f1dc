package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
)

func TestOtherMethodsAre405WithTheAllowedOnes(t *testing.T) {
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodGet, pathToken, "POST"},
		{http.MethodPut, pathExchangeJSON, "POST"},
		{http.MethodGet, pathIntrospect, "POST"},
		{http.MethodDelete, pathRevoke, "POST"},
		{http.MethodPost, pathWhoami, "GET, HEAD"},
		{http.MethodPost, pathOpenIDConfig, "GET, HEAD"},
		{http.MethodPut, pathOAuthMetadata, "GET, HEAD"},
		{http.MethodDelete, pathJWKS, "GET, HEAD"},
		{http.MethodPost, pathHealthz, "GET, HEAD"},
		{http.MethodOptions, pathReadyz, "GET, HEAD"},
		{http.MethodPatch, pathPolicy, "GET, HEAD"},
		{http.MethodPost, pathMetrics, "GET, HEAD"},
		{"BREW", pathToken, "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path+" is 405 with Allow: "+tc.allow+" (RFC 9110 §15.5.6)", func(t *testing.T) {
			h := newHarness(t)
			rec := h.do(t, request{method: tc.method, target: tc.path})
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("Allow"); got != tc.allow {
				t.Fatalf("Allow = %q, want %q", got, tc.allow)
			}
			assertNoStore(t, rec)
			if e := decodeError(t, rec); e.Error != codeMethodNotAllowed {
				t.Fatalf("error %q", e.Error)
			}
		})
	}
}

func TestUnknownPathsAre404JSONAndThePathIsNeverLogged(t *testing.T) {
	paths := []struct{ name, path string }{
		{"a path the API does not have", "/nope"},
		{"a known path with a trailing slash", pathToken + "/"},
		{"a known path with a doubled slash, not cleaned or redirected", "/" + pathToken},
		{"a known path in another case", strings.ToUpper(pathToken)},
		{"a path with dot segments, not cleaned", "/v1/x/.." + pathPolicy[3:]},
		{"a path carrying a token", "/" + subjectToken},
		{"the root", "/"},
	}
	for _, tc := range paths {
		t.Run(tc.name+" is 404", func(t *testing.T) {
			h := newHarness(t)
			rec := h.do(t, request{method: http.MethodPost, target: tc.path, contentType: formMediaType, body: exchangeForm()})
			if rec.Code != http.StatusNotFound {
				t.Fatalf("status %d", rec.Code)
			}
			assertNoStore(t, rec)
			if e := decodeError(t, rec); e.Error != codeNotFound {
				t.Fatalf("error %q", e.Error)
			}
			if calls := h.exchanger.calls(); len(calls) != 0 {
				t.Fatal("engine called")
			}
			entries := h.logs.FilterMessage("request refused").All()
			if len(entries) != 1 || entries[0].ContextMap()["endpoint"] != endpointUnknown {
				t.Fatalf("logs %v, want one Warn with endpoint %q", h.logs.All(), endpointUnknown)
			}
			assertNotLogged(t, h.logs, subjectToken)
			if got := counterValue(t, h.srv.metrics.requests.WithLabelValues(endpointUnknown, "404")); got != 1 {
				t.Fatalf("trustgate_http_requests_total{endpoint=unknown,code=404} = %v", got)
			}
		})
	}
}

func TestGetEndpointsAnswerHeadWithoutABody(t *testing.T) {
	h := newHarness(t)
	rec := h.do(t, request{method: http.MethodHead, target: pathHealthz})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
}

func TestMetadataIsRFC8414WithTheIssuersEndpoints(t *testing.T) {
	h := newHarness(t)
	h.discovery.issuer = "https://sts.example.com/tenant/"
	h.discovery.jwks = jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicKey(t, "k1", "ES256"), publicKey(t, "k2", "ES256"), publicKey(t, "k3", "EdDSA")}}
	base := map[string]any{
		"issuer":                                "https://sts.example.com/tenant/",
		"token_endpoint":                        "https://sts.example.com/tenant/oauth2/token",
		"introspection_endpoint":                "https://sts.example.com/tenant/oauth2/introspect",
		"revocation_endpoint":                   "https://sts.example.com/tenant/oauth2/revoke",
		"jwks_uri":                              "https://sts.example.com/tenant/.well-known/jwks.json",
		"grant_types_supported":                 []any{grantTokenExchange},
		"response_types_supported":              []any{},
		"token_endpoint_auth_methods_supported": []any{"none"},
		"introspection_endpoint_auth_methods_supported": []any{"none"},
		"revocation_endpoint_auth_methods_supported":    []any{"none"},
	}
	oidc := map[string]any{"subject_types_supported": []any{"public"}, "id_token_signing_alg_values_supported": []any{"ES256", "EdDSA"}}
	tests := []struct {
		name  string
		path  string
		extra map[string]any
	}{
		{"oauth-authorization-server has the RFC 8414 §2 fields and the issuer exactly (RFC 8414 §3.3)", pathOAuthMetadata, nil},
		{"openid-configuration adds the signing algorithms of the JWKS (OpenID Connect Discovery §3)", pathOpenIDConfig, oidc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.do(t, request{method: http.MethodGet, target: tc.path})
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			if cc := rec.Header().Get("Cache-Control"); cc != cacheableFor || rec.Header().Get("Pragma") != "" {
				t.Fatalf("Cache-Control %q Pragma %q: metadata may be cached", cc, rec.Header().Get("Pragma"))
			}
			var got map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{}
			for k, v := range base {
				want[k] = v
			}
			for k, v := range tc.extra {
				want[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("metadata\n got %v\nwant %v", got, want)
			}
		})
	}
}

func publicKey(t *testing.T, kid, alg string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: alg, Use: "sig"}
}

func TestJWKSServesPublicKeysOnly(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.discovery.jwks = jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		publicKey(t, "public", "ES256"),
		{Key: priv, KeyID: "private", Algorithm: "ES256", Use: "sig"},
		{Key: []byte("a shared secret"), KeyID: "symmetric", Algorithm: "HS256"},
	}}
	rec := h.do(t, request{method: http.MethodGet, target: pathJWKS})
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != cacheableFor {
		t.Fatalf("status %d Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 2 {
		t.Fatalf("%d keys served, want the public one and the public part of the private one: %s", len(raw.Keys), rec.Body)
	}
	for _, k := range raw.Keys {
		if _, ok := k["d"]; ok {
			t.Fatalf("a private part is served: %v", k)
		}
		if _, ok := k["k"]; ok {
			t.Fatalf("a symmetric key is served: %v", k)
		}
	}
	if h.logs.FilterMessage("JWKS key without a public part not served").Len() != 1 {
		t.Fatalf("the symmetric key was not logged: %v", h.logs.All())
	}
}

func TestReadinessFollowsTheEngineAndDrainButLivenessDoesNot(t *testing.T) {
	h := newHarness(t)
	check := func(path string, want int, wantBody string) {
		t.Helper()
		rec := h.do(t, request{method: http.MethodGet, target: path})
		if rec.Code != want || strings.TrimSpace(rec.Body.String()) != wantBody {
			t.Fatalf("%s: %d %s, want %d %s", path, rec.Code, rec.Body, want, wantBody)
		}
	}
	check(pathReadyz, 200, `{"status":"ready"}`)
	h.status.ready = engine.ErrNoPolicy
	check(pathReadyz, 503, `{"status":"not ready","reason":"no policy loaded"}`)
	h.status.ready = errors.New("no signing keys")
	check(pathReadyz, 503, `{"status":"not ready","reason":"engine not ready"}`)
	h.status.ready = nil
	h.srv.Drain()
	check(pathReadyz, 503, `{"status":"not ready","reason":"draining"}`)
	check(pathHealthz, 200, `{"status":"ok"}`)
	if rec := h.do(t, formPost(exchangeForm())); rec.Code != http.StatusOK {
		t.Fatalf("a draining server still serves exchanges in flight and after: status %d", rec.Code)
	}
}

func TestPolicyStatusShowsRevisionsLoadTimeAndTheLastRefusedReload(t *testing.T) {
	loaded := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name   string
		status engine.PolicyStatus
		want   string
	}{
		{"no policy yet shows loaded false and no bundles", engine.PolicyStatus{}, `{"loaded":false,"bundles":[]}`},
		{"a loaded policy shows its bundles' revisions and when, in UTC",
			engine.PolicyStatus{Loaded: true, LoadedAt: loaded, Revisions: []policy.Revision{{Path: "/etc/b", Revision: "r7"}}},
			`{"loaded":true,"loaded_at":"2026-11-23T09:00:00Z","bundles":[{"bundle":"/etc/b","revision":"r7"}]}`},
		{"a refused reload shows its error while the last good policy serves",
			engine.PolicyStatus{Loaded: true, LoadedAt: loaded, Revisions: []policy.Revision{{Path: "/etc/b", Revision: "r7"}},
				LastError: "data.yaml: trustgate.identities.x.ttl: bad duration", LastErrorAt: loaded.Add(time.Minute)},
			`{"loaded":true,"loaded_at":"2026-11-23T09:00:00Z","bundles":[{"bundle":"/etc/b","revision":"r7"}],` +
				`"last_error":"data.yaml: trustgate.identities.x.ttl: bad duration","last_error_at":"2026-11-23T09:01:00Z"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.status.status = tc.status
			rec := h.do(t, request{method: http.MethodGet, target: pathPolicy})
			if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != tc.want {
				t.Fatalf("%d %s, want %s", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func TestMetricsCountRequestsByEndpointAndCode(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, func(c *Config) { c.Registerer = reg })
	h.do(t, formPost(exchangeForm()))
	h.do(t, formPost("grant_type=x"))
	h.do(t, request{method: http.MethodGet, target: pathHealthz})
	rec := h.do(t, request{method: http.MethodGet, target: pathMetrics})
	if rec.Code != 200 {
		t.Fatalf("/metrics status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`trustgate_http_requests_total{code="200",endpoint="/oauth2/token"} 1`,
		`trustgate_http_requests_total{code="400",endpoint="/oauth2/token"} 1`,
		`trustgate_http_requests_total{code="200",endpoint="/healthz"} 1`,
		`trustgate_http_request_duration_seconds_count{endpoint="/oauth2/token"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "trustgate_http_") {
			t.Errorf("metric %s is not named trustgate_http_...", mf.GetName())
		}
	}
}

func TestMetricsAreNotServedWithoutAGatherer(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Registerer = prometheus.WrapRegistererWithPrefix("", prometheus.NewRegistry()) })
	if rec := h.do(t, request{method: http.MethodGet, target: pathMetrics}); rec.Code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", rec.Code)
	}
}

func TestNewRefusesABadConfigNamingEveryProblem(t *testing.T) {
	_, err := New(Config{MaxBodyBytes: -1, ClientRate: -1, ClientBurst: -1})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Exchanger is required", "Inspector is required", "Discovery is required", "Status is required", "MaxBodyBytes", "ClientRate", "ClientBurst"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestTwoServersOnOneRegistryIsAnErrorNotAPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(withFakes(Config{Registerer: reg})); err != nil {
		t.Fatal(err)
	}
	if _, err := New(withFakes(Config{Registerer: reg})); err == nil {
		t.Fatal("a second registration succeeded")
	}
}

func TestHTTPServerHasTimeoutsAgainstSlowClients(t *testing.T) {
	h := newHarness(t)
	hs := h.srv.HTTPServer("127.0.0.1:0")
	if hs.ReadHeaderTimeout != 5*time.Second || hs.ReadTimeout != 10*time.Second || hs.WriteTimeout != 15*time.Second ||
		hs.IdleTimeout != 60*time.Second || hs.MaxHeaderBytes != 16<<10 || hs.Handler == nil || hs.ErrorLog == nil {
		t.Fatalf("http.Server %+v", hs)
	}
}

func TestClientRateLimitAppliesToExchangesOnly(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ClientRate, c.ClientBurst = 0.001, 1 })
	h.inspector.claims = nil
	if rec := h.do(t, formPost(exchangeForm())); rec.Code != http.StatusOK {
		t.Fatalf("first exchange: %d", rec.Code)
	}
	for _, req := range []request{formPost(exchangeForm()), jsonPost(`{"token":"x"}`)} {
		rec := h.do(t, req)
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("%s over the limit: %d", req.target, rec.Code)
		}
		if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		if e := decodeError(t, rec); e.Error != codeSlowDown || e.Description != descRateLimited {
			t.Fatalf("error %+v", e)
		}
	}
	if got := counterValue(t, h.srv.metrics.rateLimited.WithLabelValues(pathToken, "client")); got != 1 {
		t.Fatalf("trustgate_http_rate_limited_total{endpoint=/oauth2/token,limit=client} = %v", got)
	}
	introspect := request{method: http.MethodPost, target: pathIntrospect, contentType: formMediaType, body: "token=x"}
	if rec := h.do(t, introspect); rec.Code != http.StatusOK {
		t.Fatalf("introspection is not rate limited per client: %d", rec.Code)
	}
	if calls := h.exchanger.calls(); len(calls) != 1 {
		t.Fatalf("the engine saw %d exchanges, want only the first", len(calls))
	}
}

func TestRateLimitKeysGroupIPv6ByPrefix(t *testing.T) {
	tests := []struct{ name, ip, want string }{
		{"an IPv4 address is its own key", "192.0.2.7", "192.0.2.7"},
		{"an IPv4-mapped IPv6 address is the IPv4 address", "::ffff:192.0.2.7", "192.0.2.7"},
		{"an IPv6 address is keyed by its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"an IPv6 address with a zone is keyed by its /64", "fe80::1%eth0", "fe80::/64"},
		{"something that is not an address is its own key", "pipe", "pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rateKey(tc.ip); got != tc.want {
				t.Fatalf("rateKey(%q) = %q, want %q", tc.ip, got, tc.want)
			}
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
