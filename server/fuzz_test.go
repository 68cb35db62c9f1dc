package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeExchangeRequest: the JSON endpoint's decoder never panics, and
// what it accepts is one JSON object that encoding/json reads to the same
// request.
func FuzzDecodeExchangeRequest(f *testing.F) {
	f.Add([]byte(`{"token":"a.b.c","identity":"deploy","scopes":["read"],"audience":"https://api"}`))
	f.Add([]byte(`{"token":"a","token":"b"}`))
	f.Add([]byte(`{"Token":"a"}`))
	f.Add([]byte(`{"token":"a"} x`))
	f.Add([]byte(`{"token":null}`))
	f.Add([]byte("{\"token\":\"\xff\"}"))
	f.Add([]byte(`{"scopes":[[[[[[]]]]]]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeExchangeRequest(body)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		var want exchangeRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if req.Token != want.Token || req.Identity != want.Identity || req.Email != want.Email ||
			req.Audience != want.Audience || strings.Join(req.Scopes, " ") != strings.Join(want.Scopes, " ") {
			t.Fatalf("decoded %+v, encoding/json %+v", req, want)
		}
	})
}

// FuzzReadForm: the form reader never panics, and what it accepts parses
// as a form with no single-valued parameter repeated and only UTF-8.
func FuzzReadForm(f *testing.F) {
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token")
	f.Add("subject_token=a&subject_token=b")
	f.Add("a=%zz")
	f.Add("a=%ff")
	f.Add("audience=x&audience=y;z")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		got, err := readForm(r, "grant_type", "subject_token")
		if err != nil {
			return
		}
		want, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("accepted a body url.ParseQuery refuses: %v", err)
		}
		for _, name := range []string{"grant_type", "subject_token"} {
			if len(want[name]) > 1 {
				t.Fatalf("accepted %s repeated", name)
			}
		}
		for name, vs := range got {
			if !utf8.ValidString(name) {
				t.Fatal("accepted a non-UTF-8 name")
			}
			for _, v := range vs {
				if !utf8.ValidString(v) {
					t.Fatal("accepted a non-UTF-8 value")
				}
			}
		}
	})
}
