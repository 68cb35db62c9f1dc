package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fuzz targets' seeds are the f.Add calls below plus the corpora in
// testdata/fuzz/FuzzPrecheck and testdata/fuzz/FuzzParseClaims (hostile
// headers and payloads, and the inputs earlier fuzzing runs found).
//
//	go test ./engine/verify -run='^$' -fuzz=FuzzPrecheck -fuzztime=5m
//	go test ./engine/verify -run='^$' -fuzz=FuzzParseClaims -fuzztime=5m

// leakWindow is the length of input text that must not reappear in an error
// unless the package's own source holds it too.
const leakWindow = 10

// vocabulary is the text an error may legitimately be made of: the sources
// of the code under test and the messages that print numbers.
func vocabulary(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, name := range []string{"precheck.go", "claims.go", "errors.go"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(src)
	}
	_, err := Precheck(strings.Repeat("a", fuzzMaxBytes+1), fuzzMaxBytes)
	b.WriteString(err.Error())
	return b.String()
}

// leaks reports a window of input text that err holds and the vocabulary
// does not: a piece of the input that reached the error.
func leaks(err error, vocab string, inputs ...string) (string, bool) {
	msg := err.Error()
	for _, in := range inputs {
		for i := 0; i+leakWindow <= len(in); i++ {
			w := in[i : i+leakWindow]
			if strings.Contains(msg, w) && !strings.Contains(vocab, w) {
				return w, true
			}
		}
	}
	return "", false
}

const fuzzMaxBytes = 4096

// maxFuzzPayload bounds FuzzParseClaims inputs: the fuzzer's effort goes
// to payloads of the size a token can carry, not to megabytes of JSON.
const maxFuzzPayload = 64 << 10

// slowParse is far more than any payload of maxFuzzPayload may take: an
// input that slow is a denial of service.
const slowParse = 2 * time.Second

// FuzzPrecheck: Precheck never panics; what it refuses is ErrMalformed with
// no piece of the input (segments or decoded header) in the message; what
// it accepts is three canonical base64url segments within the size, whose
// header is a JSON object of alg, kid and typ only, with an asymmetric alg,
// and which pre-checks the same again once re-encoded.
func FuzzPrecheck(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	seg := enc([]byte(`{"sub":"a"}`))
	for _, h := range []string{
		`{"alg":"RS256","kid":"k","typ":"JWT"}`,
		`{"alg":"ES256"}`,
		`{"alg":"none"}`,
		`{"alg":"HS256"}`,
		`{"alg":"rs256"}`,
		`{"alg":"RS256","jku":"https://evil.example/keys"}`,
		`{"alg":"RS256","jwk":{"kty":"RSA"}}`,
		`{"alg":"RS256","crit":["b64"],"b64":false}`,
		`{"alg":"RS256","alg":"none"}`,
		`{"alg":"RS256","\u0061lg":"none"}`,
		`{"alg":"RS256","typ":"at+jwt"}`,
		`{"alg":"RS256","kid":"\ud800"}`,
		`{"alg":"RS256"} x`,
	} {
		f.Add(enc([]byte(h)) + "." + seg + ".c2ln")
	}
	f.Add(enc([]byte(`{"alg":"none"}`)) + "." + seg + ".")
	f.Add("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d")
	f.Add(`{"payload":"e30","signatures":[{"protected":"e30","signature":"c2ln"}]}`)
	f.Add("e30=.e30.c2ln")
	f.Add("e31.e30.c2ln")
	f.Add("")
	vocab := vocabulary(f)
	f.Fuzz(func(t *testing.T, raw string) {
		h, err := Precheck(raw, fuzzMaxBytes)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %q is not ErrMalformed", err)
			}
			inputs := strings.Split(raw, ".")
			if hb, decErr := base64.RawURLEncoding.DecodeString(inputs[0]); decErr == nil {
				inputs = append(inputs, string(hb))
			}
			if w, leaked := leaks(err, vocab, inputs...); leaked {
				t.Fatalf("error %q holds input text %q", err, w)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 || len(raw) > fuzzMaxBytes {
			t.Fatalf("accepted a token that is not three segments within the size: %q", raw)
		}
		hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
		if err != nil {
			t.Fatalf("accepted a header that is not base64url: %v", err)
		}
		for _, p := range parts[1:] {
			if _, err := base64.RawURLEncoding.Strict().DecodeString(p); err != nil || p == "" {
				t.Fatalf("accepted a segment that is not canonical base64url: %q", p)
			}
		}
		var fields map[string]any
		if err := json.Unmarshal(hb, &fields); err != nil {
			t.Fatalf("accepted a header encoding/json refuses: %v", err)
		}
		for name := range fields {
			if name != "alg" && name != "kid" && name != "typ" {
				t.Fatalf("accepted header parameter %q", name)
			}
		}
		if !asymmetric(h.Alg) || fields["alg"] != h.Alg {
			t.Fatalf("accepted alg %q", h.Alg)
		}
		// Re-encoded, the same header pre-checks to the same result.
		again, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := Precheck(enc(again)+"."+parts[1]+"."+parts[2], fuzzMaxBytes+len(again))
		if err != nil || h2 != h {
			t.Fatalf("re-encoded header %s pre-checks to %+v, %v; first %+v", again, h2, err, h)
		}
	})
}

