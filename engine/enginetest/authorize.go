package enginetest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Login is the issuer's OAuth sign-in for people, as a company IdP such
// as Dex offers it, for console and CLI tests:
//
//   - registered clients: confidential ones with a secret and one exact
//     redirect URI, and public (native) ones with no secret whose
//     loopback redirect may use any port (RFC 8252 §7.3);
//   - an authorization endpoint that signs in the chosen person without
//     asking (PKCE S256 required);
//   - a device authorization endpoint (RFC 8628) whose verification page
//     signs the chosen person in for the user code;
//   - a token endpoint that redeems each code once, polls device codes,
//     and redeems refresh tokens (each once, rotated);
//   - scopes as Dex handles them: an unknown scope is invalid_scope, and a
//     claim is released only under its scope (groups under groups, email
//     under email, names under profile); a refresh token only under
//     offline_access.
type Login struct {
	iss *Issuer

	mu      sync.Mutex
	clients map[string]loginClient
	person  map[string]any
	codes   map[string]grant
	devices map[string]*device // by device code
	refresh map[string]grant
	scopes  []string
	ttl     time.Duration
}

type loginClient struct {
	secret, redirect string
	public           bool
}

// grant is what a code, a device code or a refresh token stands for.
type grant struct {
	client, redirect, challenge, nonce string
	scopes                             []string
	claims                             map[string]any
}

// device is a pending device authorization.
type device struct {
	userCode string
	expiry   time.Time
	grant    grant
	// approved and denied: the verification page was visited.
	approved, denied bool
}

// DefaultScopes are the scopes the issuer supports unless SupportScopes
// says otherwise.
var DefaultScopes = []string{"openid", "profile", "email", "groups", "offline_access"}

// scopeClaims are the claims each scope releases; a claim in none of them
// is always released.
var scopeClaims = map[string][]string{
	"email":   {"email", "email_verified"},
	"profile": {"name", "preferred_username"},
	"groups":  {"groups"},
}

// Login returns the issuer's login flow (one per issuer).
func (i *Issuer) Login() *Login { return i.login }

// AddClient registers a confidential OAuth client with its secret and its
// one redirect URI.
func (l *Login) AddClient(id, secret, redirect string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients[id] = loginClient{secret: secret, redirect: redirect}
}

// AddPublicClient registers a native client with no secret, as a CLI's
// is: its redirect is http://127.0.0.1 with any port and path /callback
// (RFC 8252 §7.3), and it may use the device grant.
func (l *Login) AddPublicClient(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients[id] = loginClient{redirect: "http://127.0.0.1/callback", public: true}
}

// SignInAs chooses who the authorization endpoint signs in from now on:
// these claims (sub at least) go into the ID tokens it issues, each
// released only under its scope. Nil: the endpoint answers access_denied,
// as an IdP does when a person cancels.
func (l *Login) SignInAs(claims map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.person = maps.Clone(claims)
}

// SupportScopes sets the scopes discovery lists and the endpoints accept
// (default DefaultScopes).
func (l *Login) SupportScopes(scopes ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.scopes = slices.Clone(scopes)
}

// SetTokenTTL sets the lifetime of the ID tokens it issues (default 1h).
func (l *Login) SetTokenTTL(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ttl = d
}

func newLogin(i *Issuer) *Login {
	return &Login{iss: i, clients: map[string]loginClient{}, codes: map[string]grant{}, devices: map[string]*device{},
		refresh: map[string]grant{}, scopes: DefaultScopes, ttl: time.Hour}
}

func (l *Login) supported() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.scopes)
}

// checkScopes is "" when every scope asked is supported and openid is
// among them, else the OAuth error code.
func (l *Login) checkScopes(scopes []string) string {
	for _, s := range scopes {
		if !slices.Contains(l.scopes, s) {
			return "invalid_scope"
		}
	}
	if !slices.Contains(scopes, "openid") {
		return "invalid_scope"
	}
	return ""
}

// redirectMatches: the registered redirect exactly, or for a public
// client a loopback redirect that differs only in its port.
func (c loginClient) redirectMatches(got string) bool {
	if got == c.redirect {
		return true
	}
	if !c.public {
		return false
	}
	u, err := url.Parse(got)
	if err != nil || u.Scheme != "http" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	host, port, err := net.SplitHostPort(u.Host)
	return err == nil && host == "127.0.0.1" && port != "" && "http://"+host+u.Path == c.redirect
}

