package devissuer

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ConsoleClientSecret is the secret of the approval console's OAuth
// client at the people issuer's sign-in: the console of `serve` on
// development defaults (client id: Config.Audience, the server's URL). It
// guards nothing, since the dev issuer signs anyone in, and is public on
// purpose.
const ConsoleClientSecret = "dev-console-secret-not-a-secret"

// CLIClientID is the sign-in's other client: `trustgate login`, a public
// (native) client with no secret, PKCE and a redirect to any port of
// 127.0.0.1 or [::1] (RFC 8252 §7.3). Its ID tokens carry it as aud.
const CLIClientID = "trustgate-cli"

// Paths of the people issuer's sign-in (an OIDC authorization code flow).
const (
	authorizePath = PeoplePath + "/authorize"
	tokenPath     = PeoplePath + "/oauth/token"
	// codeTTL is how long a code waits for the console to redeem it.
	codeTTL = time.Minute
	// personTTL is the lifetime of a signed-in person's ID token, and so
	// of the console session that holds it.
	personTTL = time.Hour
)

// demoPerson is someone the sign-in page offers.
type demoPerson struct {
	Sub, Label string
	Groups     []string
}

// demoPersonNamed is the demo person whose sub is sub.
func demoPersonNamed(sub string) (demoPerson, bool) {
	for _, p := range demoPeople() {
		if p.Sub == sub {
			return p, true
		}
	}
	return demoPerson{}, false
}

func demoPeople() []demoPerson {
	return []demoPerson{
		{Sub: "alice", Label: "Alice, prod-approvers", Groups: []string{"prod-approvers"}},
		{Sub: "bob", Label: "Bob, prod-approvers and sre", Groups: []string{"prod-approvers", "sre"}},
		{Sub: "carol", Label: "Carol, developers (not an approver)", Groups: []string{"developers"}},
	}
}

// login is the people issuer's sign-in: a page to pick a demo person, and
// a token endpoint that redeems each code once, with PKCE.
type login struct {
	iss  *Issuer
	page *template.Template

	mu      sync.Mutex
	codes   map[string]pendingCode
	devices map[string]*pendingDevice // by device code (device.go)
}

type pendingCode struct {
	person           demoPerson
	client, redirect string // who asked, and where the code went
	nonce, verifier  string // verifier: the S256 challenge
	expires          time.Time
}

func newLogin(i *Issuer) *login {
	return &login{iss: i, page: template.Must(template.New("login").Parse(loginPage)), codes: map[string]pendingCode{},
		devices: map[string]*pendingDevice{}}
}

// consoleRedirect is the console's one redirect URI.
func (l *login) consoleRedirect() string { return l.iss.cfg.Audience + "/console/callback" }

// knownRedirect says whether redirect is registered for client: the
// console's callback for the console, a loopback http URL with a port for
// the CLI.
func (l *login) knownRedirect(client, redirect string) bool {
	switch client {
	case l.iss.cfg.Audience:
		return redirect == l.consoleRedirect()
	case CLIClientID:
		return loopbackRedirect(redirect)
	}
	return false
}

