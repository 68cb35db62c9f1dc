package verify

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// token builds header.payload.signature from a header's JSON text.
func token(header string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(`{"sub":"a"}`)) + "." + enc(make([]byte, 256))
}

func TestPrecheckRefusesEveryHostileForm(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	good := token(`{"alg":"RS256","kid":"k","typ":"JWT"}`)
	parts := strings.Split(good, ".")
	tests := []struct {
		name string
		raw  string
	}{
		// Size (RFC 8725 §3.1 says nothing of size; DESIGN §1 step 1 does).
		{"a token one byte over the limit (DESIGN §1: size before anything)", good + strings.Repeat("A", DefaultMaxTokenBytes-len(good)+1)},
		// Form (RFC 7515 §7.1).
		{"an empty string (RFC 7515 §7.1)", ""},
		{"one segment (RFC 7515 §7.1)", parts[0]},
		{"two segments (RFC 7515 §7.1)", parts[0] + "." + parts[1]},
		{"four segments (RFC 7515 §7.1)", good + ".e30"},
		{"five segments: a JWE (RFC 7516 §7.1)", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"},
		{"the JWS JSON serialization (RFC 7515 §7.2)", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`},
		{"the JWS JSON serialization after whitespace (RFC 7515 §7.2)", " \n{\"payload\":\"e30\"}"},
		{"an empty header segment (RFC 7515 §7.1)", "." + parts[1] + "." + parts[2]},
		{"an empty payload segment: a detached payload (RFC 7515 Appendix F)", parts[0] + ".." + parts[2]},
		{"an empty signature: an unsecured JWS (RFC 7515 Appendix A.5, RFC 8725 §3.1)", parts[0] + "." + parts[1] + "."},
		{"padding (RFC 7515 §2: base64url without padding)", parts[0] + "=." + parts[1] + "." + parts[2]},
		{"the standard base64 alphabet (RFC 4648 §4 is not §5)", parts[0] + "." + parts[1] + "." + parts[2] + "+/"},
		{"a space inside a segment (RFC 7515 §7.1)", parts[0] + "." + parts[1][:4] + " " + parts[1][4:] + "." + parts[2]},
		{"a leading space (RFC 7515 §7.1)", " " + good},
		{"a trailing newline (RFC 7515 §7.1)", good + "\n"},
		{"a segment of impossible length 4n+1 (RFC 4648 §5)", parts[0] + "." + parts[1] + ".AAAAA"},
		{"non-zero leftover bits: a second spelling of the same bytes (RFC 4648 §3.5)", parts[0] + ".e31." + parts[2]},
		{"non-zero leftover bits in a two-character tail: a second spelling of the signature (RFC 4648 §3.5)", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "B"},
		{"a NUL byte", parts[0] + "." + parts[1] + "\x00." + parts[2]},
		// Header: only alg, kid and typ (RFC 8725 §3.10, §3.11).
		{"a jku header: keys from a URL in the token (RFC 8725 §3.10, RFC 7515 §4.1.2)", token(`{"alg":"RS256","jku":"https://evil.example/keys"}`)},
		{"a jwk header: a key embedded in the token (RFC 7515 §4.1.3, CVE-2018-0114)", token(`{"alg":"RS256","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}`)},
		{"an x5u header (RFC 7515 §4.1.5)", token(`{"alg":"RS256","x5u":"https://evil.example/cert.pem"}`)},
		{"an x5c header (RFC 7515 §4.1.6)", token(`{"alg":"RS256","x5c":["MIIBIjANBgkq"]}`)},
		{"an x5t header (RFC 7515 §4.1.7)", token(`{"alg":"RS256","x5t":"dGh1bWI"}`)},
		{"an x5t#S256 header (RFC 7515 §4.1.8)", token(`{"alg":"RS256","x5t#S256":"dGh1bWI"}`)},
		{"a crit header (RFC 7515 §4.1.11)", token(`{"alg":"RS256","crit":["exp"],"exp":1}`)},
		{"b64 false: an unencoded payload (RFC 7797 §3)", token(`{"alg":"RS256","b64":false,"crit":["b64"]}`)},
		{"cty JWT: a nested token (RFC 7519 §5.2)", token(`{"alg":"RS256","cty":"JWT"}`)},
		{"an enc header: JWE in disguise (RFC 7516 §4.1.2)", token(`{"alg":"RS256","enc":"A256GCM"}`)},
		{"a zip header: compression (RFC 7516 §4.1.3, RFC 8725 §3.6)", token(`{"alg":"RS256","zip":"DEF"}`)},
		{"an unregistered header", token(`{"alg":"RS256","x-debug":"1"}`)},
		{"a header name in another case (RFC 7515 §4: names are case-sensitive)", token(`{"alg":"RS256","KID":"k"}`)},
		{"a duplicate alg, the second none (RFC 7515 §5.2 step 4, RFC 8725 §3.1)", token(`{"alg":"RS256","alg":"none"}`)},
		{"a duplicate alg spelled with an escape (RFC 7515 §5.2 step 4)", token(`{"alg":"RS256","\u0061lg":"none"}`)},
		{"a duplicate kid (RFC 7515 §5.2 step 4)", token(`{"alg":"RS256","kid":"a","kid":"b"}`)},
		{"an empty kid (RFC 7515 §4.1.4)", token(`{"alg":"RS256","kid":""}`)},
		{"a kid that is not a string (RFC 7515 §4.1.4)", token(`{"alg":"RS256","kid":1}`)},
		{"a header that is an array (RFC 7515 §4)", token(`["alg","RS256"]`)},
		{"a header that is not JSON (RFC 7515 §5.2 step 3)", token(`alg=RS256`)},
		{"a header with trailing data (RFC 8259 §2)", token(`{"alg":"RS256"}{}`)},
		{"a header that is not valid UTF-8 (RFC 8725 §3.7)", token("{\"alg\":\"RS256\",\"kid\":\"\xff\"}")},
		{"a header with an unpaired surrogate escape (RFC 8259 §8.2)", token(`{"alg":"RS256","kid":"\ud800"}`)},
		{"a header that is empty", enc(nil) + "." + parts[1] + "." + parts[2]},
		// alg (RFC 8725 §3.1, §3.2; RFC 7515 §4.1.1).
		{"alg none (RFC 8725 §3.1, RFC 7518 §3.6)", token(`{"alg":"none"}`)},
		{"alg None (RFC 7515 §4.1.1: case-sensitive)", token(`{"alg":"None"}`)},
		{"alg NONE", token(`{"alg":"NONE"}`)},
		{"alg HS256: a MAC keyed with the public key (CVE-2015-9235, RFC 8725 §2.1)", token(`{"alg":"HS256"}`)},
		{"alg HS384 (CVE-2015-9235)", token(`{"alg":"HS384"}`)},
		{"alg HS512 (CVE-2015-9235)", token(`{"alg":"HS512"}`)},
		{"alg rs256 in lower case (RFC 7515 §4.1.1)", token(`{"alg":"rs256"}`)},
		{"alg Rs256 in mixed case (RFC 7515 §4.1.1)", token(`{"alg":"Rs256"}`)},
		{"alg es256 in lower case (RFC 7515 §4.1.1)", token(`{"alg":"es256"}`)},
		{"alg EDDSA in upper case (RFC 8037 §3.1)", token(`{"alg":"EDDSA"}`)},
		{"alg RS256 with a trailing space", token(`{"alg":"RS256 "}`)},
		{"alg missing (RFC 7515 §4.1.1: MUST be present)", token(`{"kid":"k"}`)},
		{"alg empty", token(`{"alg":""}`)},
		{"alg a number", token(`{"alg":256}`)},
		{"alg an array", token(`{"alg":["RS256"]}`)},
		{"alg a key-wrapping algorithm (RFC 7518 §4.1)", token(`{"alg":"RSA-OAEP"}`)},
		{"alg dir (RFC 7518 §4.5)", token(`{"alg":"dir"}`)},
		// typ (RFC 8725 §3.11, RFC 9068 §2.1).
		{"typ at+jwt: an access token, Trustgate's own included (RFC 9068 §2.1)", token(`{"alg":"ES256","typ":"at+jwt"}`)},
		{"typ application/at+jwt (RFC 9068 §2.1)", token(`{"alg":"RS256","typ":"application/at+jwt"}`)},
		{"typ AT+JWT (RFC 7515 §4.1.9: media types are case-insensitive)", token(`{"alg":"RS256","typ":"AT+JWT"}`)},
		{"typ logout+jwt (OpenID Connect Back-Channel Logout §2.4)", token(`{"alg":"RS256","typ":"logout+jwt"}`)},
		{"typ secevent+jwt (RFC 8417 §2.3)", token(`{"alg":"RS256","typ":"secevent+jwt"}`)},
		{"typ JOSE (RFC 7515 §9.1.1)", token(`{"alg":"RS256","typ":"JOSE"}`)},
		{"typ empty", token(`{"alg":"RS256","typ":""}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Precheck(tc.raw, 0)
			if err == nil {
				t.Fatalf("accepted, header %+v", h)
			}
			if h != (Header{}) {
				t.Fatalf("a refusal returned a header: %+v", h)
			}
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v is not ErrMalformed and ErrInvalidToken", err)
			}
			for _, seg := range strings.Split(tc.raw, ".") {
				if len(seg) >= 4 && strings.Contains(err.Error(), seg) {
					t.Fatalf("error %q holds a segment of the token", err)
				}
			}
		})
	}
}

func TestPrecheckAcceptsWhatIDTokensLookLike(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Header
	}{
		{"GitLab's header: RS256 with kid and typ JWT", `{"kid":"4i3sFE7sxqNPOT7FdvcGA1ZVGGI_r-tsDXnEuYT4ZqE","typ":"JWT","alg":"RS256"}`, Header{Alg: "RS256", Kid: "4i3sFE7sxqNPOT7FdvcGA1ZVGGI_r-tsDXnEuYT4ZqE", Typ: "JWT"}},
		{"a header without typ (RFC 7519 §5.1: typ is optional)", `{"alg":"ES256","kid":"k"}`, Header{Alg: "ES256", Kid: "k"}},
		{"a header without kid (RFC 7515 §4.1.4: kid is optional)", `{"alg":"PS256"}`, Header{Alg: "PS256"}},
		{"typ jwt in lower case (RFC 7515 §4.1.9)", `{"alg":"RS256","typ":"jwt"}`, Header{Alg: "RS256", Typ: "jwt"}},
		{"typ application/jwt (RFC 7515 §4.1.9: the prefix may be written)", `{"alg":"RS256","typ":"application/jwt"}`, Header{Alg: "RS256", Typ: "application/jwt"}},
		{"whitespace inside the header JSON (RFC 8259 §2)", " {\n\"alg\" : \"EdDSA\" }\n", Header{Alg: "EdDSA"}},
		{"an escaped value (RFC 8259 §7)", `{"alg":"RS\u0032\u0035\u0036"}`, Header{Alg: "RS256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Precheck(token(tc.header), 0)
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.want {
				t.Fatalf("header %+v, want %+v", h, tc.want)
			}
		})
	}
	for _, alg := range []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"} {
		t.Run("alg "+alg+" (RFC 7518 §3.1, RFC 8037 §3.1)", func(t *testing.T) {
			if _, err := Precheck(token(`{"alg":"`+alg+`"}`), 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPrecheckChecksTheSizeBeforeAnythingElse(t *testing.T) {
	// A huge string that is not a token at all is refused for its size:
	// nothing was parsed.
	_, err := Precheck(strings.Repeat("{", 100), 64)
	if err == nil || !strings.Contains(err.Error(), "larger than 64 bytes") {
		t.Fatalf("error %v, want the size refusal", err)
	}
	exact := token(`{"alg":"RS256"}`)
	if _, err := Precheck(exact, len(exact)); err != nil {
		t.Fatalf("a token of exactly the limit was refused: %v", err)
	}
	if _, err := Precheck(exact, len(exact)-1); err == nil {
		t.Fatal("a token one byte over the limit was accepted")
	}
}

func TestPrecheckErrorsNameOnlyRegisteredHeaderParameters(t *testing.T) {
	secret := "eyJzZWNyZXQiOiJ0b2tlbiJ9"
	for _, header := range []string{
		`{"alg":"RS256","` + secret + `":"x"}`,
		`{"alg":"RS256","` + secret + `":1}`,
		`{"alg":"RS256","` + secret + `":"a","` + secret + `":"b"}`,
	} {
		_, err := Precheck(token(header), 0)
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "eyJ") {
			t.Fatalf("error %v repeats a sender-chosen header name", err)
		}
	}
	_, err := Precheck(token(`{"alg":"RS256","jku":"https://evil.example"}`), 0)
	if err == nil || !strings.Contains(err.Error(), `"jku"`) || strings.Contains(err.Error(), "evil") {
		t.Fatalf("error %v should name jku and not its value", err)
	}
}

func TestPrecheckSaysWhichFormItRefuses(t *testing.T) {
	good := token(`{"alg":"RS256"}`)
	tests := []struct {
		name string
		raw  string
		says string
	}{
		{"a JWE is named as encrypted, not merely miscounted (RFC 7516 §7.1)", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", "encrypted tokens (JWE) are refused"},
		{"the JWS JSON serialization is named as such (RFC 7515 §7.2)", `{"payload":"e30","protected":"e30","signature":"e30"}`, "JWS JSON serialization"},
		{"the JWS JSON serialization with two dots inside is still named as such", " {\"payload\":\"a.b.c\"}", "JWS JSON serialization"},
		{"four segments are miscounted, not taken for a JWE", good + ".e30", "not three dot-separated segments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Precheck(tc.raw, 0)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want ErrMalformed saying %q", err, tc.says)
			}
		})
	}
}
