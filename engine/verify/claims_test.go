package verify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseClaimsRefusesAmbiguousOrMalformedPayloads(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"a duplicate name (RFC 7519 §4: parsers MUST reject or use the last; we reject)", `{"sub":"a","sub":"b"}`},
		{"a duplicate name spelled with an escape", `{"sub":"a","\u0073ub":"b"}`},
		{"a duplicate name in a nested object", `{"x":{"a":1,"a":2}}`},
		{"top-level names that differ only in case (go-oidc's encoding/json folds case)", `{"sub":"a","SUB":"b"}`},
		{"trailing data after the object", `{"sub":"a"} {"sub":"b"}`},
		{"trailing garbage", `{"sub":"a"}x`},
		{"an array", `["sub"]`},
		{"a string", `"sub"`},
		{"null", `null`},
		{"invalid UTF-8 (RFC 8725 §3.7)", "{\"sub\":\"\xff\"}"},
		{"nesting deeper than 32", `{"a":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`},
		{"a truncated object", `{"sub":"a"`},
		{"empty input", ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClaims([]byte(tc.payload))
			if err == nil {
				t.Fatalf("accepted: %v", c)
			}
			if !errors.Is(err, ErrClaims) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not match ErrClaims and ErrInvalidToken", err)
			}
		})
	}
}

func TestParseClaimsKeepsValuesExact(t *testing.T) {
	c, err := ParseClaims([]byte(`{"exp": 1700000000, "big": 123456789012345678901234567890, "s": "a\"b", "q": "1700000000", "b": true, "n": null, "arr": [1, "x"], "o": {"k": "v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c["exp"] != json.Number("1700000000") || c["big"] != json.Number("123456789012345678901234567890") {
		t.Fatalf("numbers not kept exact: %#v %#v", c["exp"], c["big"])
	}
	if c["q"] != "1700000000" || c["s"] != `a"b` || c["b"] != true || c["n"] != nil {
		t.Fatalf("values changed: %#v", c)
	}
}
