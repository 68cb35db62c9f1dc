package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/access/notify"
)

const webhookCredential = "T0001/B0001/slackcredentialslackcred"

func TestNotificationsAreValidatedWithTheirKeysAndNeverEchoTheURL(t *testing.T) {
	slackURL := secretFile(t, "https://hooks.slack.example.com/services/"+webhookCredential+"\n")
	httpURL := secretFile(t, "http://hooks.example.com/services/"+webhookCredential)
	loopURL := secretFile(t, "http://127.0.0.1:9/services/"+webhookCredential)
	notURL := secretFile(t, "not a url "+webhookCredential)
	secret := secretFile(t, strings.Repeat("s", 32)+"\n")
	short := secretFile(t, "short-"+webhookCredential[:4])
	tests := []struct{ name, yaml, want string }{
		{"a notification without url_file is refused", "notifications: [{format: slack}]", "notifications[0].url_file: is required"},
		{"a missing url_file is refused", "notifications: [{url_file: /does/not/exist, format: slack}]", "notifications[0].url_file: open /does/not/exist"},
		{"an http webhook off loopback is refused", "notifications: [{url_file: " + httpURL + ", format: slack}]", "notifications[0].url_file: " + httpURL + ": http is allowed only on a loopback host"},
		{"a loopback http webhook needs allow_insecure_issuers", "notifications: [{url_file: " + loopURL + ", format: slack}]", ": http on a loopback host is allowed only with allow_insecure_issuers"},
		{"a file without a URL is refused", "notifications: [{url_file: " + notURL + ", format: slack}]", ": want an absolute https:// URL"},
		{"an unknown format is refused", "notifications: [{url_file: " + slackURL + ", format: teams}]", "notifications[0].format: want slack or json, not \"teams\""},
		{"a json notification without a secret is refused", "notifications: [{url_file: " + slackURL + ", format: json}]", "notifications[0].secret_file: is required"},
		{"a short secret is refused", "notifications: [{url_file: " + slackURL + ", format: json, secret_file: " + short + "}]", "shorter than 32 bytes"},
		{"a secret for Slack is refused", "notifications: [{url_file: " + slackURL + ", format: slack, secret_file: " + secret + "}]", "notifications[0].secret_file: only json notifications are signed"},
		{"an unknown event is refused", "notifications: [{url_file: " + slackURL + ", format: slack, events: [requested, approvd]}]", "notifications[0].events: \"approvd\" is not one of"},
		{"two notifications of one name are refused", "notifications: [{url_file: " + slackURL + ", format: slack}, {url_file: " + slackURL + ", format: slack}]", "notifications[1].name: \"" + slackURL + "\" names another"},
		{"an unknown key is refused", "notifications: [{url: https://hooks.example.com/x, format: slack}]", "notifications[0].url: unknown key"},
		{"a console_url over http off loopback is refused", "console_url: http://sts.example.com/console", "console_url: http is allowed only on a loopback host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\n" + tc.yaml + "\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), webhookCredential[:10]) {
				t.Fatalf("the error repeats the webhook URL or secret: %v", err)
			}
		})
	}
}

func TestConfigTakesNotificationsWithDefaults(t *testing.T) {
	slackURL := secretFile(t, "https://hooks.slack.example.com/services/"+webhookCredential+"\n")
	secret := secretFile(t, strings.Repeat("s", 40))
	c, err := Parse([]byte(fmt.Sprintf(`issuer: https://sts.example.com
bundles: [.]
console_url: https://sts.example.com/console
notifications:
  - {name: oncall, url_file: %s, format: slack, events: [requested, approved]}
  - {url_file: %s, format: json, secret_file: %s}
`, slackURL, slackURL, secret)))
	if err != nil {
		t.Fatal(err)
	}
	targets, err := c.Targets()
	if err != nil {
		t.Fatal(err)
	}
	if targets[0].URL != "https://hooks.slack.example.com/services/"+webhookCredential || targets[0].Format != notify.FormatSlack {
		t.Errorf("slack target %+v", targets[0].Format)
	}
	if targets[1].Name != slackURL || string(targets[1].Secret) != strings.Repeat("s", 40) || len(targets[1].Events) != 6 {
		t.Errorf("an unnamed json target is named %q with %d events", targets[1].Name, len(targets[1].Events))
	}
	subs := c.Subscribers()
	if got := subs(access.EventRequested); !slices.Equal(got, []string{"oncall", slackURL}) {
		t.Errorf("requested goes to %v", got)
	}
	if got := subs(access.EventRevoked); !slices.Equal(got, []string{slackURL}) {
		t.Errorf("revoked goes to %v", got)
	}
}

func TestConsoleURLDefaultsToThisServersConsole(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"Without a console and a console_url, notifications carry no link.", "", ""},
		{"With a console, links go to the issuer's /console.", "console: {issuer: https://login.example.com, client_id: c, client_secret_file: " + secretFile(t, strings.Repeat("c", 32)) + "}\n", "https://sts.example.com/console"},
		{"A console_url set is kept.", "console_url: https://approvals.example.com/console\n", "https://approvals.example.com/console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte("issuer: https://sts.example.com/\nbundles: [.]\n" + tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.ConsoleURL != tc.want {
				t.Fatalf("console_url %q, want %q", c.ConsoleURL, tc.want)
			}
		})
	}
}
