package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxy headers that name the hops a request came through: X-Forwarded-For
// (de facto) and Forwarded (RFC 7239).
const (
	headerXForwardedFor = "X-Forwarded-For"
	headerForwarded     = "Forwarded"
)

// maxHops bounds how many hops of a proxy header are looked at, from the
// right: a chain of trusted proxies is short, a header of thousands of
// entries is an attack.
const maxHops = 32

// trustedProxies are the networks whose proxy headers are believed.
type trustedProxies []netip.Prefix

// contains says whether addr is one of the trusted proxies.
func (t trustedProxies) contains(addr netip.Addr) bool {
	for _, p := range t {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientIP is the caller's address: the connection's peer, unless the peer
// is a trusted proxy; then the rightmost hop of X-Forwarded-For or
// Forwarded that is not itself a trusted proxy. Headers from any other
// peer are ignored: anyone can send them. A hop that is not an address
// (garbage, "unknown", an obfuscated name) ends the walk at the last
// address known, never at the garbage. When a request carries both headers
// and they name different clients, one of them passed through a proxy that
// does not set it, unchecked: neither is believed and the peer is the
// client.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(s.proxies) == 0 {
		return host
	}
	peer = peer.Unmap().WithZone("")
	if !s.proxies.contains(peer) {
		return host
	}
	xff, hasXFF := headerHops(r, headerXForwardedFor, xffHop)
	fwd, hasFwd := headerHops(r, headerForwarded, forwardedHop)
	switch {
	case hasXFF && hasFwd:
		a, b := s.proxies.client(peer, xff), s.proxies.client(peer, fwd)
		if a != b {
			return host
		}
		return a.String()
	case hasXFF:
		return s.proxies.client(peer, xff).String()
	case hasFwd:
		return s.proxies.client(peer, fwd).String()
	}
	return host
}

// client walks hops from the right, starting at the trusted peer, and
// returns the first address that is not a trusted proxy; at a hop that is
// not an address it returns the last address it had.
func (t trustedProxies) client(peer netip.Addr, hops []string) netip.Addr {
	current := peer
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxHops; i-- {
		if !t.contains(current) {
			return current
		}
		addr, ok := parseHop(hops[i])
		if !ok {
			return current
		}
		current = addr
	}
	return current
}

// headerHops returns the hops of every line of header name, in order, each
// as split turns one list element into a node; present says whether the
// header was sent at all.
func headerHops(r *http.Request, name string, node func(string) string) (hops []string, present bool) {
	lines := r.Header.Values(name)
	if len(lines) == 0 {
		return nil, false
	}
	for _, line := range lines {
		for _, el := range splitList(line) {
			hops = append(hops, node(el))
		}
	}
	return hops, true
}

// xffHop is one X-Forwarded-For element: the node itself.
func xffHop(el string) string { return strings.TrimSpace(el) }

// forwardedHop is the for= node of one Forwarded element (RFC 7239 §4),
// unquoted; "" when the element has none or it is malformed.
func forwardedHop(el string) string {
	for _, pair := range splitQuoted(el, ';') {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(name, "for") {
			continue
		}
		if strings.HasPrefix(value, `"`) {
			v, ok := unquote(value)
			if !ok {
				return ""
			}
			return v
		}
		return value
	}
	return ""
}

// parseHop reads a node as an address: an IPv4 or IPv6 address, with or
// without a port, IPv6 in brackets when it has one (RFC 7239 §6). Anything
// else ("unknown", "_hidden", garbage) is not an address.
func parseHop(node string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(node); err == nil && addr.Zone() == "" {
		return addr.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(node); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(node, "[") && strings.HasSuffix(node, "]") {
		addr, err := netip.ParseAddr(node[1 : len(node)-1])
		if err == nil && addr.Is6() && addr.Zone() == "" {
			return addr.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// splitList splits a comma-separated header list, commas inside quoted
// strings excepted.
func splitList(s string) []string { return splitQuoted(s, ',') }

// splitQuoted splits s at sep outside of quoted strings (RFC 9110 §5.6.4,
// with backslash escapes). An unterminated quote runs to the end.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote reads a whole RFC 9110 quoted-string; ok is false unless s is
// exactly one.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		switch c {
		case '\\':
			i++
			if i >= len(s)-1 {
				return "", false
			}
			c = s[i]
		case '"':
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// unmapped is ps masked, with IPv4-mapped IPv6 networks as IPv4 networks,
// the form clientIP compares peers in.
func unmapped(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}
