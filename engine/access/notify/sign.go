package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery; a FormatJSON delivery is signed in the last two.
const (
	HeaderEvent     = "X-Trustgate-Event"
	HeaderEventID   = "X-Trustgate-Event-Id"
	HeaderTimestamp = "X-Trustgate-Timestamp"
	HeaderSignature = "X-Trustgate-Signature"
)

// Errors of Verify.
var (
	ErrUnsigned     = errors.New("notification is not signed")
	ErrBadSignature = errors.New("notification signature does not match")
	ErrStale        = errors.New("notification timestamp is outside the tolerance")
)

// Sign signs body at now: the timestamp header is now in Unix seconds, the
// signature header "sha256=" and the lower-case hex HMAC-SHA256, keyed with
// secret, of the timestamp, a dot and the exact body bytes.
func Sign(secret []byte, now time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	return timestamp, "sha256=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a FormatJSON delivery as a receiver should: the signature
// over the timestamp and the exact body, compared in constant time, and a
// timestamp within tolerance of now (a replayed delivery is refused once it
// is older). Receivers also dedupe on HeaderEventID: delivery is at least
// once.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if ts == "" || !ok {
		return ErrUnsigned
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