// loopbackRedirect: http to a loopback IP literal with a port, nothing
// else (RFC 8252 §7.3, §8.3: not "localhost").
func loopbackRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Port() == "" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// authorize is GET /people/authorize: without ?person, the page to pick
// one; with it, a code and back to the client's redirect.
func (l *login) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, redirect := q.Get("client_id"), q.Get("redirect_uri")
	switch {
	case !l.knownRedirect(client, redirect):
		http.Error(w, "unknown client_id or redirect_uri: the dev issuer signs in to "+l.consoleRedirect()+
			" and, as client "+CLIClientID+", to a loopback redirect only", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "want response_type=code with a PKCE S256 code_challenge", http.StatusBadRequest)
		return
	}
	sub := q.Get("person")
	if sub == "" {
		l.render(w, authorizePath, keep(q, "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"))
		return
	}
	p, ok := demoPersonNamed(sub)
	if !ok {
		http.Error(w, "no such demo person", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	l.mu.Lock()
	l.codes[code] = pendingCode{person: p, client: client, redirect: redirect,
		nonce: q.Get("nonce"), verifier: q.Get("code_challenge"), expires: l.iss.cfg.Now().Add(codeTTL)}
	l.mu.Unlock()
	back := url.Values{"code": {code}, "state": {q.Get("state")}}
	http.Redirect(w, r, redirect+"?"+back.Encode(), http.StatusFound)
}

// keep is the named parameters of q, for the sign-in page's form to send
// again with the person picked.
func keep(q url.Values, names ...string) map[string]string {
	out := make(map[string]string, len(names))
	for _, k := range names {
		out[k] = q.Get(k)
	}
	return out
}

// render is the page to pick a person: its form sends hidden and the
// person to action.
func (l *login) render(w http.ResponseWriter, action string, hidden map[string]string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	_ = l.page.Execute(w, map[string]any{"Action": action, "Hidden": hidden, "People": demoPeople()})
}

// token is POST /people/oauth/token: a known client (the console with
// its secret, the CLI with none), a code once, issued to that client and
// redirect, the PKCE verifier; the answer holds the person's ID token.
func (l *login) token(w http.ResponseWriter, r *http.Request) {
	id, secret := clientCredentials(r)
	if !l.authenticated(id, secret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var (
		p     demoPerson
		nonce string
		e     string
	)
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		p, nonce, e = l.redeemCode(r, id)
	case deviceGrantType:
		p, e = l.pollDevice(r.PostFormValue("device_code"), id)
	default:
		e = "unsupported_grant_type"
	}
	if e != "" {
		oauthError(w, http.StatusBadRequest, e)
		return
	}
	now := l.iss.cfg.Now()
	claims := map[string]any{
		"iss": l.iss.PeopleIssuer(), "aud": id, "sub": p.Sub,
		"email": p.Sub + "@example.com", "email_verified": true, "preferred_username": p.Sub,
		"groups": p.Groups, "exp": now.Add(personTTL).Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	raw, err := l.iss.Mint(claims)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": int(personTTL.Seconds()), "id_token": raw})
}

// redeemCode checks a code (once, even when the rest is wrong), the
// client and redirect it was issued to, and the PKCE verifier; the error
// code is "" when all hold.
func (l *login) redeemCode(r *http.Request, client string) (demoPerson, string, string) {
	l.mu.Lock()
	c, found := l.codes[r.PostFormValue("code")]
	delete(l.codes, r.PostFormValue("code"))
	l.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !found || !l.iss.cfg.Now().Before(c.expires) || c.client != client ||
		r.PostFormValue("redirect_uri") != c.redirect || base64.RawURLEncoding.EncodeToString(sum[:]) != c.verifier {
		return demoPerson{}, "", "invalid_grant"
	}
	return c.person, c.nonce, ""
}

// authenticated: the console's client with its secret, or the CLI's
// public client with none.
func (l *login) authenticated(id, secret string) bool {
	switch id {
	case l.iss.cfg.Audience:
		return subtle.ConstantTimeCompare([]byte(secret), []byte(ConsoleClientSecret)) == 1
	case CLIClientID:
		return secret == ""
	}
	return false
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	writeJSON(w, map[string]string{"error": code})
}

const loginPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev issuer sign-in</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem}
fieldset{border:1px solid #d0d7de;border-radius:6px}label{display:block;padding:.3rem 0}
button{font:inherit;padding:.4rem 1rem;margin-top:1rem}</style></head>
<body>
<h1>Dev issuer sign-in</h1>
<p>The development IdP of <code>make run</code>: it signs in anyone you pick, so it only ever listens on loopback.</p>
<form method="get" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<fieldset><legend>Sign in to Trustgate as</legend>
{{range $i, $p := .People}}<label><input type="radio" name="person" value="{{$p.Sub}}"{{if eq $i 0}} checked{{end}}> {{$p.Label}}</label>
{{end}}</fieldset>
<button type="submit">Sign in</button>
</form>
</body>
</html>
`

// clientCredentials reads the client's id and secret: HTTP Basic, each
// form-encoded first (RFC 6749 §2.3.1), or the form's client_id and
// client_secret.
func clientCredentials(r *http.Request) (id, secret string) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	id, err1 := url.QueryUnescape(u)
	secret, err2 := url.QueryUnescape(p)
	if err1 != nil || err2 != nil {
		return "", ""
	}
	return id, secret
}
