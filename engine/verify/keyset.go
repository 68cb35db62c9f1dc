package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/trustgate/trustgate/engine/outage"
	"github.com/trustgate/trustgate/engine/weburl"
)

// Key fetch outcomes told to the Observer.
const (
	FetchSuccess = "success"
	FetchFailure = "failure"
)

// staleLimit: when refetching keys keeps failing, the last keys fetched
// are used for at most this many MaxKeyAge periods after that fetch (one
// hour with the defaults), so a short outage at the issuer does not stop
// every pipeline; after that the provider fails closed.
const staleLimit = 12

// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3).
const minRSABits = 2048

// keySet is the cached JWKS of one (issuer, JWKS URL). Fetches are shared
// by concurrent callers, happen at most once per MinRefreshInterval, are
// bounded by the fetch timeout, and never hold a lock during I/O, so a
// hanging issuer stalls only its own callers.
type keySet struct {
	issuer  string
	jwksURL string // empty: discover
	v       *Verifier
	outage  *outage.Log // of the issuer's key endpoints

	provider atomic.Pointer[string] // name for the Observer, the latest seen
	// fresh is keys and fetchedAt as one value, so that the common case,
	// keys younger than MaxKeyAge, is read without taking mu.
	fresh atomic.Pointer[fetchedKeys]

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time     // of keys
	attempted time.Time     // of the latest fetch, successful or not
	inflight  chan struct{} // closed when the running fetch ends
	lastErr   error
}

// fetchedKeys are the keys of one successful fetch and when it ended.
type fetchedKeys struct {
	keys []jose.JSONWebKey
	at   time.Time
}

// setProvider records name, writing only when it changed: every exchange
// calls it.
func (ks *keySet) setProvider(name string) {
	if p := ks.provider.Load(); p == nil || *p != name {
		ks.provider.Store(&name)
	}
}

// providerName is the latest provider name set.
func (ks *keySet) providerName() string {
	if p := ks.provider.Load(); p != nil {
		return *p
	}
	return ""
}

// get returns the keys to verify with. It fetches them when there are none
// yet or they are older than MaxKeyAge, and also when refresh is set (a kid
// the cache does not know): either way at most once per MinRefreshInterval,
// sharing a running fetch, and giving up when ctx ends. Keys that cannot be
// had give ErrKeysUnavailable.
func (ks *keySet) get(ctx context.Context, refresh bool) ([]jose.JSONWebKey, error) {
	if f := ks.fresh.Load(); f != nil && !refresh && ks.v.cfg.Now().Sub(f.at) < ks.v.cfg.MaxKeyAge {
		return f.keys, nil // what the locked path below returns for keys this young
	}
	for {
		ks.mu.Lock()
		now := ks.v.cfg.Now()
		age := now.Sub(ks.fetchedAt)
		if ks.keys != nil && age >= staleLimit*ks.v.cfg.MaxKeyAge {
			ks.keys = nil // too old to trust, whatever happens to refetches
			ks.fresh.Store(nil)
		}
		if ks.keys != nil && age < ks.v.cfg.MaxKeyAge && !refresh {
			keys := ks.keys
			ks.mu.Unlock()
			return keys, nil
		}
		if ch := ks.inflight; ch != nil {
			ks.mu.Unlock()
			select {
			case <-ch:
				refresh = false // a fetch just ended: use what it got
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, ks.issuer, ctx.Err())
			}
		}
		if !ks.attempted.IsZero() && now.Sub(ks.attempted) < ks.v.cfg.MinRefreshInterval {
			keys, lastErr := ks.keys, ks.lastErr
			ks.mu.Unlock()
			if keys == nil {
				ks.outage.Refused("verification")
				return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, ks.issuer, lastErr)
			}
			return keys, nil
		}
		ks.attempted = now
		ch := make(chan struct{})
		ks.inflight = ch
		ks.mu.Unlock()
		go ks.fetch(ctx, ch)
	}
}

// fetch downloads the keys under the verifier's fetch timeout, detached
// from the cancellation of the caller's ctx that started it, so a caller
// that gives up does not fail the fetch that others wait for.
func (ks *keySet) fetch(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ks.v.fetchTimeout)
	defer cancel()
	keys, err := ks.download(ctx)
	outcome := FetchSuccess
	ks.mu.Lock()
	if err == nil {
		ks.keys, ks.fetchedAt, ks.lastErr = keys, ks.v.cfg.Now(), nil
		ks.fresh.Store(&fetchedKeys{keys: ks.keys, at: ks.fetchedAt})
	} else {
		ks.lastErr = err
		outcome = FetchFailure
	}
	provider := ks.providerName()
	ks.inflight = nil
	ks.mu.Unlock()
	// The outcome is told before the waiters wake, so whoever sees the
	// result of a fetch also sees it counted.
	if obs := ks.v.cfg.Observer; obs != nil {
		obs.KeysFetched(provider, outcome)
	}
	if err != nil {
		ks.outage.Failed(err)
	} else {
		ks.outage.Answered()
	}
	close(done)
}

