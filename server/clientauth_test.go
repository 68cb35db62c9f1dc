package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/mint"
)

// Introspection clients of the tests: the second has characters that RFC
// 6749 §2.3.1's form encoding changes.
const (
	rsID      = "resource-server"
	rsSecret  = "a-secret-of-resource-server"
	oddID     = "team a:b&c"
	oddSecret = "p+q/r:s%t u"
)

func introspectionClients(c *Config) {
	c.IntrospectionClients = []IntrospectionClient{{ID: rsID, Secret: rsSecret}, {ID: oddID, Secret: oddSecret}}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func introspectWith(auth ...string) request {
	req := request{method: http.MethodPost, target: pathIntrospect, contentType: formMediaType, body: "token=the.issued.token", header: http.Header{}}
	for _, a := range auth {
		req.header.Add("Authorization", a)
	}
	return req
}

func TestIntrospectionWithClientsConfiguredNeedsAnAuthenticatedClient(t *testing.T) {
	formEncoded := basic(url.QueryEscape(oddID), url.QueryEscape(oddSecret))
	refused := []struct {
		name string
		req  request
	}{
		{"a call without credentials is refused", introspectWith()},
		{"a wrong secret is refused", introspectWith(basic(rsID, rsSecret+"x"))},
		{"a secret that is a prefix of the right one is refused", introspectWith(basic(rsID, rsSecret[:10]))},
		{"an unknown client is refused", introspectWith(basic("someone", rsSecret))},
		{"an empty id and secret are refused", introspectWith(basic("", ""))},
		{"a bearer token instead of client credentials is refused", introspectWith("Bearer " + rsSecret)},
		{"Basic credentials that are not base64 are refused", introspectWith("Basic %%%")},
		{"Basic credentials without a colon are refused", introspectWith("Basic " + base64.StdEncoding.EncodeToString([]byte(rsID)))},
		{"a bad percent-escape in the id is refused", introspectWith(basic("%zz", rsSecret))},
		{"two Authorization headers are refused even if one is right", introspectWith(basic(rsID, rsSecret), basic("someone", "else"))},
		{"credentials without their form encoding are refused when the encoding changes them", introspectWith(basic(oddID, oddSecret))},
		{"credentials in the body instead of the header are refused", request{method: http.MethodPost, target: pathIntrospect, contentType: formMediaType,
			body: "token=the.issued.token&client_id=" + rsID + "&client_secret=" + rsSecret}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, introspectionClients)
			h.inspector.claims = &mint.Claims{ClientID: "ci-deployer", Subject: "project_path:group/app"}
			rec := h.do(t, tc.req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if ch := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Basic ") {
				t.Fatalf("WWW-Authenticate %q, want a Basic challenge", ch)
			}
			assertNoStore(t, rec)
			if e := decodeError(t, rec); e.Error != codeInvalidClient || e.Description != descClientAuth {
				t.Fatalf("error %+v", e)
			}
			if inspected, _ := h.inspector.calls(); len(inspected) != 0 {
				t.Fatalf("the engine was asked about the token %d times", len(inspected))
			}
			assertNotLogged(t, h.logs, rsSecret)
			assertNotLogged(t, h.logs, "the.issued.token")
		})
	}
	accepted := []struct {
		name string
		auth string
	}{
		{"a configured client with its secret gets the token's claims", basic(rsID, rsSecret)},
		{"the scheme name is case-insensitive", "basic " + strings.TrimPrefix(basic(rsID, rsSecret), "Basic ")},
		{"an id and secret form-encoded as RFC 6749 §2.3.1 says are decoded", formEncoded},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, introspectionClients)
			h.inspector.claims = &mint.Claims{ClientID: "ci-deployer", Subject: "project_path:group/app"}
			rec := h.do(t, introspectWith(tc.auth))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			var got introspection
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !got.Active || got.ClientID != "ci-deployer" {
				t.Fatalf("introspection %+v, want the live token's claims", got)
			}
			if inspected, _ := h.inspector.calls(); len(inspected) != 1 || inspected[0] != "the.issued.token" {
				t.Fatalf("the engine inspected %v", inspected)
			}
		})
	}
}

func TestRevocationStaysOpenWhenIntrospectionClientsAreConfigured(t *testing.T) {
	h := newHarness(t, introspectionClients)
	rec := h.do(t, request{method: http.MethodPost, target: pathRevoke, contentType: formMediaType, body: "token=the.issued.token"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: a token's holder revokes without client credentials (RFC 7009 public clients)", rec.Code)
	}
	if _, revoked := h.inspector.calls(); len(revoked) != 1 {
		t.Fatalf("the engine revoked %d tokens", len(revoked))
	}
}

func TestMetadataNamesClientSecretBasicForIntrospectionOnlyWhenClientsAreConfigured(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"without clients introspection takes no authentication", func(*Config) {}, "none"},
		{"with clients introspection takes HTTP Basic", introspectionClients, "client_secret_basic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.mutate)
			rec := h.do(t, request{method: http.MethodGet, target: pathOAuthMetadata})
			var m metadata
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if strings.Join(m.IntrospectionEndpointAuthMethods, ",") != tc.want {
				t.Fatalf("introspection_endpoint_auth_methods_supported %v, want [%s]", m.IntrospectionEndpointAuthMethods, tc.want)
			}
			if strings.Join(m.RevocationEndpointAuthMethodsSupported, ",") != "none" {
				t.Fatalf("revocation_endpoint_auth_methods_supported %v, want [none]", m.RevocationEndpointAuthMethodsSupported)
			}
		})
	}
}

func TestNewRefusesIntrospectionClientsWithoutIDOrSecretOrTwice(t *testing.T) {
	_, err := New(withFakes(Config{IntrospectionClients: []IntrospectionClient{
		{ID: "", Secret: "s"}, {ID: "a", Secret: ""}, {ID: "b", Secret: "s"}, {ID: "b", Secret: "t"},
	}}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"IntrospectionClients[0] has no ID", "IntrospectionClients[1] has no Secret", "IntrospectionClients[3] repeats an ID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
