package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

func TestClientAddressComesFromProxyHeadersOnlyThroughATrustedProxy(t *testing.T) {
	const proxy = "10.0.0.1:40000"
	manyProxies := make([]string, 40)
	for i := range manyProxies {
		manyProxies[i] = "10.0.1." + strings.Repeat("1", 1+i%2)
	}
	tests := []struct {
		name    string
		trusted []string
		peer    string
		xff     []string
		fwd     []string
		want    string
	}{
		{"without trusted proxies the headers are ignored", nil, proxy, []string{"203.0.113.7"}, []string{"for=203.0.113.8"}, "10.0.0.1"},
		{"spoofed headers from an untrusted peer are ignored", []string{"10.0.0.0/8"}, "198.51.100.20:5000", []string{"203.0.113.7"}, []string{"for=203.0.113.8"}, "198.51.100.20"},
		{"a trusted proxy's X-Forwarded-For names the client", []string{"10.0.0.0/8"}, proxy, []string{"203.0.113.7"}, nil, "203.0.113.7"},
		{"the rightmost hop is taken, not what the client wrote to its left", []string{"10.0.0.0/8"}, proxy, []string{"192.0.2.99, 203.0.113.7"}, nil, "203.0.113.7"},
		{"hops that are trusted proxies are skipped", []string{"10.0.0.0/8"}, proxy, []string{"192.0.2.99, 203.0.113.7, 10.0.0.3, 10.0.0.2"}, nil, "203.0.113.7"},
		{"proxies in several networks are all skipped", []string{"10.0.0.0/8", "172.16.0.0/12"}, proxy, []string{"203.0.113.7, 172.16.4.4, 10.0.0.2"}, nil, "203.0.113.7"},
		{"several X-Forwarded-For lines are one list in order", []string{"10.0.0.0/8"}, proxy, []string{"192.0.2.99", "203.0.113.7, 10.0.0.2"}, nil, "203.0.113.7"},
		{"when every hop is a trusted proxy the leftmost is the client", []string{"10.0.0.0/8"}, proxy, []string{"10.0.0.5, 10.0.0.2"}, nil, "10.0.0.5"},
		{"a hop with a port is its address", []string{"10.0.0.0/8"}, proxy, []string{"203.0.113.7:5555"}, nil, "203.0.113.7"},
		{"an IPv6 hop with a port in brackets is its address", []string{"10.0.0.0/8"}, proxy, []string{"[2001:db8::7]:443"}, nil, "2001:db8::7"},
		{"an IPv4-mapped hop is the IPv4 address", []string{"10.0.0.0/8"}, proxy, []string{"::ffff:203.0.113.7"}, nil, "203.0.113.7"},
		{"an IPv4-mapped peer in a trusted network is trusted", []string{"10.0.0.0/8"}, "[::ffff:10.0.0.1]:40000", []string{"203.0.113.7"}, nil, "203.0.113.7"},
		{"a trusted network written IPv4-mapped trusts the IPv4 peer", []string{"::ffff:10.0.0.0/104"}, proxy, []string{"203.0.113.7"}, nil, "203.0.113.7"},
		{"an IPv6 proxy network is trusted", []string{"fd00::/8"}, "[fd00::1]:40000", []string{"2001:db8::9"}, nil, "2001:db8::9"},
		{"Forwarded names the client with for=", []string{"10.0.0.0/8"}, proxy, nil, []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"},
		{"Forwarded parameter names are case-insensitive", []string{"10.0.0.0/8"}, proxy, nil, []string{`For="192.0.2.43:47011"`}, "192.0.2.43"},
		{"Forwarded with a quoted IPv6 address and port", []string{"10.0.0.0/8"}, proxy, nil, []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded with a quoted IPv6 address without port", []string{"10.0.0.0/8"}, proxy, nil, []string{`for="[2001:db8:cafe::17]"`}, "2001:db8:cafe::17"},
		{"Forwarded elements are walked from the right past trusted proxies", []string{"10.0.0.0/8"}, proxy, nil, []string{`for=192.0.2.99, for="[2001:db8::1]";proto=https, for=10.0.0.3`}, "2001:db8::1"},
		{"a comma inside a quoted Forwarded value does not split the element", []string{"10.0.0.0/8"}, proxy, nil, []string{`for=198.51.100.1;by="a,b", for=10.0.0.3`}, "198.51.100.1"},
		{"both headers naming the same client are believed", []string{"10.0.0.0/8"}, proxy, []string{"203.0.113.7"}, []string{"for=203.0.113.7"}, "203.0.113.7"},
		{"headers naming different clients are both disbelieved", []string{"10.0.0.0/8"}, proxy, []string{"203.0.113.7"}, []string{"for=192.0.2.66"}, "10.0.0.1"},
		{"a garbage hop falls back to the peer", []string{"10.0.0.0/8"}, proxy, []string{"not-an-address"}, nil, "10.0.0.1"},
		{"an empty header falls back to the peer", []string{"10.0.0.0/8"}, proxy, []string{""}, nil, "10.0.0.1"},
		{"garbage right of the client ends the walk at the last valid hop", []string{"10.0.0.0/8"}, proxy, []string{"203.0.113.7, <script>, 10.0.0.2"}, nil, "10.0.0.2"},
		{"garbage left of the client is never looked at", []string{"10.0.0.0/8"}, proxy, []string{"<script>, 203.0.113.7"}, nil, "203.0.113.7"},
		{"a hop with a zone is not an address", []string{"10.0.0.0/8"}, proxy, []string{"fe80::1%eth0"}, nil, "10.0.0.1"},
		{"a bracketed IPv4 hop is not an address (brackets are for IPv6, RFC 7239 §6)", []string{"10.0.0.0/8"}, proxy, []string{"[203.0.113.7]"}, nil, "10.0.0.1"},
		{"a Forwarded element's for= names the client, not its by= before it (RFC 7239 §5.1, §5.2)", []string{"10.0.0.0/8"}, proxy, nil, []string{"by=198.51.100.1;for=203.0.113.7"}, "203.0.113.7"},
		{"an IPv6 hop with a port but no brackets is not an address", []string{"10.0.0.0/8"}, proxy, []string{"2001:db8::7:443:x"}, nil, "10.0.0.1"},
		{"an obfuscated Forwarded node falls back to the peer", []string{"10.0.0.0/8"}, proxy, nil, []string{"for=_hidden"}, "10.0.0.1"},
		{"an unknown Forwarded node falls back to the peer", []string{"10.0.0.0/8"}, proxy, nil, []string{"for=unknown"}, "10.0.0.1"},
		{"a Forwarded element without for= falls back to the peer", []string{"10.0.0.0/8"}, proxy, nil, []string{"proto=https;by=10.0.0.9"}, "10.0.0.1"},
		{"an unterminated quote in Forwarded falls back to the peer", []string{"10.0.0.0/8"}, proxy, nil, []string{`for="203.0.113.7`}, "10.0.0.1"},
		{"an escaped quote inside a Forwarded value is not an address", []string{"10.0.0.0/8"}, proxy, nil, []string{`for="203.0.113.7\"x"`}, "10.0.0.1"},
		{"an unquoted IPv6 Forwarded value still parses when bracketed", []string{"10.0.0.0/8"}, proxy, nil, []string{`for=[2001:db8::5]`}, "2001:db8::5"},
		{"a chain longer than the hop bound ends at a trusted proxy, never past the bound", []string{"10.0.0.0/8"}, proxy,
			[]string{"203.0.113.7, " + strings.Join(manyProxies, ", ")}, nil, manyProxies[len(manyProxies)-maxHops]},
		{"a peer that is not host:port is itself", []string{"10.0.0.0/8"}, "pipe", []string{"203.0.113.7"}, nil, "pipe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.TrustedProxies = mustPrefixes(t, tc.trusted...) })
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add(headerXForwardedFor, v)
			}
			for _, v := range tc.fwd {
				r.Header.Add(headerForwarded, v)
			}
			if got := h.srv.clientIP(r); got != tc.want {
				t.Fatalf("client address %q, want %q", got, tc.want)
			}
		})
	}
}