// FuzzParseClaims: ParseClaims never panics; what it refuses is ErrClaims
// with no piece of the input in the message; what it accepts is a JSON
// object that encoding/json reads to the same values, whose registered
// claims have their types, with no top-level names equal under case
// folding, and whose re-encoding parses to the same claims again.
func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{
		`{"sub":"a","exp":1700000000,"aud":["x","y"],"n":{"a":[1,2,{"b":null}]}}`,
		`{"iss":"https://gitlab.example.com","sub":"project_path:g/p:ref_type:branch:ref:main","aud":"https://sts.example.com","exp":1700000300,"iat":1700000000,"nbf":1699999995,"jti":"x","ref_protected":"true","runner_id":1}`,
		`{"sub":"a","sub":"b"}`,
		`{"sub":"a","\u0073ub":"b"}`,
		`{"Sub":"a","sub":"b"}`,
		`{"iss":"a","iſs":"b"}`,
		`{"a":"\ud800"}`,
		`{"a":"\ud83d\ude00"}`,
		`{"a":"\udc00\ud800"}`,
		`{"exp":"1700000000"}`,
		`{"aud":[1]}`,
		`{"aud":null}`,
		`{"big":123456789012345678901234567890,"f":-0.0e-0}`,
		`{} {}`,
		`{}` + "\u00a0",
		`[]`,
		"{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	vocab := vocabulary(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > maxFuzzPayload {
			return // a payload inside a 16 KiB token is far smaller
		}
		start := time.Now()
		c, err := ParseClaims(payload)
		if d := time.Since(start); d > slowParse {
			t.Fatalf("parsing %d bytes took %s", len(payload), d)
		}
		if err != nil {
			if !errors.Is(err, ErrClaims) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %q is not ErrClaims", err)
			}
			if w, leaked := leaks(err, vocab, string(payload)); leaked {
				t.Fatalf("error %q holds input text %q", err, w)
			}
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
		names := slices.Collect(maps.Keys(c))
		if len(names) <= 64 { // strings.EqualFold is the oracle, pair by pair
			for i, a := range names {
				for _, b := range names[i+1:] {
					if strings.EqualFold(a, b) {
						t.Fatalf("accepted names %q and %q, equal under case folding", a, b)
					}
				}
			}
		}
		for _, name := range []string{"exp", "nbf", "iat"} {
			if v, ok := c[name]; ok {
				if _, isNumber := v.(json.Number); !isNumber {
					t.Fatalf("accepted %s of type %T", name, v)
				}
			}
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseClaims(again)
		if err != nil {
			t.Fatalf("re-encoded claims are refused: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-encoded claims parse differently: %v vs %v", c, c2)
		}
	})
}
