package devissuer

import (
	"crypto/rand"
	"net/http"
	"time"
)

// Paths and lifetimes of the people issuer's device authorization grant
// (RFC 8628), for `trustgate login --device`: the CLI's client only.
const (
	deviceAuthPath  = PeoplePath + "/oauth/device"
	devicePath      = PeoplePath + "/device"
	deviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"
	// deviceTTL is how long a device code waits for its person.
	deviceTTL = 5 * time.Minute
)

// pendingDevice is a device code waiting for a person to be picked on the
// sign-in page; person is nil until then.
type pendingDevice struct {
	userCode string
	person   *demoPerson
	expires  time.Time
}

// deviceAuthorize is POST /people/oauth/device (RFC 8628 §3.1): a device
// code and a user code for the CLI's client.
func (l *login) deviceAuthorize(w http.ResponseWriter, r *http.Request) {
	id, secret := clientCredentials(r)
	if id != CLIClientID || !l.authenticated(id, secret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	dc, uc := rand.Text(), rand.Text()[:8]
	l.mu.Lock()
	l.devices[dc] = &pendingDevice{userCode: uc, expires: l.iss.cfg.Now().Add(deviceTTL)}
	l.mu.Unlock()
	verify := l.iss.cfg.Issuer + devicePath
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"device_code": dc, "user_code": uc, "verification_uri": verify,
		"verification_uri_complete": verify + "?user_code=" + uc, "expires_in": int(deviceTTL.Seconds()), "interval": 1})
}

// deviceVerify is GET /people/device?user_code=…: without ?person, the
// page to pick one; with it, the device signed in as that person. A user
// code is taken once.
func (l *login) deviceVerify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.waitingDevice(q.Get("user_code"))
	if d == nil {
		http.Error(w, "unknown, expired or used user code: start again with trustgate login --device", http.StatusNotFound)
		return
	}
	if q.Get("person") == "" {
		l.render(w, devicePath, keep(q, "user_code"))
		return
	}
	p, ok := demoPersonNamed(q.Get("person"))
	if !ok {
		http.Error(w, "no such demo person", http.StatusBadRequest)
		return
	}
	d.person = &p
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("Signed in as " + p.Sub + ". Return to the terminal.\n"))
}

// waitingDevice is the device of user code uc that waits for its person;
// nil when none does. l.mu is held.
func (l *login) waitingDevice(uc string) *pendingDevice {
	for _, d := range l.devices {
		if uc != "" && d.userCode == uc && d.person == nil && l.iss.cfg.Now().Before(d.expires) {
			return d
		}
	}
	return nil
}

// pollDevice is the token endpoint's device_code grant (RFC 8628 §3.5):
// authorization_pending until the person is picked, then the person once.
func (l *login) pollDevice(dc, client string) (demoPerson, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, found := l.devices[dc]
	switch {
	case !found || client != CLIClientID:
		return demoPerson{}, "invalid_grant"
	case !l.iss.cfg.Now().Before(d.expires):
		delete(l.devices, dc)
		return demoPerson{}, "expired_token"
	case d.person == nil:
		return demoPerson{}, "authorization_pending"
	}
	delete(l.devices, dc)
	return *d.person, ""
}
