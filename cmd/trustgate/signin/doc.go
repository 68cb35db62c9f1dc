// Package signin is `trustgate login` for people: it signs a person in
// with the company IdP and keeps their ID token for `trustgate access`.
//
// Two flows, both from golang.org/x/oauth2 with go-oidc for discovery and
// ID token verification: the authorization code flow with PKCE on a
// loopback redirect (RFC 8252: http://127.0.0.1 on a free port, the system
// browser opened or the URL printed), and the device authorization grant
// (RFC 8628) for a client without a loopback redirect or a terminal
// without a browser. The settings (issuer, client id, scopes) can come
// from the Trustgate server's /.well-known/trustgate-console.
//
// The ID token, and a refresh token when the IdP gives one, are kept in a
// Store: one file of mode 0600 in the user's config directory. A file
// that others may read is refused, not used. An expired ID token is
// refreshed with the refresh token, and the refreshed ID token verified
// like the first. No token is ever written to a log or an error.
package signin
