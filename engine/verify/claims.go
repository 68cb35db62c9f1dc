package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxClaimsDepth bounds nesting in claims.
const maxClaimsDepth = 32

// jsonSpace is JSON's whitespace (RFC 8259 §2); bytes.TrimSpace would also
// take Unicode spaces.
const jsonSpace = " \t\r\n"

// ParseClaims is the one strict parse of a payload that routing and the
// policy input are built from (DESIGN §10: go-oidc's lenient encoding/json
// is not). It refuses anything but one JSON object, invalid UTF-8 and
// unpaired surrogate escapes (RFC 8725 §3.7), duplicate names at any depth
// (escaped spellings included; RFC 7519 §4), top-level names that differ
// only in case (encoding/json, and so go-oidc, matches names that way),
// nesting deeper than 32, and trailing data. The registered claims must
// have their registered types when present: iss, sub and jti strings, aud a
// string or an array of strings, exp, nbf and iat JSON numbers (RFC 7519 §2
// NumericDate; a quoted number is refused). Numbers stay json.Number,
// exactly as written.
//
// Whether a claim is required, and its value, is Verify's business: a
// claims file given to `trustgate explain` need not hold exp. Errors wrap
// ErrClaims and name only registered claims, never sender-chosen text.
func ParseClaims(payload []byte) (map[string]any, error) {
	if !utf8.Valid(payload) {
		return nil, fmt.Errorf("%w: claims are not valid UTF-8", ErrClaims)
	}
	trimmed := bytes.TrimLeft(payload, jsonSpace)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrClaims)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, fmt.Errorf("%w: claims are not a valid JSON object", ErrClaims)
	}
	if len(bytes.TrimLeft(payload[dec.InputOffset():], jsonSpace)) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the claims", ErrClaims)
	}
	// encoding/json keeps the last of duplicate names and replaces unpaired
	// surrogates: look for both in the (now known valid) text.
	if err := checkSurrogates(payload); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrClaims, err)
	}
	if err := checkNames(payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if err := noCaseDuplicates(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if err := registeredTypes(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if err := oidcTypes(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	return claims, nil
}

// oidcTypes holds the OpenID Connect claims go-oidc's ID token reads to the
// types it reads them as, so that a token go-oidc would refuse is refused
// here too: nonce and at_hash strings; _claim_names a mapping of claim names
// to non-empty source names, each a key of _claim_sources; _claim_sources a
// mapping of sources whose endpoint and access_token are strings (OpenID
// Connect Core 1.0 §5.6.2).
func oidcTypes(c map[string]any) error {
	for _, name := range [...]string{"nonce", "at_hash"} {
		if v, ok := c[name]; ok {
			if _, isString := v.(string); !isString {
				return fmt.Errorf("claim %s is not a string", name)
			}
		}
	}
	sources, _ := c["_claim_sources"].(map[string]any)
	if _, present := c["_claim_sources"]; present && sources == nil {
		return errors.New("claim _claim_sources is not a mapping")
	}
	for _, src := range sources {
		obj, ok := src.(map[string]any)
		if !ok {
			return errors.New("claim _claim_sources holds a source that is not a mapping")
		}
		for _, field := range [...]string{"endpoint", "access_token"} {
			if v, present := obj[field]; present {
				if _, isString := v.(string); !isString {
					return fmt.Errorf("claim _claim_sources holds a %s that is not a string", field)
				}
			}
		}
	}
	names, _ := c["_claim_names"].(map[string]any)
	if _, present := c["_claim_names"]; present && names == nil {
		return errors.New("claim _claim_names is not a mapping")
	}
	for _, src := range names {
		s, _ := src.(string)
		if _, known := sources[s]; !known || s == "" {
			return errors.New("claim _claim_names names a source that _claim_sources does not have")
		}
	}
	return nil
}

// registeredTypes holds the registered claims (RFC 7519 §4.1) to their types.
func registeredTypes(c map[string]any) error {
	for _, name := range [...]string{"iss", "sub", "jti"} {
		if v, ok := c[name]; ok {
			if _, isString := v.(string); !isString {
				return fmt.Errorf("claim %s is not a string", name)
			}
		}
	}
	for _, name := range [...]string{"exp", "nbf", "iat"} {
		if v, ok := c[name]; ok {
			if _, isNumber := v.(json.Number); !isNumber {
				return fmt.Errorf("claim %s is not a JSON number (RFC 7519 §2 NumericDate)", name)
			}
		}
	}
	if aud, present := c["aud"]; present {
		switch a := aud.(type) {
		case string:
		case []any:
			for _, x := range a {
				if _, isString := x.(string); !isString {
					return errors.New("claim aud is not a string or an array of strings")
				}
			}
		default:
			return errors.New("claim aud is not a string or an array of strings")
		}
	}
	return nil
}

// claimName is name when it is a registered JWT or OpenID Connect claim
// name, else a placeholder: sender-chosen text never reaches an error (nor,
// through it, the decision log).
func claimName(name []byte) string {
	switch s := string(name); s {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "nonce", "at_hash", "c_hash",
		"auth_time", "acr", "amr", "sid", "_claim_names", "_claim_sources":
		return s
	}
	return "(unregistered)"
}

// frame is one open object or array while scanning.
type frame struct {
	object    bool
	expectKey bool
	names     [][]byte            // the first few names of an object
	many      map[string]struct{} // all of them, once there are more
}

// smallObject is how many names an object's frame compares linearly before
// it switches to a map, so that a payload of many names costs linear time.
const smallObject = 8

// checkNames scans valid JSON text and refuses a name given twice in one
// object, and nesting deeper than maxClaimsDepth.
func checkNames(b []byte) error {
	stack := make([]frame, 0, 4)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if len(stack) >= maxClaimsDepth {
				return fmt.Errorf("claims nest deeper than %d", maxClaimsDepth)
			}
			stack = append(stack, frame{object: b[i] == '{', expectKey: b[i] == '{'})
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("claims are not valid JSON")
			}
			stack = stack[:len(stack)-1]
		case ',':
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].expectKey = true
			}
		case '"':
			end := stringEnd(b, i)
			if len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey {
				top := &stack[len(stack)-1]
				if err := top.addName(b[i : end+1]); err != nil {
					return err
				}
				top.expectKey = false
			}
			i = end
		}
	}
	return nil
}

