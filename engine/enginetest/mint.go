package enginetest

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// MintOption changes how Mint signs.
type MintOption func(*mintOptions)

type mintOptions struct {
	key        *Key
	ec         bool
	kid        *string // nil: the key's own
	headers    map[jose.HeaderKey]any
	noTyp      bool
	rawHeader  []byte
	rawPayload []byte
}

// WithKey signs with k (default: the issuer's RSA key).
func WithKey(k Key) MintOption { return func(o *mintOptions) { o.key, o.ec = &k, false } }

// ES256 signs with the issuer's P-256 key.
func ES256() MintOption { return func(o *mintOptions) { o.key, o.ec = nil, true } }

// WithKID sets the kid header ("" leaves kid out).
func WithKID(kid string) MintOption { return func(o *mintOptions) { o.kid = &kid } }

// WithHeader adds a protected header parameter; go-jose signs it as given.
func WithHeader(name string, v any) MintOption {
	return func(o *mintOptions) { o.headers[jose.HeaderKey(name)] = v }
}

// WithoutType leaves the typ header out (go-jose sets no other optional one).
func WithoutType() MintOption { return func(o *mintOptions) { o.noTyp = true } }

// WithRawHeader signs these exact header bytes instead of the header go-jose
// would write, for headers no library would produce (duplicate names,
// "alg":"none", invalid UTF-8). The key signs as its own algorithm
// whatever the header says.
func WithRawHeader(header []byte) MintOption {
	return func(o *mintOptions) { o.rawHeader = header }
}

// WithRawPayload signs these exact payload bytes instead of the claims
// (duplicate names, quoted numbers, trailing data).
func WithRawPayload(payload []byte) MintOption {
	return func(o *mintOptions) { o.rawPayload = payload }
}

// Mint signs claims as a compact JWS: RS256 with the issuer's RSA key, kid
// the key's, typ JWT, unless options say otherwise.
func (i *Issuer) Mint(t testing.TB, claims map[string]any, opts ...MintOption) string {
	t.Helper()
	o := mintOptions{headers: map[jose.HeaderKey]any{}}
	for _, opt := range opts {
		opt(&o)
	}
	k := i.rsa
	if o.ec {
		k = i.ec
	}
	if o.key != nil {
		k = *o.key
	}
	payload := o.rawPayload
	if payload == nil {
		var err error
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	if o.rawHeader != nil || o.rawPayload != nil {
		header := o.rawHeader
		if header == nil {
			header = o.header(t, k)
		}
		return SignRaw(t, k, header, payload)
	}
	return o.sign(t, k, payload)
}

// header is the header go-jose would write for o, for raw signing.
func (o *mintOptions) header(t testing.TB, k Key) []byte {
	t.Helper()
	h := map[string]any{"alg": string(k.Algorithm), "kid": k.ID}
	if !o.noTyp {
		h["typ"] = "JWT"
	}
	if o.kid != nil {
		h["kid"] = *o.kid
		if *o.kid == "" {
			delete(h, "kid")
		}
	}
	for name, v := range o.headers {
		h[string(name)] = v
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs payload with k through go-jose.
func (o *mintOptions) sign(t testing.TB, k Key, payload []byte) string {
	t.Helper()
	so := &jose.SignerOptions{}
	if !o.noTyp {
		so = so.WithType("JWT")
	}
	for name, v := range o.headers {
		so = so.WithHeader(name, v)
	}
	jwk := jose.JSONWebKey{Key: k.Signer, KeyID: k.ID}
	if o.kid != nil {
		jwk.KeyID = *o.kid
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Algorithm, Key: jwk}, so)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// SignRaw signs the exact header and payload bytes given with k (RS256 or
// ES256), for tokens no library would produce.
func SignRaw(t testing.TB, k Key, header, payload []byte) string {
	t.Helper()
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig := rawSignature(t, k, []byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}
