package mint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // registers crypto.SHA256 for Thumbprint
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/go-jose/go-jose/v4"
)

// Signing algorithms a KeyRing can use.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// rsaBits is the size of generated RSA keys.
const rsaBits = 3072

// ErrKey is returned for keys that cannot be used.
var ErrKey = errors.New("unusable signing key")

// Key is one signing key with its algorithm and key id (the RFC 7638
// thumbprint of its public part).
type Key struct {
	ID        string
	Algorithm string
	Signer    crypto.Signer
}

// Generate returns a new key for alg.
func Generate(alg string) (Key, error) {
	var (
		s   crypto.Signer
		err error
	)
	switch alg {
	case ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	case RS256:
		s, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return Key{}, fmt.Errorf("%w: algorithm %q is not ES256, EdDSA or RS256", ErrKey, alg)
	}
	if err != nil {
		return Key{}, fmt.Errorf("%w: generate %s: %w", ErrKey, alg, err)
	}
	return NewKey(alg, s)
}

// NewKey checks that s suits alg and computes its key id.
func NewKey(alg string, s crypto.Signer) (Key, error) {
	if err := checkAlgorithm(alg, s); err != nil {
		return Key{}, err
	}
	sum, err := (&jose.JSONWebKey{Key: s.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return Key{}, fmt.Errorf("%w: thumbprint: %w", ErrKey, err)
	}
	return Key{ID: base64.RawURLEncoding.EncodeToString(sum), Algorithm: alg, Signer: s}, nil
}

func checkAlgorithm(alg string, s crypto.Signer) error {
	switch k := s.(type) {
	case *ecdsa.PrivateKey:
		if alg == ES256 && k.Curve == elliptic.P256() {
			return nil
		}
	case ed25519.PrivateKey:
		if alg == EdDSA {
			return nil
		}
	case *rsa.PrivateKey:
		if alg == RS256 && k.N.BitLen() >= 2048 {
			return nil
		}
	}
	return fmt.Errorf("%w: a %T does not suit %s (ES256 needs P-256, RS256 at least 2048 bits)", ErrKey, s, alg)
}

// LoadKeyFile reads a PKCS#8 PEM private key for alg.
func LoadKeyFile(path, alg string) (Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrKey, err)
	}
	k, err := ParseKey(data, alg)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// ParseKey parses a PKCS#8 PEM private key for alg.
func ParseKey(data []byte, alg string) (Key, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return Key{}, fmt.Errorf("%w: not a PKCS#8 PEM block (want \"PRIVATE KEY\")", ErrKey)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrKey, err)
	}
	s, ok := parsed.(crypto.Signer)
	if !ok {
		return Key{}, fmt.Errorf("%w: %T cannot sign", ErrKey, parsed)
	}
	return NewKey(alg, s)
}

// EncodeKey returns k as PKCS#8 PEM.
func EncodeKey(k Key) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteKeyFile writes k as PKCS#8 PEM readable by its owner only. It refuses
// to overwrite an existing file.
func WriteKeyFile(path string, k Key) error {
	data, err := EncodeKey(k)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKey, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close() // the write's error is the one to report
		return fmt.Errorf("%w: %w", ErrKey, err)
	}
	return f.Close()
}
