package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretFile writes content to a new file and returns its path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTrustedProxiesAndIntrospectionClientsAreValidatedWithTheirKeys(t *testing.T) {
	good := secretFile(t, "a-long-enough-client-secret\n")
	tests := []struct {
		name, yaml, want string
	}{
		{"a proxy that is not a CIDR is refused", "trusted_proxies: [proxy.example.com]", "trusted_proxies[0]: want a network"},
		{"a bare address is refused with the /32 form suggested", "trusted_proxies: [10.0.0.1]", "192.0.2.7/32"},
		{"a network with host bits is refused naming the network", "trusted_proxies: [10.0.0.1/8]", "the network is 10.0.0.0/8"},
		{"a network of every IPv4 address is refused", "trusted_proxies: [10.0.0.0/8, 0.0.0.0/0]", "trusted_proxies[1]: \"0.0.0.0/0\" trusts every address"},
		{"a network of every IPv6 address is refused", "trusted_proxies: [\"::/0\"]", "trusts every address"},
		{"a client without an id is refused", "introspection: {clients: [{secret_file: " + good + "}]}", "introspection.clients[0].id: is required"},
		{"a client named twice is refused", "introspection: {clients: [{id: a, secret_file: " + good + "}, {id: a, secret_file: " + good + "}]}", "introspection.clients[1].id: \"a\" is already a client"},
		{"a client without a secret file is refused", "introspection: {clients: [{id: a}]}", "introspection.clients[0].secret_file: is required"},
		{"a missing secret file is refused", "introspection: {clients: [{id: a, secret_file: /does/not/exist}]}", "introspection.clients[0].secret_file: open /does/not/exist"},
		{"an empty secret file is refused", "introspection: {clients: [{id: a, secret_file: " + secretFile(t, "\n") + "}]}", "is empty"},
		{"a secret file of only blanks is refused as empty", "introspection: {clients: [{id: a, secret_file: " + secretFile(t, "                    \n") + "}]}", "is empty"},
		{"a short secret is refused without repeating it", "introspection: {clients: [{id: a, secret_file: " + secretFile(t, "shorty") + "}]}", "shorter than 16 bytes"},
		{"an unknown key under a client is refused", "introspection: {clients: [{id: a, secret: x}]}", "introspection.clients[0].secret: unknown key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\n" + tc.yaml + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "shorty") {
				t.Fatalf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestConfigTakesTrustedProxiesAndIntrospectionClients(t *testing.T) {
	c, err := Parse([]byte(fmt.Sprintf(`issuer: https://sts.example.com
bundles: [.]
trusted_proxies: [10.0.0.0/8, "fd00::/8", 192.0.2.7/32]
introspection:
  clients:
    - {id: payments-api, secret_file: %s}
`, secretFile(t, "a-long-enough-client-secret\r\n"))))
	if err != nil {
		t.Fatal(err)
	}
	proxies, clients, err := c.NetworkOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(proxies) != 3 || proxies[1].String() != "fd00::/8" {
		t.Fatalf("trusted proxies %v", proxies)
	}
	if len(clients) != 1 || clients[0].ID != "payments-api" || clients[0].Secret != "a-long-enough-client-secret" {
		t.Fatalf("clients %+v, want the secret without its trailing newline", clients)
	}
}
