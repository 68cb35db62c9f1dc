package verify

import (
	"encoding/json"
	"errors"
	"strconv"
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

func TestParseClaimsRefusesWhatGoOIDCWouldReadDifferently(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"an unpaired high surrogate escape (RFC 8259 §8.2: encoding/json makes it U+FFFD)", `{"sub":"a\ud800"}`},
		{"an unpaired low surrogate escape (RFC 8259 §8.2)", `{"sub":"\udc00a"}`},
		{"surrogates in the wrong order (RFC 8259 §8.2)", `{"sub":"\udc00\ud800"}`},
		{"an unpaired surrogate in a name (RFC 8259 §8.2)", `{"\ud800":"a"}`},
		{"a name folded with the long s, which encoding/json matches to iss (Unicode simple folding)", `{"iss":"https://a.example","iſs":"https://b.example"}`},
		{"a name folded with the Kelvin sign, escaped (Unicode simple folding)", `{"kid":"a","\u212aid":"b"}`},
		{"a duplicate among many names, past the linear scan", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"e":12}`},
		{"a duplicate in an object inside an array (RFC 7519 §4)", `{"x":[{"a":1},{"b":1,"b":2}]}`},
		{"trailing non-breaking space, which is not JSON whitespace (RFC 8259 §2)", "{\"sub\":\"a\"}\u00a0"},
		{"a byte order mark (RFC 8259 §8.1: MUST NOT be added)", "\ufeff{\"sub\":\"a\"}"},
		{"overlong UTF-8 (RFC 3629 §3)", "{\"sub\":\"\xc0\xaf\"}"},
		{"UTF-8 of a surrogate (RFC 3629 §3)", "{\"sub\":\"\xed\xa0\x80\"}"},
		{"exp as a quoted number (RFC 7519 §2 NumericDate)", `{"exp":"1700000000"}`},
		{"iat as a boolean (RFC 7519 §4.1.6)", `{"iat":true}`},
		{"nbf as null (RFC 7519 §4.1.5)", `{"nbf":null}`},
		{"exp as an object (RFC 7519 §4.1.4)", `{"exp":{"$date":1}}`},
		{"iss as a number (RFC 7519 §4.1.1: StringOrURI)", `{"iss":1}`},
		{"sub as an array (RFC 7519 §4.1.2)", `{"sub":["a"]}`},
		{"jti as a number (RFC 7519 §4.1.7)", `{"jti":7}`},
		{"aud as a number (RFC 7519 §4.1.3)", `{"aud":1}`},
		{"aud as null (RFC 7519 §4.1.3)", `{"aud":null}`},
		{"aud as an object (RFC 7519 §4.1.3)", `{"aud":{"a":"b"}}`},
		{"aud as an array holding a number (RFC 7519 §4.1.3)", `{"aud":["a",1]}`},
		{"aud as nested arrays (RFC 7519 §4.1.3)", `{"aud":[["a"]]}`},
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

func TestParseClaimsAcceptsRealClaimSets(t *testing.T) {
	tests := []struct {
		name    string
		payload string
	}{
		{"a GitLab CI id_token", string(benchPayload)},
		{"aud as an array of strings (RFC 7519 §4.1.3)", `{"aud":["a","b"],"sub":"s"}`},
		{"an empty object", `{}`},
		{"a surrogate pair escape (RFC 8259 §7)", `{"sub":"\ud83d\ude00"}`},
		{"an escaped backslash before u, which is no escape", `{"sub":"\\ud800"}`},
		{"names equal only after Unicode normalization, which JSON does not do", "{\"caf\u00e9\":1,\"cafe\u0301\":2}"},
		{"the same name in two nested objects", `{"a":{"x":1},"b":{"x":1}}`},
		{"names differing in case below the top level (only the top level reaches go-oidc)", `{"a":{"x":1,"X":2}}`},
		{"dotted and dashed names", `{"https://example.com/claim":1,"ref-name":"x"}`},
		{"fractional and exponent dates (RFC 7519 §2 NumericDate)", `{"exp":1.7e9,"iat":1699999999.5}`},
		{"leading and trailing JSON whitespace (RFC 8259 §2)", " \t\r\n{\"sub\":\"a\"}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseClaims([]byte(tc.payload)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseClaimsErrorsNameOnlyRegisteredClaims(t *testing.T) {
	secret := "eyJzZWNyZXQiOiJ0b2tlbiJ9"
	for _, payload := range []string{
		`{"` + secret + `":1,"` + secret + `":2}`,
		`{"` + secret + `":1,"` + strings.ToUpper(secret) + `":2}`,
		`{"x":{"` + secret + `":1,"` + secret + `":2}}`,
	} {
		_, err := ParseClaims([]byte(payload))
		if err == nil || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(secret)) {
			t.Fatalf("error %v repeats a sender-chosen claim name", err)
		}
	}
	_, err := ParseClaims([]byte(`{"sub":"` + secret + `","sub":"b"}`))
	if err == nil || !strings.Contains(err.Error(), "sub") || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v should name sub and not its value", err)
	}
}

func TestParseClaimsBoundsTheCostOfManyNames(t *testing.T) {
	// A payload of many names costs linear time: the duplicate check
	// switches to a map past the first few names of an object.
	var b strings.Builder
	b.WriteString("{")
	for i := range 4000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"n` + strconv.Itoa(i) + `":0`)
	}
	b.WriteString(`,"n3999":1}`)
	if _, err := ParseClaims([]byte(b.String())); !errors.Is(err, ErrClaims) {
		t.Fatalf("the duplicate at the end of 4000 names was not found: %v", err)
	}
}
