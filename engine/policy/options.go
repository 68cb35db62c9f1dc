package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
)

// DefaultEvalTimeout bounds one evaluation when Options.EvalTimeout is zero.
const DefaultEvalTimeout = 500 * time.Millisecond

// Options configure Load, Check and NewWatcher.
type Options struct {
	// ServerIssuer is this server's issuer URL: the audience a provider
	// accepts when its bundle entry names none.
	ServerIssuer string
	// AllowInsecureIssuers accepts http:// issuer and jwks_url values whose
	// host is loopback (localhost, 127.0.0.0/8, ::1). Development and tests
	// only; https is required otherwise.
	AllowInsecureIssuers bool
	// Logger receives load and reload events; nil logs nothing.
	Logger *zap.Logger
	// EvalTimeout bounds one evaluation (default DefaultEvalTimeout); a
	// context deadline that comes sooner wins.
	EvalTimeout time.Duration
	// VerificationKey, when set, requires every bundle to carry a
	// .signatures.json signed with this key (as `opa sign` or `opa build
	// --signing-key` write it) covering every file: unsigned or tampered
	// bundles are refused. When nil, signatures are not checked.
	VerificationKey *VerificationKey
	// Remote configures bundles given as URLs; a Watcher fetches them.
	Remote RemoteOptions
	// Library is the Rego library compiled with the bundles: every .rego
	// file in it except *_test.rego. Nil means the embedded library,
	// policies.FS().
	Library fs.FS
	// Loading, when set, is called by a Watcher before each load (the
	// first and every reload), and what it returns after the load,
	// whatever its outcome (`serve` lowers the collector's percent
	// meanwhile). Load itself does not call it.
	Loading func() (done func())

	// downloads holds the body of each remote bundle, by URL: a Watcher
	// sets it for each load.
	downloads map[string][]byte
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.EvalTimeout <= 0 {
		o.EvalTimeout = DefaultEvalTimeout
	}
	return o
}

// VerificationKey is the public key bundles must be signed with.
type VerificationKey struct {
	// KeyID names the key. It is the only key, so a signature's own kid
	// header is not used to pick one.
	KeyID string
	// Algorithm is the signature algorithm: RS256, RS384, RS512, PS256,
	// PS384, PS512, ES256, ES384 or ES512. HMAC algorithms are refused: a
	// public key must never serve as a shared secret.
	Algorithm string
	// PEM is the public key (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE).
	PEM string
	// Scope, when set, must equal the signature's scope claim (`opa sign
	// --claims-file`); empty matches signatures without one.
	Scope string
}

// LoadVerificationKey reads a PEM public key file for bundle signatures; see
// ParseVerificationKey.
func LoadVerificationKey(path, keyID, alg string) (*VerificationKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle verification key: %w", err)
	}
	k, err := ParseVerificationKey(b, keyID, alg)
	if err != nil {
		return nil, fmt.Errorf("bundle verification key %s: %w", path, err)
	}
	return k, nil
}

// Defaults of a bundle VerificationKey: opa sign's.
const (
	DefaultVerificationKeyID     = "default"
	DefaultVerificationAlgorithm = "RS256"
)

// ParseVerificationKey checks that pemBytes is a public key of the kind alg
// needs and returns it as a VerificationKey. An empty keyID is
// DefaultVerificationKeyID, an empty alg DefaultVerificationAlgorithm.
func ParseVerificationKey(pemBytes []byte, keyID, alg string) (*VerificationKey, error) {
	if keyID == "" {
		keyID = DefaultVerificationKeyID
	}
	if alg == "" {
		alg = DefaultVerificationAlgorithm
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("more than one PEM block: give only the public key")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, fmt.Errorf("%s: give the public key, never the private key, to the server", block.Type)
		}
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	if err := keyFitsAlgorithm(pub, alg); err != nil {
		return nil, err
	}
	return &VerificationKey{KeyID: keyID, Algorithm: alg, PEM: string(pemBytes)}, nil
}

func keyFitsAlgorithm(pub any, alg string) error {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, not %T", alg, pub)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits: at least 2048 are needed", k.N.BitLen())
		}
		return nil
	case "ES256", "ES384", "ES512":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an ECDSA key, not %T", alg, pub)
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if k.Curve != want {
			return fmt.Errorf("%s needs curve %s, not %s", alg, want.Params().Name, k.Curve.Params().Name)
		}
		return nil
	default:
		return fmt.Errorf("algorithm %q is not supported for bundle signatures (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512)", alg)
	}
}
