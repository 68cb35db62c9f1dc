package config

import (
	"fmt"
	"net/netip"

	"github.com/trustgate/trustgate/server"
)

// minClientSecretLen is the shortest introspection client secret taken:
// the secret is all that stands between the network and every token's
// claims.
const minClientSecretLen = 16

// Introspection is who may call POST /oauth2/introspect.
type Introspection struct {
	// Clients are the resource servers allowed to introspect, with HTTP
	// Basic (RFC 7662 §2.1). Empty: introspection is open, with a warning.
	Clients []IntrospectionClient `json:"clients"`
}

type IntrospectionClient struct {
	// ID is the client's identifier (the Basic user name).
	ID string `json:"id"`
	// SecretFile holds the client's secret; a trailing newline is not part
	// of it. Read once at start.
	SecretFile string `json:"secret_file"`
}

// validateNetwork checks trusted_proxies and introspection.
func (c *Config) validateNetwork() []string {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	for i, cidr := range c.TrustedProxies {
		if _, err := parseTrustedProxy(cidr); err != nil {
			add(fmt.Sprintf("trusted_proxies[%d]", i), "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, cl := range c.Introspection.Clients {
		key := fmt.Sprintf("introspection.clients[%d]", i)
		switch {
		case cl.ID == "":
			add(key+".id", "is required")
		case seen[cl.ID]:
			add(key+".id", "%q is already a client", cl.ID)
		}
		seen[cl.ID] = true
		if _, err := readSecretFile(cl.SecretFile, minClientSecretLen); err != nil {
			add(key+".secret_file", "%v", err)
		}
	}
	return p
}

// parseTrustedProxy reads one trusted_proxies entry: a network in CIDR
// notation, without host bits, narrower than the whole address space.
func parseTrustedProxy(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want a network such as 10.0.0.0/8 or 192.0.2.7/32, not %q", cidr)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; the network is %s", cidr, p.Masked())
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("%q trusts every address: anyone could choose its own client address", cidr)
	}
	return p, nil
}

// NetworkOptions turns the validated trusted_proxies and introspection
// clients into the server's, reading the secret files.
func (c *Config) NetworkOptions() ([]netip.Prefix, []server.IntrospectionClient, error) {
	proxies := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for i, cidr := range c.TrustedProxies {
		p, err := parseTrustedProxy(cidr)
		if err != nil {
			return nil, nil, fmt.Errorf("trusted_proxies[%d]: %w", i, err)
		}
		proxies = append(proxies, p)
	}
	clients := make([]server.IntrospectionClient, 0, len(c.Introspection.Clients))
	for i, cl := range c.Introspection.Clients {
		secret, err := readSecretFile(cl.SecretFile, minClientSecretLen)
		if err != nil {
			return nil, nil, fmt.Errorf("introspection.clients[%d].secret_file: %w", i, err)
		}
		clients = append(clients, server.IntrospectionClient{ID: cl.ID, Secret: secret})
	}
	return proxies, clients, nil
}
