package policy

import (
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/util"
)

// entryTexts are entries decodeRawEntry decodes itself and entries it
// leaves to encoding/json: each must decode to what util.UnmarshalJSON
// gives, or fail as it does.
var entryTexts = []string{
	`{"roles":["deployer"],"scopes":["read","write"],"audiences":["https://api.example.com"],"ttl":"15m","federations":[{"provider":"gitlab","claims":{"project_path":"g/p","ref_protected":"true"},"refs":["branch:main","tag:v*"]}]}`,
	`{}`, `[]`, `{"a":[]}`, `{"a":{}}`, `{ "a" : [ 1 , 2 ] }`,
	`{"n":0,"m":-0,"f":1.5e-3,"g":-12E+4,"h":10.25}`,
	`{"t":true,"f":false,"z":null}`,
	`{"a":1,"a":2}`,
	`{"esc":"a\"b\\c\u00e9\n"}`, `{"\u0061":"key escaped"}`,
	`{"s":"\ud83d\ude00 pair","lone":"\ud83d"}`,
	"{\"bad\":\"\xff\xfe\"}", "{\"utf8\":\"é→😀\"}",
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":+1}`,
	`{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`,
	`{"a":1}x`, `{"a":1} `, ` {"a":1}`, `{"a":"unterminated}`, `{"a":"tab	in"}`, ``, `"s"`, `12`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
}

func TestAnEntryDecodesAsEncodingJSONDecodesIt(t *testing.T) {
	for _, text := range entryTexts {
		checkEntryDecoding(t, []byte(text))
	}
}

func checkEntryDecoding(t *testing.T, raw []byte) {
	t.Helper()
	var want any
	wantErr := util.UnmarshalJSON(raw, &want)
	got, err := decodeRawEntry(raw, nil)
	strs := map[string]any{}
	again, againErr := decodeRawEntry(raw, strs)
	if (err == nil) != (againErr == nil) || !reflect.DeepEqual(got, again) {
		t.Fatalf("decodeRawEntry(%q) with strings kept = %#v, %v; without, %#v, %v", raw, again, againErr, got, err)
	}
	if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("decodeRawEntry(%q) error %v, util.UnmarshalJSON's %v", raw, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRawEntry(%q) = %#v, util.UnmarshalJSON gives %#v", raw, got, want)
	}
}

func FuzzDecodeRawEntry(f *testing.F) {
	for _, text := range entryTexts {
		f.Add([]byte(text))
	}
	f.Fuzz(checkEntryDecoding)
}