// stringEnd is the index of the closing quote of the string opening at i.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(b) - 1
}

// addName records a quoted name, unescaping it first when it has escapes
// ("\u0069ss" is "iss").
func (f *frame) addName(quoted []byte) error {
	name := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if err := json.Unmarshal(quoted, &s); err != nil {
			return errors.New("claims hold a malformed name")
		}
		name = []byte(s)
	}
	if f.many != nil {
		if _, dup := f.many[string(name)]; dup {
			return fmt.Errorf("claim %s appears twice (RFC 7519 §4)", claimName(name))
		}
		f.many[string(name)] = struct{}{}
		return nil
	}
	for _, seen := range f.names {
		if bytes.Equal(seen, name) {
			return fmt.Errorf("claim %s appears twice (RFC 7519 §4)", claimName(name))
		}
	}
	f.names = append(f.names, name)
	if len(f.names) > smallObject {
		f.many = make(map[string]struct{}, 2*len(f.names))
		for _, n := range f.names {
			f.many[string(n)] = struct{}{}
		}
		f.names = nil
	}
	return nil
}

// checkSurrogates refuses \u escapes that are unpaired UTF-16 surrogates:
// encoding/json silently turns them into U+FFFD, so two different signed
// texts would read as one value (RFC 8259 §8.2).
func checkSurrogates(b []byte) error {
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i+1 < len(b); {
		if b[i+1] != 'u' {
			i = next(b, i+2)
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return nil // not valid JSON; the decoder refuses it
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := rune(0), false
			if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				lo, ok = hex4(b, i+8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return errors.New("an unpaired UTF-16 surrogate escape")
			}
			i = next(b, i+12)
		case r >= 0xDC00 && r <= 0xDFFF:
			return errors.New("an unpaired UTF-16 surrogate escape")
		default:
			i = next(b, i+6)
		}
	}
	return nil
}

// next is the index of the next backslash at or after i, or -1.
func next(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	j := bytes.IndexByte(b[i:], '\\')
	if j < 0 {
		return -1
	}
	return i + j
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// noCaseDuplicates refuses top-level names that are equal under Unicode
// simple case folding, the matching encoding/json applies to struct fields
// ("ISS" and "iſs" both fill go-oidc's iss).
func noCaseDuplicates(obj map[string]any) error {
	seen := make(map[string]string, len(obj))
	for name := range obj {
		folded := foldKey(name)
		if other, dup := seen[folded]; dup {
			return fmt.Errorf("claims %s and %s differ only in case", claimName([]byte(other)), claimName([]byte(name)))
		}
		seen[folded] = name
	}
	return nil
}

// foldKey maps s to one representative of its case-folding class: each rune
// becomes the smallest rune of its simple folding orbit, so foldKey(a) ==
// foldKey(b) exactly when strings.EqualFold(a, b).
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The smallest rune of an ASCII letter's orbit is its upper case.
		return strings.ToUpper(s)
	}
	buf := make([]rune, 0, len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		buf = append(buf, least)
	}
	return string(buf)
}
