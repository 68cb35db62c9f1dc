package dupkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// manyKeys are more keys than an object compares in its list.
const manyKeys = `"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1, "h": 1, "i": 1, "j": 1`

func TestJSON(t *testing.T) {
	tests := []struct {
		name string
		text string
		want *Error
	}{
		{"Distinct keys are fine.", `{"a": 1, "b": {"a": 2}}`, nil},
		{"A key twice at the top level is found with both lines.", "{\n\"a\": 1,\n\"a\": 2}", &Error{Key: "a", First: 2, Second: 3}},
		{"A key twice deep inside is found with its path.", "{\"trustgate\": {\"identities\": {\n\"deploy\": {\"scopes\": [\"read\"]},\n\"deploy\": {\"scopes\": [\"read\", \"admin\"]}}}}",
			&Error{Path: "trustgate.identities", Key: "deploy", First: 2, Second: 3}},
		{"A key twice in an object inside a list is found.", "{\"f\": [{\"p\": 1,\n \"p\": 2}]}", &Error{Path: "f[]", Key: "p", First: 1, Second: 2}},
		{"A key spelled with an escape is the same key.", `{"sub": 1, "\u0073ub": 2}`, &Error{Key: "sub", First: 1, Second: 1}},
		{"Keys that differ in case are different keys.", `{"a": 1, "A": 2}`, nil},
		{"A string value equal to a key is no key.", `{"a": "a", "b": ["a", "b"]}`, nil},
		{"Quotes and braces inside strings are text.", `{"a": "\"}{,\"a\": ", "b": 2}`, nil},
		{"The same key in sibling objects is fine.", `[{"a": 1}, {"a": 2}]`, nil},
		{"A key twice in an object of many keys is found.", "{" + manyKeys + ",\n\"c\": 2}", &Error{Key: "c", First: 1, Second: 2}},
		{"The same keys in sibling objects of many keys are fine.", "[{" + manyKeys + "}, {" + manyKeys + "}]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := JSON([]byte(tt.text))
			check(t, err, tt.want)
		})
	}
}

func TestYAML(t *testing.T) {
	tests := []struct {
		name string
		text string
		want *Error
	}{
		{"Distinct keys are fine.", "a: 1\nb:\n  a: 2\n", nil},
		{"An identity defined twice is found with both lines.",
			"trustgate:\n  identities:\n    deploy:\n      scopes: [read]\n    deploy:\n      scopes: [read, admin]\n",
			&Error{Path: "trustgate.identities", Key: "deploy", First: 3, Second: 5}},
		{"A claim given twice in a federation is found.",
			"f:\n  - provider: gl\n    claims:\n      ref_protected: \"true\"\n      ref_protected: \"false\"\n",
			&Error{Path: "f[].claims", Key: "ref_protected", First: 4, Second: 5}},
		{"A quoted key is the same key as a plain one.", "a: 1\n\"a\": 2\n", &Error{Key: "a", First: 1, Second: 2}},
		{"A number key and its quoted text are one key, as OPA converts them.", "1: a\n\"1\": b\n", &Error{Key: "1", First: 1, Second: 2}},
		{"A boolean key and its quoted text are one key.", "m:\n  true: a\n  \"true\": b\n", &Error{Path: "m", Key: "true", First: 2, Second: 3}},
		{"Flow mappings are checked too.", "m: {a: 1, a: 2}\n", &Error{Path: "m", Key: "a", First: 1, Second: 1}},
		{"A merge key overridden is what merge keys are for.", "base: &b {a: 1}\nx:\n  <<: *b\n  a: 2\n", nil},
		{"Text the YAML parser refuses is left to the decoder.", "a: [unclosed\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, YAML([]byte(tt.text)), tt.want)
		})
	}
}

func check(t *testing.T, err error, want *Error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var got *Error
	if !errors.As(err, &got) {
		t.Fatalf("error %v, want %+v", err, want)
	}
	if *got != *want {
		t.Fatalf("error %+v, want %+v", *got, *want)
	}
}

// FuzzJSON: on valid JSON, JSON finds a key given twice exactly when a
// walk of encoding/json's tokens does, and never panics on any text.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"a": {"b": 1, "b": 2}}`))
	f.Add([]byte(`{"a": ["\"", {"x": 1}], "\u0061": 2}`))
	f.Add([]byte(`[{"a":1},{"a":1}]`))
	f.Add([]byte(`{"a": "\\", "b": "}"}`))
	f.Fuzz(func(t *testing.T, text []byte) {
		err := JSON(text)
		if !json.Valid(text) {
			return
		}
		if want := tokenWalkFindsDuplicate(t, text); want != (err != nil) {
			t.Fatalf("JSON says %v, a token walk says duplicate=%v", err, want)
		}
	})
}

func tokenWalkFindsDuplicate(t *testing.T, text []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(text))
	type level struct {
		object bool
		keys   map[string]bool
		key    bool // the next string is a key
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			t.Fatalf("a valid text does not walk: %v", err)
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &level{object: v == '{', keys: map[string]bool{}, key: true})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.key {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
			if top != nil && top.object {
				top.key = true
			}
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
	}
}

// FuzzYAML: YAML never panics on any text, and a key it finds twice is
// named at two lines in order (one line for a flow mapping).
func FuzzYAML(f *testing.F) {
	f.Add([]byte("a: 1\na: 2\n"))
	f.Add([]byte("x:\n  - {b: 1, b: 2}\n"))
	f.Add([]byte("base: &b {a: 1}\nx:\n  <<: *b\n  a: 2\n"))
	f.Add([]byte("1: a\n\"1\": b\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		err := YAML(text)
		var e *Error
		if err == nil || !errors.As(err, &e) {
			return
		}
		if e.First > e.Second || e.First < 1 {
			t.Fatalf("lines %d and %d: the first is not before the second", e.First, e.Second)
		}
	})
}