// download discovers the JWKS URL when the provider gives none, then reads
// the JWKS and keeps its usable signing keys.
func (ks *keySet) download(ctx context.Context) ([]jose.JSONWebKey, error) {
	jwksURL := ks.jwksURL
	if jwksURL == "" {
		var err error
		if jwksURL, err = ks.discover(ctx); err != nil {
			return nil, err
		}
	} else if err := weburl.Check(jwksURL, ks.v.cfg.AllowInsecureIssuers); err != nil {
		return nil, fmt.Errorf("jwks_url: %w", err)
	}
	body, err := ks.v.getJSON(ctx, jwksURL)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("jwks: not a JWK set")
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // a key type go-jose does not know; the others still count
		}
		if (k.Use == "" || k.Use == "sig") && k.IsPublic() && k.Valid() {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable signing keys")
	}
	return keys, nil
}

// discover reads the issuer's OpenID configuration for its jwks_uri. The
// document must name exactly this issuer (OpenID Connect Discovery 1.0
// §4.3), and the jwks_uri must be https (http on loopback only when
// insecure issuers are allowed).
func (ks *keySet) discover(ctx context.Context) (string, error) {
	if err := weburl.Check(ks.issuer, ks.v.cfg.AllowInsecureIssuers); err != nil {
		return "", fmt.Errorf("issuer: %w", err)
	}
	body, err := ks.v.getJSON(ctx, strings.TrimSuffix(ks.issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("discovery: not a JSON document")
	}
	if doc.Issuer != ks.issuer {
		return "", fmt.Errorf("discovery: the document names issuer %q, not %q", doc.Issuer, ks.issuer)
	}
	if err := weburl.Check(doc.JWKSURI, ks.v.cfg.AllowInsecureIssuers); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// getJSON GETs u with the verifier's client and reads the whole body.
func (v *Verifier) getJSON(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("GET %s: %w", u, ue.Err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return body, nil
}

// callKeys is the oidc.KeySet of one Verify call. It remembers what the
// key set said, so that Verify can classify go-oidc's error without reading
// its text (go-oidc formats the key set's error with %v, losing it).
type callKeys struct {
	ks   *keySet
	algs []string

	payload []byte
	err     error
}

// VerifySignature implements oidc.KeySet: it verifies raw with the cached
// keys, and after one rate-limited refresh when the token's kid is not
// among them (a key rotated in at the issuer).
func (c *callKeys) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	payload, err := c.verify(ctx, raw)
	c.payload, c.err = payload, err
	return payload, err
}

func (c *callKeys) verify(ctx context.Context, raw string) ([]byte, error) {
	algs := make([]jose.SignatureAlgorithm, len(c.algs))
	for i, a := range c.algs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: refused by the JWS parser", ErrMalformed)
	}
	h := jws.Signatures[0].Header
	keys, err := c.ks.get(ctx, false)
	if err != nil {
		return nil, err
	}
	payload, kidKnown := verifyWith(jws, keys, h.KeyID, h.Algorithm)
	if payload != nil {
		return payload, nil
	}
	if kidKnown {
		// The issuer publishes this kid and it did not verify: a forgery,
		// not a rotation. Do not refetch for it.
		return nil, fmt.Errorf("%w: no published key verifies it", ErrSignature)
	}
	fresh, err := c.ks.get(ctx, true)
	if err != nil {
		return nil, err
	}
	if len(fresh) > 0 && len(keys) > 0 && &fresh[0] == &keys[0] {
		// No refetch within MinRefreshInterval: the same keys already
		// failed; a forged token without a kid costs one pass, not two.
		return nil, fmt.Errorf("%w: no published key verifies it", ErrSignature)
	}
	if payload, _ := verifyWith(jws, fresh, h.KeyID, h.Algorithm); payload != nil {
		return payload, nil
	}
	return nil, fmt.Errorf("%w: no published key verifies it", ErrSignature)
}

// verifyWith verifies jws with each key that fits: the token's kid when it
// names one, the key's alg when it names one, and a key type and size that
// alg can use (download kept only keys of use sig or unset). kidKnown reports whether the token named a
// kid that one of keys has.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid, alg string) (payload []byte, kidKnown bool) {
	for i := range keys {
		k := &keys[i]
		if kid != "" {
			if k.KeyID != kid {
				continue
			}
			kidKnown = true
		}
		if !fits(k, alg) {
			continue
		}
		if p, err := jws.Verify(k); err == nil {
			return p, kidKnown
		}
	}
	return nil, kidKnown
}

// fits reports whether k, a signing key, may verify a signature made with
// alg (RFC 7517 §4.4; RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
func fits(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return pub.N.BitLen() >= minRSABits
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
