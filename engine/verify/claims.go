package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxClaimsDepth bounds nesting in claims.
const maxClaimsDepth = 32

// ParseClaims is the one strict parse of a verified payload that the policy
// input is built from (DESIGN §10: go-oidc's lenient encoding/json is not).
// It refuses anything but a JSON object, invalid UTF-8, duplicate names at
// any depth (escaped spellings included), top-level names that differ only
// in case, nesting deeper than 32, and trailing data. Numbers stay
// json.Number, exactly as written.
func ParseClaims(payload []byte) (map[string]any, error) {
	if !utf8.Valid(payload) {
		return nil, fmt.Errorf("%w: claims are not valid UTF-8", ErrClaims)
	}
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrClaims)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, fmt.Errorf("%w: claims are not a valid JSON object", ErrClaims)
	}
	if len(bytes.TrimSpace(payload[dec.InputOffset():])) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the claims", ErrClaims)
	}
	// encoding/json keeps the last of duplicate names: look for them in
	// the (now known valid) text.
	if err := checkNames(payload); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if err := noCaseDuplicates(claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	return claims, nil
}

// frame is one open object or array while scanning.
type frame struct {
	object    bool
	expectKey bool
	names     [][]byte
}

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
			stack = stack[:len(stack)-1]
		case ',':
			if top := &stack[len(stack)-1]; top.object {
				top.expectKey = true
			}
		case '"':
			end := stringEnd(b, i)
			if top := &stack[len(stack)-1]; top.object && top.expectKey {
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
			return fmt.Errorf("claims hold a malformed name")
		}
		name = []byte(s)
	}
	for _, seen := range f.names {
		if bytes.Equal(seen, name) {
			return fmt.Errorf("claim %q appears twice", name)
		}
	}
	f.names = append(f.names, name)
	return nil
}

func noCaseDuplicates(obj map[string]any) error {
	seen := make(map[string]string, len(obj))
	for name := range obj {
		folded := strings.ToLower(name)
		if other, dup := seen[folded]; dup {
			return fmt.Errorf("claims %q and %q differ only in case", other, name)
		}
		seen[folded] = name
	}
	return nil
}