// authorize is GET /oauth/authorize.
func (l *Login) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.clients[q.Get("client_id")]
	if !ok || !c.redirectMatches(q.Get("redirect_uri")) {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri")) // matched a registered one
	v := url.Values{"state": {q.Get("state")}}
	scopes := strings.Fields(q.Get("scope"))
	scopeErr := l.checkScopes(scopes)
	switch {
	case q.Get("response_type") != "code":
		v.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		v.Set("error", "invalid_request")
	case scopeErr != "":
		v.Set("error", scopeErr)
	case l.person == nil:
		v.Set("error", "access_denied")
	default:
		code := rand.Text()
		l.codes[code] = grant{client: q.Get("client_id"), redirect: back.String(), challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), scopes: scopes, claims: maps.Clone(l.person)}
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token is POST /oauth/token: the client authenticated (HTTP Basic or
// form; a public client with no secret), then the grant.
func (l *Login) token(w http.ResponseWriter, r *http.Request) {
	id, secret := clientCredentials(r)
	l.mu.Lock()
	c, known := l.clients[id]
	ttl := l.ttl
	l.mu.Unlock()
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var (
		g    grant
		code string
	)
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		g, code = l.redeemCode(r, id)
	case "refresh_token":
		g, code = l.redeemRefresh(r.PostFormValue("refresh_token"), id)
	case "urn:ietf:params:oauth:grant-type:device_code":
		g, code = l.pollDevice(r.PostFormValue("device_code"), id)
	default:
		code = "unsupported_grant_type"
	}
	if code != "" {
		tokenError(w, http.StatusBadRequest, code)
		return
	}
	l.issue(w, id, g, ttl)
}

// redeemCode checks a code (once, even when the rest is wrong), its
// client, redirect and PKCE verifier.
func (l *Login) redeemCode(r *http.Request, client string) (grant, string) {
	l.mu.Lock()
	g, found := l.codes[r.PostFormValue("code")]
	delete(l.codes, r.PostFormValue("code"))
	l.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !found || g.client != client || r.PostFormValue("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		return grant{}, "invalid_grant"
	}
	return g, ""
}

// redeemRefresh takes a refresh token once: the new response carries a
// new one. The ID token it yields has no nonce.
func (l *Login) redeemRefresh(tok, client string) (grant, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g, found := l.refresh[tok]
	delete(l.refresh, tok)
	if !found || g.client != client {
		return grant{}, "invalid_grant"
	}
	g.nonce = ""
	return g, ""
}

// issue writes the token response: an ID token, and a refresh token when
// offline_access was granted.
func (l *Login) issue(w http.ResponseWriter, client string, g grant, ttl time.Duration) {
	raw, err := l.idToken(client, g, ttl)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	body := map[string]any{"access_token": rand.Text(), "token_type": "Bearer",
		"expires_in": int(ttl.Seconds()), "id_token": raw, "scope": strings.Join(g.scopes, " ")}
	if slices.Contains(g.scopes, "offline_access") {
		rt := rand.Text()
		l.mu.Lock()
		l.refresh[rt] = g
		l.mu.Unlock()
		body["refresh_token"] = rt
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, body)
}

// released are the person's claims that the granted scopes release.
func released(claims map[string]any, scopes []string) map[string]any {
	out := maps.Clone(claims)
	for scope, names := range scopeClaims {
		if slices.Contains(scopes, scope) {
			continue
		}
		for _, n := range names {
			delete(out, n)
		}
	}
	return out
}

// idToken signs the person's released claims with the issuer's RSA key.
func (l *Login) idToken(client string, g grant, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := released(g.claims, g.scopes)
	maps.Copy(claims, map[string]any{"iss": l.iss.URL(), "aud": client, "iat": now.Unix(), "nbf": now.Unix() - 5,
		"exp": now.Add(ttl).Unix(), "jti": rand.Text()})
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	k := l.iss.rsa
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Algorithm, Key: jose.JSONWebKey{Key: k.Signer, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

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
