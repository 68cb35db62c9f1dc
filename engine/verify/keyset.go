package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// allAlgorithms parses tokens for the key set; go-oidc has already held the
// token's alg to the provider's allowlist.
var allAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA,
}

// keySet is the cached JWKS of one (issuer, jwks_url). It implements
// oidc.KeySet. Fetches are shared by concurrent callers, happen at most once
// per MinRefreshInterval, and never hold a lock during I/O.
type keySet struct {
	issuer  string
	jwksURL string // empty: discover
	v       *Verifier

	mu        sync.Mutex
	provider  string // name for metrics and logs, the latest seen
	keys      []jose.JSONWebKey
	fetchedAt time.Time
	attempted time.Time
	inflight  chan struct{}
	lastErr   error
}

// current returns the cached keys, fetching them first when there are none
// or they are older than MaxKeyAge. Failing that, it returns
// ErrKeysUnavailable.
func (ks *keySet) current(ctx context.Context) ([]jose.JSONWebKey, error) {
	return ks.get(ctx, false)
}

// get returns keys; force asks for a refetch (an unknown kid), which the
// per-interval limit may turn down.
func (ks *keySet) get(ctx context.Context, force bool) ([]jose.JSONWebKey, error) {
	for {
		ks.mu.Lock()
		now := ks.v.now()
		fresh := ks.keys != nil && now.Sub(ks.fetchedAt) < ks.v.cfg.MaxKeyAge
		if fresh && !force {
			keys := ks.keys
			ks.mu.Unlock()
			return keys, nil
		}
		if ch := ks.inflight; ch != nil {
			ks.mu.Unlock()
			select {
			case <-ch:
				force = false // a fetch just finished; use what it got
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, ks.issuer, ctx.Err())
			}
		}
		if !ks.attempted.IsZero() && now.Sub(ks.attempted) < ks.v.cfg.MinRefreshInterval {
			keys, lastErr := ks.keys, ks.lastErr
			ks.mu.Unlock()
			if keys == nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, ks.issuer, lastErr)
			}
			return keys, nil
		}
		ks.attempted = now
		ch := make(chan struct{})
		ks.inflight = ch
		ks.mu.Unlock()
		go ks.fetch(ch)
	}
}

// fetch downloads the keys under the client's own timeout, so a caller that
// gives up does not cancel the fetch others wait for.
func (ks *keySet) fetch(done chan struct{}) {
	keys, err := ks.download(context.Background())
	outcome := "success"
	ks.mu.Lock()
	if err == nil {
		ks.keys, ks.fetchedAt, ks.lastErr = keys, ks.v.now(), nil
	} else {
		ks.lastErr = err
		outcome = "failure"
		if ks.keys != nil && ks.v.now().Sub(ks.fetchedAt) > staleLimit*ks.v.cfg.MaxKeyAge {
			ks.keys = nil // too old to trust any longer
		}
	}
	provider := ks.provider
	ks.inflight = nil
	close(done)
	ks.mu.Unlock()
	if ks.v.cfg.Observer != nil {
		ks.v.cfg.Observer.KeysFetched(provider, outcome)
	}
	if err != nil {
		ks.v.log.Warn("fetching issuer keys failed", zapIssuer(ks.issuer), zapErr(err))
	}
}

// staleLimit: keys whose refresh keeps failing are used for at most this
// many MaxKeyAge periods after their last successful fetch.
const staleLimit = 12

func (ks *keySet) download(ctx context.Context) ([]jose.JSONWebKey, error) {
	jwksURL := ks.jwksURL
	if jwksURL == "" {
		var err error
		if jwksURL, err = ks.discover(ctx); err != nil {
			return nil, err
		}
	}
	body, err := ks.v.getJSON(ctx, jwksURL)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: not a JWK set: %w", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue // a key type we do not know; the others still count
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
// document must name exactly this issuer (OpenID Connect Discovery §4.3).
func (ks *keySet) discover(ctx context.Context) (string, error) {
	body, err := ks.v.getJSON(ctx, strings.TrimSuffix(ks.issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery: not a JSON document")
	}
	if doc.Issuer != ks.issuer {
		return "", fmt.Errorf("discovery: document is for issuer %q, not %q", doc.Issuer, ks.issuer)
	}
	if err := CheckURL(doc.JWKSURI, ks.v.cfg.AllowInsecureIssuers); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// getJSON GETs url with the verifier's client.
func (v *Verifier) getJSON(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
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

// VerifySignature implements oidc.KeySet: it verifies the token with the
// cached keys, and after one rate-limited refresh when none verifies (a key
// rotated in at the issuer).
func (ks *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, allAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	h := jws.Signatures[0].Header
	keys, err := ks.current(ctx)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(jws, keys, h.KeyID, h.Algorithm); ok {
		return payload, nil
	}
	refreshed, err := ks.get(ctx, true)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(jws, refreshed, h.KeyID, h.Algorithm); ok {
		return payload, nil
	}
	return nil, ErrSignature
}

// verifyWith tries the keys that match the token's kid (when it has one)
// and alg (when the key names one).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid, alg string) ([]byte, bool) {
	for i := range keys {
		k := &keys[i]
		if kid != "" && k.KeyID != kid {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if payload, err := jws.Verify(k); err == nil {
			return payload, true
		}
	}
	return nil, false
}
