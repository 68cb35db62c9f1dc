package enginetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// rawSignature is a JWS signature (RFC 7518 §3.3, §3.4) over input.
func rawSignature(t testing.TB, k Key, input []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(input)
	switch s := k.Signer.(type) {
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, sv, err := ecdsa.Sign(rand.Reader, s, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		fill(out[:32], r)
		fill(out[32:], sv)
		return out
	}
	t.Fatalf("enginetest: cannot sign raw with %T", k.Signer)
	return nil
}

func fill(dst []byte, n *big.Int) { n.FillBytes(dst) }
