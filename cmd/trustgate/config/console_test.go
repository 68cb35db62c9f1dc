package config

import (
	"encoding/base64"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/trustgate/trustgate/cmd/trustgate/devissuer"
)

func TestConsoleConfigIsValidatedWithItsKeys(t *testing.T) {
	secret := secretFile(t, "the-console-client-secret\n")
	key := secretFile(t, base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n")
	ok := "issuer: https://login.example.com, client_id: trustgate-console, client_secret_file: " + secret
	tests := []struct {
		name, yaml, want string
	}{
		{"a console without an issuer is refused", "console: {client_id: c, client_secret_file: " + secret + "}", "console.issuer: is required"},
		{"an http IdP off loopback is refused", "console: {issuer: http://login.example.com, client_id: c, client_secret_file: " + secret + "}", "console.issuer: http is allowed only on a loopback host"},
		{"a console without a client id is refused", "console: {issuer: https://login.example.com, client_secret_file: " + secret + "}", "console.client_id: is required"},
		{"a console without a client secret file is refused", "console: {issuer: https://login.example.com, client_id: c}", "console.client_secret_file: is required"},
		{"a missing client secret file is refused", "console: {issuer: https://login.example.com, client_id: c, client_secret_file: /does/not/exist}", "console.client_secret_file: open /does/not/exist"},
		{"a redirect URL off the console's callback is refused", "console: {" + ok + ", redirect_url: https://sts.example.com/callback}", "console.redirect_url: the console's callback is served at /console/callback"},
		{"an http redirect URL off loopback is refused", "console: {" + ok + ", redirect_url: http://sts.example.com/console/callback}", "console.redirect_url: http is allowed only"},
		{"a session key of the wrong size is refused", "console: {" + ok + ", session_key_file: " + secretFile(t, "short") + "}", "must hold 32 bytes, raw or base64"},
		{"scopes without openid are refused", "console: {" + ok + ", scopes: [profile, groups]}", "console.scopes: must include openid"},
		{"a scope that is no OAuth scope is refused", "console: {" + ok + ", scopes: [openid, 'a b']}", `console.scopes: "a b" is not an OAuth scope`},
		{"cli_device without a CLI client is refused", "console: {" + ok + ", cli_device: true}", "console.cli_device: applies to the CLI's client: set cli_client_id too"},
		{"an unknown console key is refused", "console: {" + ok + ", client_secret: x}", "console.client_secret: unknown key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\n" + tc.yaml + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	t.Run("a complete console is taken, its redirect URL defaulting to the server's", func(t *testing.T) {
		c, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\nconsole: {" + ok + ", session_key_file: " + key + "}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ConsoleRedirect(); got != "https://sts.example.com/console/callback" {
			t.Fatalf("redirect URL %q", got)
		}
	})
}

func TestDevelopmentDefaultsServeTheConsoleWithTheDevPeopleIssuerTheExampleBundleTrusts(t *testing.T) {
	c := Dev()
	if c.Console == nil {
		t.Fatal("development defaults have no console")
	}
	if p := c.consoleProblems(); len(p) > 0 {
		t.Fatalf("the development console is refused: %v", p)
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "bundles", "example", "data.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Trustgate struct {
			Providers map[string]bundleProvider `json:"providers"`
		} `json:"trustgate"`
	}
	if err := yaml.Unmarshal(data, &bundle); err != nil {
		t.Fatal(err)
	}
	if c.Console.CLIClientID != devissuer.CLIClientID {
		t.Errorf("console.cli_client_id is %q, want the dev issuer's CLI client %q", c.Console.CLIClientID, devissuer.CLIClientID)
	}
	for _, client := range []string{c.Console.ClientID, c.Console.CLIClientID} {
		if !slices.ContainsFunc(slices.Collect(maps.Values(bundle.Trustgate.Providers)), func(p bundleProvider) bool {
			return p.Issuer == c.Console.Issuer && slices.Contains(p.Audiences, client)
		}) {
			t.Errorf("no provider of the example bundle has issuer %s with audience %s: the engine would refuse every sign-in of that client",
				c.Console.Issuer, client)
		}
	}
}

type bundleProvider struct {
	Issuer    string   `json:"issuer"`
	Audiences []string `json:"audiences"`
}

func TestConsoleSecretsAreReadFromTheirFilesAndNeverEchoed(t *testing.T) {
	raw := strings.Repeat("k", 32)
	tests := []struct {
		name      string
		console   Console
		secret    string
		key       string // the key SessionKey returns; empty: none
		wantError string // empty: no error
	}{
		{"A client secret file is read without its trailing newline.",
			Console{ClientSecretFile: secretFile(t, "the-client-secret\n")}, "the-client-secret", "", ""},
		{"A missing client secret file is an error naming its key.",
			Console{ClientSecretFile: "/does/not/exist"}, "", "", "console.client_secret_file: open /does/not/exist"},
		{"A base64 session key is decoded.",
			Console{ClientSecretFile: secretFile(t, "s"), SessionKeyFile: secretFile(t, base64.StdEncoding.EncodeToString([]byte(raw))+"\n")}, "s", raw, ""},
		{"A raw 32-byte session key is taken as it is.",
			Console{ClientSecretFile: secretFile(t, "s"), SessionKeyFile: secretFile(t, raw)}, "s", raw, ""},
		{"A session key of another size is an error naming its key and not its content.",
			Console{ClientSecretFile: secretFile(t, "s"), SessionKeyFile: secretFile(t, "sekrit-but-short")}, "s", "", "console.session_key_file:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret, err := tc.console.ClientSecret()
			if err == nil {
				var key []byte
				key, err = tc.console.SessionKey()
				if err == nil && (secret != tc.secret || string(key) != tc.key) {
					t.Fatalf("secret %q, key %q; want %q, %q", secret, key, tc.secret, tc.key)
				}
			}
			switch {
			case tc.wantError == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantError)
			case err != nil && strings.Contains(err.Error(), "sekrit"):
				t.Fatalf("the error repeats the file's content: %v", err)
			}
		})
	}
}

func TestDevelopmentDefaultsUseTheDevIssuersConsoleSecretAndNoFile(t *testing.T) {
	c := Dev()
	secret, err := c.Console.ClientSecret()
	if err != nil || secret == "" {
		t.Fatalf("secret %q, error %v; want the dev issuer's", secret, err)
	}
	if key, err := c.Console.SessionKey(); key != nil || err != nil {
		t.Fatalf("key %v, error %v; want none: serve generates one", key, err)
	}
}
