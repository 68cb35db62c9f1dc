package verify_test

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/trustgate/trustgate/engine/verify"
)

func ExamplePrecheck() {
	enc := base64.RawURLEncoding.EncodeToString
	for _, header := range []string{
		`{"alg":"RS256","kid":"key-1","typ":"JWT"}`,
		`{"alg":"none"}`,
		`{"alg":"RS256","jku":"https://attacker.example/keys"}`,
		`{"alg":"ES256","typ":"at+jwt"}`,
	} {
		raw := enc([]byte(header)) + "." + enc([]byte(`{}`)) + "." + enc([]byte("signature"))
		h, err := verify.Precheck(raw, 0)
		fmt.Printf("alg %q, refused: %v\n", h.Alg, errors.Is(err, verify.ErrMalformed))
	}
	// Output:
	// alg "RS256", refused: false
	// alg "", refused: true
	// alg "", refused: true
	// alg "", refused: true
}

func ExampleParseClaims() {
	claims, err := verify.ParseClaims([]byte(`{"sub":"repo:org/app:ref:refs/heads/main","exp":1700000300,"run_number":"10"}`))
	fmt.Printf("%v %T %v\n", err, claims["exp"], claims["exp"])
	_, err = verify.ParseClaims([]byte(`{"sub":"a","sub":"b"}`))
	fmt.Println(err)
	_, err = verify.ParseClaims([]byte(`{"exp":"1700000300"}`))
	fmt.Println(err)
	// Output:
	// <nil> json.Number 1700000300
	// claims not acceptable: claim sub appears twice (RFC 7519 §4)
	// claims not acceptable: claim exp is not a JSON number (RFC 7519 §2 NumericDate)
}
