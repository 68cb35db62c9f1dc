package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxClaimsDepth bounds nesting in claims.
const maxClaimsDepth = 32

// ParseClaims is the one strict parse of a verified payload that the policy
// input is built from (DESIGN §10: go-oidc's lenient encoding/json is not).
// It refuses anything but a JSON object, invalid UTF-8, duplicate names at
// any depth, top-level names that differ only in case, nesting deeper than
// 32, and trailing data. Numbers stay json.Number, exactly as written.
func ParseClaims(payload []byte) (map[string]any, error) {
	if !utf8.Valid(payload) {
		return nil, fmt.Errorf("%w: claims are not valid UTF-8", ErrClaims)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrClaims)
	}
	obj, err := parseObject(dec, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	if len(bytes.TrimSpace(payload[dec.InputOffset():])) != 0 {
		return nil, fmt.Errorf("%w: trailing data after the claims", ErrClaims)
	}
	if err := noCaseDuplicates(obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClaims, err)
	}
	return obj, nil
}

var errJSON = errors.New("claims are not valid JSON")

func parseObject(dec *json.Decoder, depth int) (map[string]any, error) {
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errJSON
		}
		name := tok.(string)
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("claim %q appears twice", name)
		}
		v, err := parseValue(dec, depth)
		if err != nil {
			return nil, err
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, errJSON
	}
	return obj, nil
}

func parseArray(dec *json.Decoder, depth int) ([]any, error) {
	arr := []any{}
	for dec.More() {
		v, err := parseValue(dec, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, errJSON
	}
	return arr, nil
}

func parseValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errJSON
	}
	switch tok {
	case json.Delim('{'), json.Delim('['):
		if depth >= maxClaimsDepth {
			return nil, fmt.Errorf("claims nest deeper than %d", maxClaimsDepth)
		}
		if tok == json.Delim('{') {
			return parseObject(dec, depth+1)
		}
		return parseArray(dec, depth+1)
	}
	return tok, nil // string, json.Number, bool or nil
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
