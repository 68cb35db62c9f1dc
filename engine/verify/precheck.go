package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultMaxTokenBytes is the largest subject token accepted.
const DefaultMaxTokenBytes = 16 << 10

// Header is a token's JOSE header after Precheck: only these fields may be
// present.
type Header struct {
	Alg string
	Kid string
	Typ string
}

// Precheck refuses, before any parsing beyond the header and any key
// lookup, what no provider could accept:
//   - a token longer than maxBytes (checked first; maxBytes <= 0 means
//     DefaultMaxTokenBytes);
//   - anything but strict JWS compact form (RFC 7515 §7.1): exactly three
//     non-empty, unpadded, canonical base64url segments, so JWE (RFC 7516,
//     five segments), the JWS JSON serialization (RFC 7515 §7.2) and
//     whitespace are refused;
//   - a header that is not a JSON object of strings holding only alg, kid
//     and typ, once each: jku, jwk, x5u, x5c and x5t fetch, embed or name keys
//     (RFC 8725 §3.10), crit, b64, cty, enc and zip change how the token is
//     read (RFC 7515 §4.1.11, RFC 7797, RFC 7519 §5.2, RFC 8725 §3.6);
//   - an alg that is not exactly one of the asymmetric JWS names: none, the
//     HS* MACs and case variants are refused (RFC 8725 §3.1, §3.2;
//     CVE-2015-9235);
//   - a typ other than JWT, so access tokens (at+jwt, Trustgate's own
//     included) are never taken for ID tokens (RFC 9068 §2.1, RFC 8725
//     §3.11, §3.12).
//
// Every error wraps ErrMalformed; none holds any part of raw.
func Precheck(raw string, maxBytes int) (header Header, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes
	}
	if len(raw) > maxBytes {
		return Header{}, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxBytes)
	}
	if strings.HasPrefix(strings.TrimLeft(raw, " \t\r\n"), "{") {
		return Header{}, fmt.Errorf("%w: the JWS JSON serialization is refused (RFC 7515 §7.2)", ErrMalformed)
	}
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return Header{}, fmt.Errorf("%w: five segments: encrypted tokens (JWE) are refused", ErrMalformed)
	default:
		return Header{}, fmt.Errorf("%w: not three dot-separated segments", ErrMalformed)
	}
	h, rest, _ := strings.Cut(raw, ".")
	p, s, _ := strings.Cut(rest, ".")
	for i, seg := range [3]string{h, p, s} {
		if !canonicalBase64URL(seg) {
			return Header{}, fmt.Errorf("%w: segment %d is not non-empty, unpadded, canonical base64url", ErrMalformed, i+1)
		}
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return Header{}, fmt.Errorf("%w: segment 1 is not base64url", ErrMalformed)
	}
	return parseHeader(hb)
}

// canonicalBase64URL reports whether s is non-empty unpadded base64url
// (RFC 4648 §5) that decodes without leftover bits, so that each byte
// string has exactly one accepted encoding.
func canonicalBase64URL(s string) bool {
	if s == "" || len(s)%4 == 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if base64URLValue(s[i]) < 0 {
			return false
		}
	}
	last := base64URLValue(s[len(s)-1])
	switch len(s) % 4 {
	case 2: // 12 bits encode 8: the last 4 must be zero
		return last&0x0f == 0
	case 3: // 18 bits encode 16: the last 2 must be zero
		return last&0x03 == 0
	}
	return true
}

// base64URLValue is the 6-bit value of a base64url character, or -1.
func base64URLValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

// headerName is name when it is a registered JOSE header parameter (RFC
// 7515 §4.1, RFC 7516 §4.1, RFC 7518 §4.6-4.8, RFC 7797, RFC 8555 §6.4),
// else a placeholder: sender-chosen text never reaches an error.
func headerName(name string) string {
	switch name {
	case "alg", "kid", "typ", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "cty",
		"enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c", "url", "nonce":
		return name
	}
	return "(unregistered)"
}

// parseHeader decodes the header strictly: an object of strings, no
// duplicate or unknown names.
func parseHeader(b []byte) (Header, error) {
	fields, err := strictStringObject(b)
	if err != nil {
		return Header{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	var h Header
	for name, v := range fields {
		switch name {
		case "alg":
			h.Alg = v
		case "kid":
			if v == "" {
				return Header{}, fmt.Errorf("%w: header parameter kid is empty", ErrMalformed)
			}
			h.Kid = v
		case "typ":
			h.Typ = v
		default:
			return Header{}, fmt.Errorf("%w: header parameter %q is not allowed (only alg, kid and typ are)", ErrMalformed, headerName(name))
		}
	}
	if !asymmetric(h.Alg) {
		return Header{}, fmt.Errorf("%w: alg is not an asymmetric JWS algorithm (none, MACs and case variants are refused)", ErrMalformed)
	}
	if _, present := fields["typ"]; present && !idTokenType(h.Typ) {
		return Header{}, fmt.Errorf("%w: typ is not JWT (access tokens are not subject tokens)", ErrMalformed)
	}
	return h, nil
}

// idTokenType reports whether typ is JWT, the only type an ID token may
// declare. Media type names are case-insensitive and may omit their
// "application/" prefix (RFC 7515 §4.1.9).
func idTokenType(typ string) bool {
	return strings.EqualFold(typ, "JWT") || strings.EqualFold(typ, "application/jwt")
}

// asymmetric reports whether alg is exactly one of the JWS asymmetric
// signature algorithm names (case matters: RFC 7515 §4.1.1).
func asymmetric(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA":
		return true
	}
	return false
}

// strictStringObject decodes a JSON object whose values are all strings,
// refusing invalid UTF-8, unpaired surrogate escapes, duplicate names
// (escaped spellings included) and trailing data.
func strictStringObject(b []byte) (map[string]string, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	if err := checkSurrogates(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := make(map[string]string, 3)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not valid JSON")
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("parameter %q appears twice", headerName(name))
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q is not a string", headerName(name))
		}
		out[name] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("not valid JSON")
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) != 0 {
		return nil, fmt.Errorf("trailing data after the header")
	}
	return out, nil
}
