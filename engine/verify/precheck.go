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
// lookup, what no provider could accept: an oversized token, anything but
// strict JWS compact form (RFC 7515 §7.1), a header with fields other than
// alg, kid and typ (jku, jwk, x5u, x5c fetch or embed keys; crit, b64, cty,
// zip change how the token is read: RFC 8725 §3.1, §3.11), alg none or a MAC
// (RFC 8725 §3.1, §3.2), and tokens typed as access tokens (RFC 9068 §2.1,
// RFC 8725 §3.11).
func Precheck(raw string, maxBytes int) (Header, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes
	}
	if len(raw) > maxBytes {
		return Header{}, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, maxBytes)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Header{}, fmt.Errorf("%w: not three dot-separated segments (JWE, JSON serialization and nested forms are refused)", ErrMalformed)
	}
	for i, p := range parts {
		if p == "" || !isBase64URL(p) {
			return Header{}, fmt.Errorf("%w: segment %d is not unpadded base64url", ErrMalformed, i+1)
		}
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return Header{}, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	return parseHeader(hb)
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
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
			h.Kid = v
		case "typ":
			h.Typ = v
		default:
			return Header{}, fmt.Errorf("%w: header parameter %q is not allowed", ErrMalformed, name)
		}
	}
	if !asymmetric(h.Alg) {
		return Header{}, fmt.Errorf("%w: alg is not an asymmetric signature algorithm", ErrMalformed)
	}
	if t := strings.ToLower(h.Typ); t != "" && t != "jwt" {
		return Header{}, fmt.Errorf("%w: typ is not JWT (access tokens are not ID tokens)", ErrMalformed)
	}
	return h, nil
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
// refusing duplicate names and trailing data.
func strictStringObject(b []byte) (map[string]string, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		name := tok.(string)
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate parameter %q", name)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("parameter %q is not a string", name)
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON")
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 {
		return nil, fmt.Errorf("trailing data")
	}
	return out, nil
}
