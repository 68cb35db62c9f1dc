package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/access/notify"
	"github.com/trustgate/trustgate/engine/weburl"
)

// minWebhookSecretLen is the shortest signing secret of a json target.
const minWebhookSecretLen = 32

// Notification is one entry of `notifications` in trustgate.yaml
// (DESIGN §13): a webhook that receives just-in-time events.
type Notification struct {
	// Name identifies the target in the outbox, logs and metrics; default:
	// url_file. Keep it when the file moves: notifications queued for a
	// name no longer configured are dropped.
	Name string `json:"name"`
	// URLFile holds the webhook URL, a credential (Slack's is), so the
	// config carries none. It is never logged.
	URLFile string `json:"url_file"`
	// Format is slack (an incoming webhook) or json (signed with
	// secret_file).
	Format string `json:"format"`
	// SecretFile holds the HMAC-SHA256 key of json targets (at least 32
	// bytes; a trailing newline is not part of it).
	SecretFile string `json:"secret_file"`
	// Events are the events sent; default: all of requested, approved,
	// denied, cancelled, expired, revoked. reviewed (an approval that is
	// not yet enough) may be added.
	Events []string `json:"events"`
}

// fillNotifyDefaults names unnamed targets after their url_file,
// subscribes targets without events to all, and links notifications to
// this server's own console (<issuer>/console) when it runs one and
// console_url is not set.
func (c *Config) fillNotifyDefaults() {
	if c.ConsoleURL == "" && c.Console != nil {
		c.ConsoleURL = strings.TrimSuffix(c.Issuer, "/") + "/console"
	}
	for i := range c.Notifications {
		n := &c.Notifications[i]
		if n.Name == "" {
			n.Name = n.URLFile
		}
		if len(n.Events) == 0 {
			for _, e := range notify.AllEvents {
				n.Events = append(n.Events, string(e))
			}
		}
	}
}

// notifyProblems checks console_url and every notification, reading the
// files, each problem with its key; no problem repeats a URL or a secret.
func (c *Config) notifyProblems() []string {
	var p []string
	if c.ConsoleURL != "" {
		if err := checkURL(c.ConsoleURL, c.AllowInsecureIssuers); err != nil {
			p = append(p, "console_url: "+err.Error())
		}
	}
	names := map[string]bool{}
	for i, n := range c.Notifications {
		key := fmt.Sprintf("notifications[%d]", i)
		if names[n.Name] {
			p = append(p, fmt.Sprintf("%s.name: %q names another notification too", key, n.Name))
		}
		names[n.Name] = true
		if _, err := c.target(n); err != nil {
			p = append(p, key+"."+err.Error())
		}
	}
	return p
}

// targets reads the configured notifications into notify targets.
func (c *Config) Targets() ([]notify.Target, error) {
	out := make([]notify.Target, 0, len(c.Notifications))
	for i, n := range c.Notifications {
		t, err := c.target(n)
		if err != nil {
			return nil, fmt.Errorf("notifications[%d].%w", i, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// subscribers names the targets of each event, for access.Config.Notify.
// It reads no file: the names and events are in the config.
func (c *Config) Subscribers() access.Subscribers {
	ts := make([]notify.Target, len(c.Notifications))
	for i, n := range c.Notifications {
		ts[i] = notify.Target{Name: n.Name}
		for _, e := range n.Events {
			ts[i].Events = append(ts[i].Events, access.EventType(e))
		}
	}
	return notify.Subscribers(ts)
}

// target checks one notification and reads its files; an error starts
// with the key it is about (relative to the notification).
func (c *Config) target(n Notification) (notify.Target, error) {
	t := notify.Target{Name: n.Name, Format: notify.Format(n.Format)}
	if t.Format != notify.FormatSlack && t.Format != notify.FormatJSON {
		return t, fmt.Errorf("format: want slack or json, not %q", n.Format)
	}
	for _, e := range n.Events {
		if !slices.Contains(notify.AllEvents, access.EventType(e)) && e != string(access.EventReviewed) {
			return t, fmt.Errorf("events: %q is not one of requested, reviewed, approved, denied, cancelled, expired, revoked", e)
		}
		t.Events = append(t.Events, access.EventType(e))
	}
	u, err := readWebhookURL(n.URLFile, c.AllowInsecureIssuers)
	if err != nil {
		return t, fmt.Errorf("url_file: %w", err)
	}
	t.URL = u
	switch {
	case t.Format == notify.FormatSlack && n.SecretFile != "":
		return t, errors.New("secret_file: only json notifications are signed; a Slack webhook's URL is its credential")
	case t.Format == notify.FormatJSON:
		secret, err := readSecretFile(n.SecretFile, minWebhookSecretLen)
		if err != nil {
			return t, fmt.Errorf("secret_file: %w", err)
		}
		t.Secret = []byte(secret)
	}
	return t, nil
}

// readWebhookURL reads the URL in path and holds it to the one URL rule
// (weburl). No error repeats the URL or a part of it.
func readWebhookURL(path string, insecure bool) (string, error) {
	raw, err := readSecretFile(path, 1)
	if err != nil {
		return "", err
	}
	if err := weburl.Check(raw, insecure); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return raw, nil
}

// readSecretFile reads a file holding one secret: it must exist and hold
// at least minLen bytes once a trailing newline is cut. No error repeats
// what the file holds.
func readSecretFile(path string, minLen int) (string, error) {
	if path == "" {
		return "", errors.New("is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(data))
	switch {
	case s == "":
		return "", fmt.Errorf("%s is empty", path)
	case len(s) < minLen:
		return "", fmt.Errorf("%s holds a secret shorter than %d bytes", path, minLen)
	}
	return s, nil
}
