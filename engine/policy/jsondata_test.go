package policy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/util"
)

// decoded is x with every rawEntry decoded.
func decoded(t *testing.T, x any) any {
	t.Helper()
	switch x := x.(type) {
	case rawEntry:
		v, err := entryValue(x)
		if err != nil {
			t.Fatalf("a kept identity does not decode: %v", err)
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = decoded(t, v)
		}
		return out
	}
	return x
}

func TestStreamedDataDecodesAsOPAsDecoderAndFailsWhereItFails(t *testing.T) {
	tests := []struct {
		name   string
		prefix []string
		text   string
		bad    bool
	}{
		{name: "Identities, providers and custom data decode to the same values, numbers kept as written.", text: `{"trustgate": {"providers": {"gl": {"issuer": "https://gitlab.com"}}, "identities": {"a": {"ttl": "15m", "n": 1.50, "federations": [{"provider": "gl"}]}, "b": {}}}, "custom": [1, 2e3]}`},
		{name: "A pretty-printed identity decodes to the same value.", text: "{\"trustgate\": {\"identities\": {\n  \"a\": {\n\t\"email\": \"a b@example.com\",\r\n  \"roles\": [ \"x\" ]\n  }\n}}}"},
		{name: "Of two equal identity names the last wins, as in OPA's decoder.", text: `{"trustgate": {"identities": {"a": {"email": "first"}, "a": {"email": "second"}}}}`},
		{name: "Of two trustgate keys the last wins whole.", text: `{"trustgate": {"identities": {"a": {}}}, "trustgate": {"providers": {}}}`},
		{name: "Identities that are a list, not a mapping, decode as a list.", text: `{"trustgate": {"identities": [{"a": 1}, "b", null, true]}}`},
		{name: "Identities that are a string decode as a string.", text: `{"trustgate": {"identities": "all"}}`},
		{name: "An identity that is not a mapping decodes as it is.", text: `{"trustgate": {"identities": {"a": [1, "x"], "b": null}}}`},
		{name: "A file under trustgate/ holds the identities at its root's identities key.", prefix: []string{"trustgate"}, text: `{"identities": {"a": {"roles": ["r"]}}}`},
		{name: "A file under trustgate/identities/ holds identities at its root.", prefix: []string{"trustgate", "identities"}, text: `{"a": {"roles": ["r"]}}`},
		{name: "A file of one identity decodes whole.", prefix: []string{"trustgate", "identities", "a"}, text: `{"roles": ["r"]}`},
		{name: "A root that is a list decodes as a list.", text: `[1, {"trustgate": {}}]`},
		{name: "Text after the value is refused.", text: `{"trustgate": {}} {}`, bad: true},
		{name: "Text after the value of an identity is refused.", text: `{"trustgate": {"identities": {"a": {}} x}}`, bad: true},
		{name: "An unclosed identity is refused.", text: `{"trustgate": {"identities": {"a": {"roles": [}}}`, bad: true},
		{name: "An unclosed identities mapping is refused.", text: `{"trustgate": {"identities": {"a": {}`, bad: true},
		{name: "A key that is not a string is refused.", text: `{"trustgate": {"identities": {1: {}}}}`, bad: true},
		{name: "An empty file is refused.", text: ``, bad: true},
		{name: "An identity nested to the depth OPA's decoder allows, counted from the file's root, decodes.", text: nested(`{"trustgate": {"identities": {"a": `, maxJSONDepth-3, `}}}`)},
		{name: "An identity nested one level deeper than OPA's decoder allows is refused.", text: nested(`{"trustgate": {"identities": {"a": `, maxJSONDepth-2, `}}}`), bad: true},
		{name: "An identity of a list of identities nested too deep is refused.", text: nested(`{"trustgate": {"identities": [`, maxJSONDepth-2, `]}}`), bad: true},
		{name: "Custom data nested too deep is refused.", text: nested(`{"trustgate": {"x": `, maxJSONDepth-1, `}}`), bad: true},
		{name: "Nesting in a string counts for nothing.", text: `{"trustgate": {"identities": {"a": {"email": "` + strings.Repeat(`[{\"\\`, maxJSONDepth) + `"}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want any
			wantErr := util.UnmarshalJSON([]byte(tt.text), &want)
			got, err := decodeJSONData([]byte(tt.text), tt.prefix)
			if tt.bad {
				if err == nil || wantErr == nil {
					t.Fatalf("decodeJSONData error %v, OPA's %v: want both to refuse", err, wantErr)
				}
				return
			}
			if err != nil || wantErr != nil {
				t.Fatalf("decodeJSONData error %v, OPA's %v: want neither", err, wantErr)
			}
			if got := decoded(t, got); !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeJSONData = %#v\nOPA's decoder = %#v", got, want)
			}
		})
	}
}

// nested is head, depth nested lists, and tail.
func nested(head string, depth int, tail string) string {
	return head + strings.Repeat("[", depth) + strings.Repeat("]", depth) + tail
}

func TestAnIdentityIsKeptAsCompactJSONText(t *testing.T) {
	got, err := decodeJSONData([]byte("{\"trustgate\": {\"identities\": {\"a\": {\n \"roles\": [\"x y\"]\n}, \"b\": {\"roles\": [\"z\"]}}}}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := got.(map[string]any)["trustgate"].(map[string]any)["identities"].(map[string]any)
	for name, want := range map[string]string{"a": `{"roles":["x y"]}`, "b": `{"roles": ["z"]}`} {
		raw, ok := ids[name].(rawEntry)
		if !ok || string(raw) != want {
			t.Errorf("identity %s is kept as %T %q, want the text %q", name, ids[name], ids[name], want)
		}
	}
}

// FuzzStreamedData: decodeJSONData refuses what OPA's decoder refuses and
// otherwise gives its value, at every prefix a data file can have.
func FuzzStreamedData(f *testing.F) {
	f.Add([]byte(`{"trustgate": {"identities": {"a": {"roles": ["r"]}, "a": 1}, "providers": {}}}`), uint8(0))
	f.Add([]byte(`{"identities": {"a": {}}}`), uint8(1))
	f.Add([]byte(`{"a": {"n": 1e400}}`), uint8(2))
	f.Add([]byte(`{"trustgate": {"identities": [1, {"x": "\u00e9"}]}} `), uint8(0))
	f.Add([]byte(`{"trustgate": {"identities": {"a": {}}} x`), uint8(0))
	prefixes := [][]string{nil, {"trustgate"}, {"trustgate", "identities"}, {"trustgate", "identities", "a"}, {"other"}}
	f.Fuzz(func(t *testing.T, text []byte, at uint8) {
		prefix := prefixes[int(at)%len(prefixes)]
		var want any
		wantErr := util.UnmarshalJSON(text, &want)
		got, err := decodeJSONData(text, prefix)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeJSONData error %v, OPA's %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if got := decoded(t, got); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeJSONData = %#v\nOPA's decoder = %#v", got, want)
		}
	})
}