func TestThroughATrustedProxyTheClientIsRateLimitedAndThePolicySeesItNotTheProxy(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ClientRate, c.ClientBurst = 0.001, 1
		c.TrustedProxies = mustPrefixes(t, "10.0.0.0/8")
	})
	h.inspector.claims = nil
	via := func(peer, xff string) request {
		req := formPost(exchangeForm())
		req.remoteAddr = peer
		req.header = http.Header{headerXForwardedFor: {xff}}
		return req
	}
	steps := []struct {
		name string
		req  request
		want int
	}{
		{"the first client through the proxy is served", via("10.0.0.1:1000", "203.0.113.7"), http.StatusOK},
		{"a second client through the same proxy is served: the proxy is not limited", via("10.0.0.1:1001", "203.0.113.8"), http.StatusOK},
		{"the first client again, through another proxy, is over its limit", via("10.0.0.2:1000", "203.0.113.7"), http.StatusTooManyRequests},
		{"an untrusted peer is served once", via("198.51.100.20:1000", "203.0.113.9"), http.StatusOK},
		{"the untrusted peer naming another client is still itself and limited", via("198.51.100.20:1001", "203.0.113.10"), http.StatusTooManyRequests},
	}
	for _, st := range steps {
		if rec := h.do(t, st.req); rec.Code != st.want {
			t.Fatalf("%s: status %d, want %d", st.name, rec.Code, st.want)
		}
	}
	calls := h.exchanger.calls()
	var ips []string
	for _, c := range calls {
		ips = append(ips, c.ClientIP)
	}
	if want := "203.0.113.7 203.0.113.8 198.51.100.20"; strings.Join(ips, " ") != want {
		t.Fatalf("the engine (policy input, decision log) saw client_ip %v, want %s", ips, want)
	}
	refused := h.logs.FilterMessage("request refused").All()
	if len(refused) != 2 {
		t.Fatalf("%d refusals logged, want 2", len(refused))
	}
	if got := refused[0].ContextMap()["client_ip"]; got != "203.0.113.7" {
		t.Fatalf("the refusal log names client_ip %v, want the client behind the proxy", got)
	}
}

