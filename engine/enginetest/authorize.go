package enginetest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Login is the issuer's OAuth authorization code flow, for console tests:
// a registered client, an authorization endpoint that signs in the chosen
// person without asking (PKCE S256 required, redirect URI matched
// exactly), and a token endpoint that redeems each code once for an ID
// token carrying the person's claims, the nonce, and the client as aud.
type Login struct {
	iss *Issuer

	mu      sync.Mutex
	clients map[string]loginClient
	person  map[string]any
	codes   map[string]loginCode
	ttl     time.Duration
}

type loginClient struct{ secret, redirect string }

type loginCode struct {
	client, redirect, challenge, nonce string
	claims                             map[string]any
}

// Login returns the issuer's login flow (one per issuer).
func (i *Issuer) Login() *Login { return i.login }

// AddClient registers an OAuth client with its secret and its one
// redirect URI.
func (l *Login) AddClient(id, secret, redirect string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients[id] = loginClient{secret: secret, redirect: redirect}
}

// SignInAs chooses who the authorization endpoint signs in from now on:
// these claims (sub at least) go into the ID tokens it issues. Nil: the
// endpoint answers access_denied, as an IdP does when a person cancels.
func (l *Login) SignInAs(claims map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.person = maps.Clone(claims)
}

// SetTokenTTL sets the lifetime of the ID tokens it issues (default 1h).
func (l *Login) SetTokenTTL(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ttl = d
}

func newLogin(i *Issuer) *Login {
	return &Login{iss: i, clients: map[string]loginClient{}, codes: map[string]loginCode{}, ttl: time.Hour}
}

// authorize is GET /oauth/authorize.
func (l *Login) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.clients[q.Get("client_id")]
	if !ok || q.Get("redirect_uri") != c.redirect {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(c.redirect) // registered by the test
	v := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		v.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		v.Set("error", "invalid_request")
	case l.person == nil:
		v.Set("error", "access_denied")
	default:
		code := rand.Text()
		l.codes[code] = loginCode{client: q.Get("client_id"), redirect: c.redirect, challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), claims: maps.Clone(l.person)}
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token is POST /oauth/token: grant_type=authorization_code, the client
// authenticated (HTTP Basic or form), the code once, the PKCE verifier.
func (l *Login) token(w http.ResponseWriter, r *http.Request) {
	id, secret := clientCredentials(r)
	l.mu.Lock()
	c, known := l.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		l.mu.Unlock()
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	code, found := l.codes[r.PostFormValue("code")]
	delete(l.codes, r.PostFormValue("code")) // once, even when the rest is wrong
	ttl := l.ttl
	l.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case r.PostFormValue("grant_type") != "authorization_code" || !found || code.client != id ||
		r.PostFormValue("redirect_uri") != code.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != code.challenge:
		tokenError(w, http.StatusBadRequest, "invalid_grant")
	default:
		raw, err := l.idToken(id, code, ttl)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, map[string]any{"access_token": rand.Text(), "token_type": "Bearer",
			"expires_in": int(ttl.Seconds()), "id_token": raw})
	}
}

// idToken signs the person's claims with the issuer's RSA key.
func (l *Login) idToken(client string, code loginCode, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := maps.Clone(code.claims)
	maps.Copy(claims, map[string]any{"iss": l.iss.URL(), "aud": client, "iat": now.Unix(), "nbf": now.Unix() - 5,
		"exp": now.Add(ttl).Unix(), "jti": rand.Text()})
	if code.nonce != "" {
		claims["nonce"] = code.nonce
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
