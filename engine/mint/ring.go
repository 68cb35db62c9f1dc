package mint

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// TokenType is the JOSE typ of issued tokens (RFC 9068 §2.1).
const TokenType = "at+jwt"

// ErrToken is returned by Verify for anything but a valid, unexpired token
// signed by the ring.
var ErrToken = errors.New("not a valid token of this server")

// Claims are the claims of an issued token (DESIGN §5).
type Claims struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  []string          `json:"aud"`
	Expiry    int64             `json:"exp"`
	IssuedAt  int64             `json:"iat"`
	NotBefore int64             `json:"nbf"`
	ID        string            `json:"jti"`
	Scope     string            `json:"scope,omitempty"`
	Roles     []string          `json:"roles,omitempty"`
	ClientID  string            `json:"client_id"`
	Act       *Actor            `json:"act,omitempty"`
	Src       map[string]string `json:"src,omitempty"`
	// Grant is the id of the just-in-time request the token was issued
	// under: the token is active only while that grant is.
	Grant string `json:"grant,omitempty"`
}

// Actor is the RFC 8693 §4.1 actor: the source token's issuer and subject.
type Actor struct {
	Issuer  string `json:"iss"`
	Subject string `json:"sub"`
}

// KeyRing signs with its current key and verifies with the current and
// previous keys. It is immutable.
type KeyRing struct {
	current  Key
	previous []Key
	signer   jose.Signer
	jwks     jose.JSONWebKeySet
	byID     map[string]Key
	algs     []jose.SignatureAlgorithm
}

// NewKeyRing returns a ring that signs with current and also publishes and
// verifies previous keys, so tokens they signed stay valid until they expire.
func NewKeyRing(current Key, previous ...Key) (*KeyRing, error) {
	opts := (&jose.SignerOptions{}).WithType(TokenType)
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(current.Algorithm),
		Key:       jose.JSONWebKey{Key: current.Signer, KeyID: current.ID, Algorithm: current.Algorithm},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	r := &KeyRing{current: current, previous: previous, signer: signer, byID: map[string]Key{}}
	for _, k := range append([]Key{current}, previous...) {
		if _, dup := r.byID[k.ID]; dup {
			continue
		}
		r.byID[k.ID] = k
		r.jwks.Keys = append(r.jwks.Keys, jose.JSONWebKey{
			Key: k.Signer.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig",
		})
		r.algs = appendAlg(r.algs, jose.SignatureAlgorithm(k.Algorithm))
	}
	return r, nil
}

func appendAlg(algs []jose.SignatureAlgorithm, alg jose.SignatureAlgorithm) []jose.SignatureAlgorithm {
	for _, a := range algs {
		if a == alg {
			return algs
		}
	}
	return append(algs, alg)
}

// CurrentKeyID is the kid new tokens carry.
func (r *KeyRing) CurrentKeyID() string { return r.current.ID }

// JWKS returns the public keys of the ring, never a private part.
func (r *KeyRing) JWKS() jose.JSONWebKeySet { return r.jwks }

// Sign gives c a fresh jti and returns the signed compact token and the jti.
func (r *KeyRing) Sign(c Claims) (token, jti string, err error) {
	c.ID = newJTI()
	payload, err := json.Marshal(c)
	if err != nil {
		return "", "", fmt.Errorf("mint: encode claims: %w", err)
	}
	obj, err := r.signer.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("mint: sign: %w", err)
	}
	token, err = obj.CompactSerialize()
	if err != nil {
		return "", "", fmt.Errorf("mint: serialize: %w", err)
	}
	return token, c.ID, nil
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Verify checks that raw is a compact token signed by a key of the ring,
// with typ at+jwt, valid at now; it returns its claims.
func (r *KeyRing) Verify(raw string, now time.Time) (*Claims, error) {
	obj, err := jose.ParseSignedCompact(raw, r.algs)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrToken)
	}
	if len(obj.Signatures) != 1 {
		return nil, fmt.Errorf("%w: not exactly one signature", ErrToken)
	}
	h := obj.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != TokenType {
		return nil, fmt.Errorf("%w: typ is not %s", ErrToken, TokenType)
	}
	k, ok := r.byID[h.KeyID]
	if !ok || h.Algorithm != k.Algorithm {
		return nil, fmt.Errorf("%w: unknown key", ErrToken)
	}
	payload, err := obj.Verify(k.Signer.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: bad signature", ErrToken)
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: claims", ErrToken)
	}
	if c.ID == "" {
		return nil, fmt.Errorf("%w: no jti", ErrToken)
	}
	if t := now.Unix(); c.Expiry <= t || c.NotBefore > t {
		return nil, fmt.Errorf("%w: expired or not yet valid", ErrToken)
	}
	return &c, nil
}