func TestNewRefusesATrustedProxyThatIsNotANetwork(t *testing.T) {
	_, err := New(withFakes(Config{TrustedProxies: []netip.Prefix{{}}}))
	if err == nil || !strings.Contains(err.Error(), "TrustedProxies[0]") {
		t.Fatalf("error %v, want one naming TrustedProxies[0]", err)
	}
}

// FuzzClientIP: whatever the proxy headers hold, the client address never
// panics, is always an address (never garbage from a header), and is the
// peer itself when the peer is not a trusted proxy.
func FuzzClientIP(f *testing.F) {
	f.Add("192.0.2.1, 203.0.113.7", `for="[2001:db8::1]:80";proto=https, for=10.0.0.3`)
	f.Add("", "for=unknown")
	f.Add("<script>,,,", `for="unterminated`)
	f.Add("fe80::1%eth0", `for=_hidden;by="a,b\"c"`)
	f.Add("[::ffff:10.0.0.2]:1", `FOR=10.0.0.2, for="10.0.0.4"`)
	srv, err := New(withFakes(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		for _, peer := range []string{"10.0.0.1", "198.51.100.1"} {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			r.RemoteAddr = peer + ":4000"
			r.Header.Set(headerXForwardedFor, xff)
			r.Header.Set(headerForwarded, fwd)
			got := srv.clientIP(r)
			addr, err := netip.ParseAddr(got)
			if err != nil || addr.Zone() != "" || addr.Is4In6() {
				t.Fatalf("peer %s: client address %q is not a plain address", peer, got)
			}
			if peer == "198.51.100.1" && got != peer {
				t.Fatalf("an untrusted peer's headers chose the client address %q", got)
			}
		}
	})
}

// BenchmarkClientIP: the cost per request of finding the client behind
// proxies (run twice per exchange: the rate limit and the engine request).
func BenchmarkClientIP(b *testing.B) {
	for _, bc := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"no trusted proxies", nil},
		{"through two trusted proxies", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := New(withFakes(Config{TrustedProxies: bc.trusted}))
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequestWithContext(b.Context(), http.MethodPost, "/oauth2/token", nil)
			r.RemoteAddr = "10.0.0.1:40000"
			r.Header.Set(headerXForwardedFor, "192.0.2.1, 203.0.113.7, 10.0.0.2")
			b.ReportAllocs()
			for b.Loop() {
				if srv.clientIP(r) == "" {
					b.Fatal("no address")
				}
			}
		})
	}
}
