// Package console is the approval console of DESIGN §13: server-rendered
// pages under /console/ where approvers sign in with the company IdP (OIDC
// authorization code with PKCE, state and nonce) and approve, deny or
// revoke just-in-time access requests.
//
// The console holds no authority of its own. The ID token the login
// yields is kept only inside the session cookie, encrypted and
// authenticated (AES-256-GCM), and every page and every action hands it to
// the same engine calls the JSON API makes with a bearer token: the token
// is verified like any subject token and data.trustgate.access.review
// decides, so the console can do nothing the API would refuse. The token
// never appears in a page, a URL or a log line.
//
// Pages are html/template, work without JavaScript, carry a CSRF token in
// every form and are served with a Content-Security-Policy that allows no
// script at all, X-Frame-Options DENY and Referrer-Policy no-referrer.
package console
