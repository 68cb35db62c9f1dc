package policy

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/util"
)

func TestAppendJSONWritesWhatDecodesBackToTheSameValue(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{"An identity's usual fields survive.", `{"email": "a@x", "roles": ["r"], "ttl": "15m", "federations": [{"provider": "gitlab", "claims": {"project_path": ["g/a", "g/*"]}}]}`},
		{"Numbers keep their text.", `{"n": 12345678901234567890, "f": 1.5e-7, "z": -0}`},
		{"Booleans, null and empty values survive.", `{"t": true, "f": false, "n": null, "o": {}, "l": [], "s": ""}`},
		{"Quotes, backslashes and control characters are escaped.", `{"q\"k": "a\"b\\c\n\t\u0001\u001f"}`},
		{"HTML and non-ASCII text is kept as it is.", `{"h": "<a href=\"x\">&amp;</a>", "u": "é ☃ \u2028 𝄞"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want any
			if err := util.UnmarshalJSON([]byte(tt.json), &want); err != nil {
				t.Fatal(err)
			}
			b, err := appendJSON(nil, want)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := util.NewJSONDecoder(bytes.NewReader(b)).Decode(&got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s decodes to %#v, want %#v", b, got, want)
			}
		})
	}
}

func TestAppendJSONRefusesAValueDataCannotHold(t *testing.T) {
	if _, err := appendJSON(nil, map[string]any{"f": 1.5}); err == nil {
		t.Fatal("a float64 (data decodes numbers as json.Number) was written")
	}
}
