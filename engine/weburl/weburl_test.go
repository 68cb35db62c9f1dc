package weburl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/weburl"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name          string
		raw           string
		allowLoopback bool
		want          error
	}{
		{"An https URL with a path is accepted.", "https://gitlab.example.com/path", false, nil},
		{"An https URL with a port is accepted.", "https://issuer.example:8443", false, nil},
		{"An upper-case HTTPS scheme is accepted, as URL schemes are case-insensitive.", "HTTPS://issuer.example", false, nil},
		{"An https URL on a loopback host needs no permission.", "https://127.0.0.1:8443", false, nil},
		{"http on 127.0.0.1 is accepted where loopback http is allowed.", "http://127.0.0.1:8080", true, nil},
		{"http on another 127/8 address is accepted where loopback http is allowed.", "http://127.0.0.2:8080", true, nil},
		{"http on localhost is accepted where loopback http is allowed.", "http://localhost:8080/x", true, nil},
		{"http on [::1] is accepted where loopback http is allowed.", "http://[::1]:8080", true, nil},
		{"http on a loopback host is refused where loopback http is not allowed.", "http://127.0.0.1:8080", false, weburl.ErrLoopbackHTTP},
		{"http on a public host is refused even where loopback http is allowed.", "http://gitlab.example.com", true, weburl.ErrHTTP},
		{"http on a host that only starts with localhost is refused.", "http://localhost.evil.example", true, weburl.ErrHTTP},
		{"http on an unspecified address is refused.", "http://0.0.0.0:8080", true, weburl.ErrHTTP},
		{"Another scheme is refused.", "ftp://issuer.example", true, weburl.ErrScheme},
		{"An empty string is refused.", "", true, weburl.ErrNotAbsolute},
		{"A relative path is refused.", "/keys", true, weburl.ErrNotAbsolute},
		{"A host without a scheme is refused.", "issuer.example", true, weburl.ErrNotAbsolute},
		{"An opaque URL is refused.", "https:issuer.example", true, weburl.ErrNotAbsolute},
		{"An unparsable URL is refused.", "https://issuer.example/%zz", true, weburl.ErrNotAbsolute},
		{"A user name is refused.", "https://user@issuer.example", true, weburl.ErrUserInfo},
		{"A user and password are refused.", "https://user:hunter2@issuer.example", true, weburl.ErrUserInfo},
		{"A query is refused.", "https://issuer.example/keys?p=1", true, weburl.ErrQuery},
		{"An empty query is refused.", "https://issuer.example/keys?", true, weburl.ErrQuery},
		{"A fragment is refused.", "https://issuer.example/#frag", true, weburl.ErrFragment},
		{"An empty fragment is refused.", "https://issuer.example/#", true, weburl.ErrFragment},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := weburl.Check(tc.raw, tc.allowLoopback)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Check(%q, %v) = %v, want %v", tc.raw, tc.allowLoopback, err, tc.want)
			}
		})
	}
}

func TestCheckNeverRepeatsTheURL(t *testing.T) {
	for _, raw := range []string{
		"https://user:s3cret-pass@issuer.example",
		"https://hooks.example/s3cret-path?token=s3cret-query",
		"http://s3cret-host.example/x",
		"ftp://s3cret-host.example",
		"https://issuer.example/#s3cret-frag",
		"https://s3cret-host.example/%zz",
	} {
		err := weburl.Check(raw, false)
		if err == nil {
			t.Fatalf("Check(%q) accepted it", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Check(%q) = %q, which repeats part of the URL", raw, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		name string
		host string
		want bool
	}{
		{"localhost is loopback.", "localhost", true},
		{"127.0.0.1 is loopback.", "127.0.0.1", true},
		{"127.255.255.254 is loopback.", "127.255.255.254", true},
		{"::1 is loopback.", "::1", true},
		{"A public name is not loopback.", "example.com", false},
		{"A name ending in localhost is not loopback.", "evil.localhost.example", false},
		{"A private address is not loopback.", "10.0.0.1", false},
		{"An empty host is not loopback.", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := weburl.IsLoopback(tc.host); got != tc.want {
				t.Fatalf("IsLoopback(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}
