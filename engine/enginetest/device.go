package enginetest

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// deviceTTL is how long a device code waits for its person.
const deviceTTL = 5 * time.Minute

// deviceAuthorize is POST /oauth/device (RFC 8628 §3.1): a device code
// and a user code for a known client and supported scopes.
func (l *Login) deviceAuthorize(w http.ResponseWriter, r *http.Request) {
	id, secret := clientCredentials(r)
	scopes := strings.Fields(r.PostFormValue("scope"))
	l.mu.Lock()
	defer l.mu.Unlock()
	c, known := l.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if e := l.checkScopes(scopes); e != "" {
		tokenError(w, http.StatusBadRequest, e)
		return
	}
	dc, uc := rand.Text(), rand.Text()[:8]
	l.devices[dc] = &device{userCode: uc, expiry: time.Now().Add(deviceTTL), grant: grant{client: id, scopes: scopes}}
	verify := l.iss.URL() + "/device"
	writeJSON(w, map[string]any{"device_code": dc, "user_code": uc, "verification_uri": verify,
		"verification_uri_complete": verify + "?user_code=" + uc, "expires_in": int(deviceTTL.Seconds()), "interval": 1})
}

// deviceVerify is GET /device?user_code=…: the person the issuer signs in
// (SignInAs) approves the device; with none, the device is denied.
func (l *Login) deviceVerify(w http.ResponseWriter, r *http.Request) {
	uc := r.URL.Query().Get("user_code")
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.devices {
		if uc == "" || d.userCode != uc || d.approved || d.denied {
			continue
		}
		if l.person == nil {
			d.denied = true
			http.Error(w, "denied", http.StatusForbidden)
			return
		}
		d.approved, d.grant.claims = true, l.person
		_, _ = w.Write([]byte("device signed in\n"))
		return
	}
	http.Error(w, "unknown user code", http.StatusNotFound)
}

// pollDevice is the token endpoint's device_code grant (RFC 8628 §3.5):
// authorization_pending until the person comes, then the tokens once.
func (l *Login) pollDevice(dc, client string) (grant, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, found := l.devices[dc]
	switch {
	case !found || d.grant.client != client:
		return grant{}, "invalid_grant"
	case time.Now().After(d.expiry):
		delete(l.devices, dc)
		return grant{}, "expired_token"
	case d.denied:
		delete(l.devices, dc)
		return grant{}, "access_denied"
	case !d.approved:
		return grant{}, "authorization_pending"
	}
	delete(l.devices, dc)
	return d.grant, ""
}
