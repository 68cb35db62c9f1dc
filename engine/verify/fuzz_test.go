package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzPrecheck: Precheck never panics, accepts only three base64url
// segments with an allowed header, and its errors never hold input text.
func FuzzPrecheck(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"RS256","kid":"k","typ":"JWT"}`)) + "." + enc([]byte(`{"sub":"a"}`)) + ".c2ln")
	f.Add(enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{}`)) + ".")
	f.Add(enc([]byte(`{"alg":"HS256"}`)) + ".e30.c2ln")
	f.Add(enc([]byte(`{"alg":"RS256","jku":"https://evil"}`)) + ".e30.c2ln")
	f.Add(enc([]byte(`{"alg":"RS256","alg":"none"}`)) + ".e30.c2ln")
	f.Add("a.b.c.d.e")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := Precheck(raw, 4096)
		if err != nil {
			for _, seg := range strings.Split(raw, ".") {
				if len(seg) >= 8 && strings.Contains(err.Error(), seg) {
					t.Fatalf("error %q holds input segment %q", err, seg)
				}
			}
			return
		}
		if strings.Count(raw, ".") != 2 || len(raw) > 4096 {
			t.Fatalf("accepted a token that is not three segments within the size: %q", raw)
		}
		if !asymmetric(h.Alg) {
			t.Fatalf("accepted alg %q", h.Alg)
		}
	})
}

// FuzzParseClaims: ParseClaims never panics; what it accepts is a JSON
// object that encoding/json also reads, with the same values.
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"sub":"a","exp":1700000000,"aud":["x","y"],"n":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte(`{"sub":"a","sub":"b"}`))
	f.Add([]byte(`{"sub":"a","\u0073ub":"b"}`))
	f.Add([]byte(`{"Sub":"a","sub":"b"}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := ParseClaims(payload)
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("values differ from encoding/json's: %v vs %v", c, want)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseClaims(again); err != nil {
			t.Fatalf("re-encoded claims are refused: %v", err)
		}
	})
}
