package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie names. Each is sealed with its own name as additional data, so a
// login cookie can never be presented as a session.
const (
	sessionCookie = "trustgate_console"
	loginCookie   = "trustgate_console_login"
	cookiePath    = "/console/"
	// maxCookieBytes keeps a cookie within what every browser stores.
	maxCookieBytes = 4000
	// loginTTL is how long a started login may take at the IdP.
	loginTTL = 10 * time.Minute
)

// KeySize is the length of a session key: AES-256.
const KeySize = 32

// Errors of the session layer.
var (
	// errNoSession: no session cookie, or one that does not open (another
	// key, tampered, expired).
	errNoSession = errors.New("no valid console session")
	// errTokenTooLarge: the IdP's ID token does not fit in a cookie.
	errTokenTooLarge = errors.New("the ID token is too large for a session cookie")
)

// session is what the session cookie holds, sealed.
type session struct {
	// Token is the raw ID token; it leaves the cookie only to be handed to
	// the engine.
	Token string `json:"t"`
	// Issuer and Subject name the person; Name is shown in the header.
	Issuer  string `json:"i"`
	Subject string `json:"s"`
	Name    string `json:"n"`
	// CSRF is the token every form of this session carries.
	CSRF string `json:"c"`
	// Expiry is the ID token's exp: the session ends with it.
	Expiry int64 `json:"e"`
}

// pendingLogin is what the login cookie holds between the redirect to the
// IdP and the callback.
type pendingLogin struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expiry   int64  `json:"e"`
}

// sealer encrypts and authenticates cookie values with AES-256-GCM.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("console: the session key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal is base64url(nonce || AES-GCM(v as JSON)), bound to name.
func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// open reverses seal; anything that does not open is errNoSession.
func (s *sealer) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return errNoSession
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return errNoSession
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errNoSession
	}
	return nil
}

// cookies writes and reads the console's cookies.
type cookies struct {
	sealer *sealer
	// secure sets the Secure flag: false only for a loopback http console
	// in development.
	secure bool
	now    func() time.Time
}

func (c *cookies) set(w http.ResponseWriter, name string, v any, expires time.Time) error {
	value, err := c.sealer.seal(name, v)
	if err != nil {
		return err
	}
	if len(name)+len(value) > maxCookieBytes {
		return errTokenTooLarge
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: cookiePath, Expires: expires,
		MaxAge: max(1, int(expires.Sub(c.now()).Seconds())), Secure: c.secure, HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (c *cookies) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, MaxAge: -1,
		Secure: c.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// session reads the request's session; errNoSession when there is none
// that opens or it has expired.
func (c *cookies) session(r *http.Request) (session, error) {
	var s session
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return s, errNoSession
	}
	if err := c.sealer.open(sessionCookie, ck.Value, &s); err != nil {
		return session{}, err
	}
	if s.Token == "" || s.CSRF == "" || !c.now().Before(time.Unix(s.Expiry, 0)) {
		return session{}, errNoSession
	}
	return s, nil
}

// login reads the pending login; errNoSession when there is none or it is
// older than loginTTL.
func (c *cookies) login(r *http.Request) (pendingLogin, error) {
	var l pendingLogin
	ck, err := r.Cookie(loginCookie)
	if err != nil {
		return l, errNoSession
	}
	if err := c.sealer.open(loginCookie, ck.Value, &l); err != nil {
		return pendingLogin{}, err
	}
	if !c.now().Before(time.Unix(l.Expiry, 0)) {
		return pendingLogin{}, errNoSession
	}
	return l, nil
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// randomString is 260 random bits in base32 (two rand.Text).
func randomString() string {
	return rand.Text() + rand.Text()
}
