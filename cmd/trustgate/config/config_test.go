package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigReportsEveryProblemWithItsKey(t *testing.T) {
	_, err := Parse([]byte(`
issuer: http://sts.example.com
listen: nonsense
bundles: [/does/not/exist]
signing:
  algorithm: HS256
  key_fil: /x
tokens:
  default_ttl: 2h
  max_ttl: 1h
log:
  level: loud
colour: blue
`))
	if err == nil {
		t.Fatal("a config full of problems was accepted")
	}
	// Unknown keys are reported first, all of them, before types and values.
	for _, want := range []string{"signing.key_fil: unknown key", "colour: unknown key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestConfigValuesAreValidatedTogether(t *testing.T) {
	_, err := Parse([]byte(`
issuer: http://sts.example.com
listen: nonsense
bundles: [/does/not/exist]
signing:
  algorithm: HS256
tokens:
  default_ttl: 2h
  max_ttl: 1h
limits:
  max_concurrent_evaluations: -2
  queue_timeout: 2h
log:
  level: loud
`))
	if err == nil {
		t.Fatal("a config full of problems was accepted")
	}
	for _, want := range []string{"issuer:", "listen:", "bundles[0]:", "signing.algorithm:", "tokens.default_ttl:", "log.level:",
		"limits.max_concurrent_evaluations:", "limits.queue_timeout:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestConfigRejectsWrongTypesAndBadDurations(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"a Duration that is not a Duration string", "issuer: https://a\nbundles: [.]\ntokens: {max_ttl: 5}", "Duration"},
		{"a list where a string belongs", "issuer: [https://a]\nbundles: [.]", "issuer"},
		{"a document that is not a mapping", "- a\n- b", "mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigRefusesAKeyGivenTwiceNamingBothLines(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"A top-level key given twice is refused, not read as the later.",
			"issuer: https://sts.example.com\nbundles: [.]\nallow_insecure_issuers: false\nallow_insecure_issuers: true\n",
			`key "allow_insecure_issuers" is given twice at the top level, on line 3 and on line 4`},
		{"A nested key given twice is refused with its path.",
			"issuer: https://sts.example.com\nbundles: [.]\ntokens:\n  max_ttl: 1h\n  default_ttl: 15m\n  max_ttl: 24h\n",
			`key "max_ttl" is given twice in tokens, on line 4 and on line 6`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestConfigFillsDefaults(t *testing.T) {
	c, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:8080" || c.Signing.Algorithm != "ES256" ||
		time.Duration(c.Tokens.DefaultTTL) != 15*time.Minute || time.Duration(c.Tokens.MaxTTL) != time.Hour ||
		c.Limits.MaxBodyBytes != 65536 || c.AllowInsecureIssuers || c.RevealReasons {
		t.Fatalf("defaults not as DESIGN §8 says: %+v", c)
	}
}

func TestHTTPIssuersNeedLoopbackAndTheInsecureSwitch(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://sts.example.com", false, true},
		{"http://sts.example.com", false, false},
		{"http://sts.example.com", true, false},
		{"http://127.0.0.1:8080", false, false},
		{"http://127.0.0.1:8080", true, true},
		{"https://user:pw@sts.example.com", false, false},
		{"https://sts.example.com?x=1", false, false},
		{"ftp://sts.example.com", true, false},
	} {
		if err := checkURL(tc.url, tc.insecure); (err == nil) != tc.ok {
			t.Errorf("checkURL(%q, insecure=%v) = %v, want ok=%v", tc.url, tc.insecure, err, tc.ok)
		}
	}
}

func TestConfigErrorsNeverRepeatAURLsPassword(t *testing.T) {
	for _, u := range []string{"https://u:s3cret@logs.example.com/x", "http://u:s3cret@logs.example.com/x", "https://u:s3cret@logs.example.com/x?q=1"} {
		_, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\nlog: {decision_log_url: \"" + u + "\"}\n"))
		if err == nil || !strings.Contains(err.Error(), "log.decision_log_url") {
			t.Fatalf("%s: error %v, want one about log.decision_log_url", u, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("the error repeats the password: %v", err)
		}
	}
}

func TestLoadReadsTheFileAndReportsItsProblems(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	for path, text := range map[string]string{good: "issuer: https://sts.example.com\nbundles: [.]\n", bad: "issuer: https://sts.example.com\nlisten: nonsense\n"} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := Load(good); err != nil || c.Issuer != "https://sts.example.com" {
		t.Fatalf("Load(good) = %+v, %v", c, err)
	}
	_, err := Load(bad)
	if err == nil || !strings.Contains(err.Error(), "2 problem(s)") || !strings.Contains(err.Error(), "listen:") || !strings.Contains(err.Error(), "bundles:") {
		t.Fatalf("Load(bad) error %v, want both problems with their keys", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) error %v, want one that is fs.ErrNotExist", err)
	}
}

func TestADecisionMaskRuleOutsideTheInputIsRefusedByKey(t *testing.T) {
	_, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\nlog: {decision_mask: [/input/token/user_email, /result/allow]}\n"))
	if err == nil || !strings.Contains(err.Error(), "log.decision_mask") || !strings.Contains(err.Error(), "/result/allow") {
		t.Fatalf("error %v, want one naming log.decision_mask and the rule", err)
	}
	if _, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\nlog: {decision_mask: [/input/token/user_email]}\n")); err != nil {
		t.Fatalf("a pointer into the input is refused: %v", err)
	}
}

func TestShadowKeysAreCheckedByName(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"a sample rate above one", "shadow_bundles: [./candidate]\nshadow_sample_rate: 1.5\n", "shadow_sample_rate: must be in (0, 1]"},
		{"a sample rate without shadow bundles", "shadow_sample_rate: 0.5\n", "shadow_sample_rate: no shadow_bundles"},
		{"a plain-http shadow bundle URL", "shadow_bundles: [\"http://bundles.example.com/b.tar.gz\"]\n", "shadow_bundles[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\n" + tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	c, err := Parse([]byte("issuer: https://sts.example.com\nbundles: [.]\nshadow_bundles: [./not-there-yet]\n"))
	if err != nil || c.ShadowSampleRate != 1 {
		t.Fatalf("a shadow bundle not there yet: %v, rate %v; want accepted (it never stops the service) with rate 1", err, c.ShadowSampleRate)
	}
}
