// Package weburl owns the one rule every URL Trustgate is configured with,
// fetches from or sends a credential to must pass: the server's issuer, the
// providers' issuers and JWKS URLs (from bundle data and from discovery),
// remote bundles, the decision-log sink, the console's issuer, redirect URL
// and console_url, notification webhooks and the CLI's --url.
//
// The rule: an absolute URL with a host; https, or http on a loopback host
// (localhost, 127.0.0.0/8, ::1) only where the caller allows it; no user
// info (a password in a URL ends up in logs and shells' history); no
// fragment (never sent, so it can only be a mistake); and no query.
//
// No query, decided once for every caller: an issuer must not have one
// (OpenID Connect Discovery 1.0 §3, RFC 8414 §2), and issuers are compared
// byte for byte; URLs are named in config errors, logs and metrics, and a
// query is where secrets get put, which url.URL.Redacted does not hide;
// and nothing Trustgate talks to needs one (bundles are signed, webhooks
// are signed with the target's secret, keys come from the issuer's own
// discovery document).
//
// No error repeats the URL or any part of it, so a caller may check a URL
// that is itself a secret (a webhook) and print the error.
package weburl

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Errors Check returns, one per broken part of the rule.
var (
	ErrNotAbsolute  = errors.New("want an absolute https:// URL")
	ErrScheme       = errors.New("want https")
	ErrHTTP         = errors.New("http is allowed only on a loopback host")
	ErrLoopbackHTTP = errors.New("http on a loopback host is allowed only with allow_insecure_issuers (development)")
	ErrUserInfo     = errors.New("must not carry user info")
	ErrQuery        = errors.New("must not carry a query")
	ErrFragment     = errors.New("must not carry a fragment")
)

// Check applies the rule to raw; allowLoopbackHTTP admits http:// on a
// loopback host (development and tests; the CLI, whose token then never
// leaves the machine). The error is one of this package's sentinels.
func Check(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return ErrNotAbsolute
	case u.User != nil:
		return ErrUserInfo
	case u.RawQuery != "" || u.ForceQuery:
		return ErrQuery
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return ErrFragment
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return ErrScheme
	case !IsLoopback(u.Hostname()):
		return ErrHTTP
	case !allowLoopbackHTTP:
		return ErrLoopbackHTTP
	}
	return nil
}

// IsLoopback reports whether host is localhost or a loopback IP: the only
// hosts http:// is ever allowed on.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
