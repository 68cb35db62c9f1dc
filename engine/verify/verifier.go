package verify

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/outage"
)

// Defaults of Config and of Provider fields left zero.
const (
	DefaultSkew               = 30 * time.Second
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultMaxKeyAge          = 5 * time.Minute
	DefaultMaxTokenLifetime   = 24 * time.Hour
	DefaultAlgorithm          = "RS256"
)

// Config configures a Verifier. Zero values get the documented defaults.
type Config struct {
	// Client fetches discovery documents and JWKS (default
	// NewHTTPClient(DefaultHTTPTimeout)). Build it with NewHTTPClient: a
	// client of another making lacks the redirect and size limits. Its
	// Timeout, or DefaultHTTPTimeout when it has none, also bounds each key
	// fetch as a whole.
	Client *http.Client
	// Skew is the leeway on exp, nbf and iat (default 30s).
	Skew time.Duration
	// MaxTokenBytes is the largest raw token accepted, checked before any
	// parsing (default 16 KiB).
	MaxTokenBytes int
	// MinRefreshInterval: at most one JWKS fetch per issuer per interval,
	// whatever unknown kids arrive (default 30s).
	MinRefreshInterval time.Duration
	// MaxKeyAge: cached keys older than this are refetched, so keys removed
	// at the issuer stop verifying (default 5m).
	MaxKeyAge time.Duration
	// AllowInsecureIssuers accepts http:// discovery and JWKS URLs on
	// loopback hosts. It MUST NOT be set in production.
	AllowInsecureIssuers bool
	// Replay remembers (iss, jti) of one-time-use providers. Nil: tokens of
	// one-time-use providers are refused with ErrReplayUnavailable.
	Replay ReplayStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger reports the outages of issuers' key endpoints (engine/outage:
	// one line when an issuer's keys cannot be fetched, a summary at most
	// every 30s, one when they can again); never a token (default: none).
	Logger *zap.Logger
	// Observer, when set, is told of every key fetch.
	Observer Observer
}

// Observer is told the outcome ("success" or "failure") of each key fetch.
type Observer interface {
	KeysFetched(provider, outcome string)
}

// Providers finds the provider of an exact issuer; the active policy is one.
type Providers interface {
	ProviderByIssuer(iss string) (*Provider, bool)
}

// Verified is an accepted token: its provider and its strictly parsed claims.
type Verified struct {
	Provider *Provider
	// Claims are the payload's claims from one strict parse (ParseClaims);
	// numbers are json.Number.
	Claims map[string]any
	// Payload is the verified payload, byte for byte.
	Payload []byte
	// Issuer, Subject and JTI are the iss, sub and jti claims ("" when the
	// token has no jti).
	Issuer, Subject, JTI string
	// IssuedAt and Expiry are the iat and exp claims.
	IssuedAt, Expiry time.Time
}

// Verifier verifies subject tokens. It is long-lived and safe for concurrent
// use: its key cache, one per (issuer, JWKS URL), outlives policy reloads.
type Verifier struct {
	cfg          Config
	fetchTimeout time.Duration

	// keySets holds a *keySet per keySetID: read by every exchange,
	// written once per issuer, so read without a lock.
	keySets sync.Map
}

// New fills cfg's defaults and returns a Verifier.
func New(cfg Config) *Verifier {
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(DefaultHTTPTimeout)
	}
	cfg.Skew = positiveOr(cfg.Skew, DefaultSkew)
	cfg.MaxTokenBytes = positiveOr(cfg.MaxTokenBytes, DefaultMaxTokenBytes)
	cfg.MinRefreshInterval = positiveOr(cfg.MinRefreshInterval, DefaultMinRefreshInterval)
	cfg.MaxKeyAge = positiveOr(cfg.MaxKeyAge, DefaultMaxKeyAge)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	timeout := positiveOr(cfg.Client.Timeout, DefaultHTTPTimeout)
	return &Verifier{cfg: cfg, fetchTimeout: timeout}
}

// positiveOr is v, or def when v is zero or negative: a Config field left
// unset.
func positiveOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Verify accepts raw only if it is a valid ID token of one of ps's
// providers. It runs steps 1-4 of the exchange (DESIGN §1), numbered alike:
// 1. size, form and header (Precheck); 2. the one strict parse of the
// still unverified payload (ParseClaims), whose exact iss routes to a
// provider (unknown: ErrUnknownIssuer, with no I/O at all); 3. with that
// provider: the header's alg against its algorithms, the signature by
// go-oidc over its cached keys (of exactly the bytes parsed in step 2),
// iss, sub, aud, exp, nbf, iat and the lifetime, and for one-time-use
// providers the replay store; 4. the claims returned are step 2's strict
// parse, now of a verified payload: there is no second parse.
//
// Every refusal matches ErrInvalidToken and one of ErrMalformed,
// ErrUnknownIssuer, ErrSignature, ErrClaims, ErrExpired or ErrReplay. Keys
// that cannot be fetched give ErrKeysUnavailable instead. No error holds any
// part of the token.
func (v *Verifier) Verify(ctx context.Context, raw string, ps Providers) (*Verified, error) {
	// 1. Pre-check: size, compact form and header, before anything else.
	h, err := Precheck(raw, v.cfg.MaxTokenBytes)
	if err != nil {
		return nil, err
	}
	// 2. Route: the one strict parse of the (still unverified) payload;
	// its exact iss picks the provider. An unknown one costs no I/O.
	payload, claims, err := parsePayload(raw)
	if err != nil {
		return nil, err
	}
	iss, _ := claims["iss"].(string)
	if iss == "" || ps == nil {
		return nil, fmt.Errorf("%w: iss is missing", ErrUnknownIssuer)
	}
	p, ok := ps.ProviderByIssuer(iss)
	if !ok || p == nil {
		return nil, fmt.Errorf("%w: no provider has this iss", ErrUnknownIssuer)
	}
	// 3. Verify with that provider. 3a. The alg must be one it pins
	// (RFC 8725 §3.1).
	algs := algorithms(p)
	if !slices.Contains(algs, h.Alg) {
		return nil, fmt.Errorf("%w: alg %s is not allowed for provider %s", ErrSignature, h.Alg, p.Name)
	}
	// 3b. The signature, by go-oidc over the provider's keys; the bytes
	// it verified must be the bytes parsed in step 2.
	if err := v.verifySignature(ctx, raw, payload, p, algs); err != nil {
		return nil, err
	}
	// 3c. Issuer, subject, audience, times and lifetime.
	out, err := v.checkClaims(p, claims)
	if err != nil {
		return nil, err
	}
	out.Payload = payload
	// 3d. Replay, last: only a verified, otherwise valid token spends its
	// jti.
	if err := v.checkReplay(ctx, p, out); err != nil {
		return nil, err
	}
	// 4. The claims: step 2's strict parse, of the payload step 3 verified.
	return out, nil
}

// algorithms is the provider's allowlist, RS256 when it names none.
func algorithms(p *Provider) []string {
	if len(p.Algorithms) == 0 {
		return []string{DefaultAlgorithm}
	}
	return p.Algorithms
}

// UnverifiedClaims pre-checks raw as Verify does (size, compact form,
// header) and returns its strictly parsed claims without checking the
// signature: for offline tools such as `trustgate explain`, never for a
// decision that issues a token.
func UnverifiedClaims(raw string) (map[string]any, error) {
	if _, err := Precheck(raw, DefaultMaxTokenBytes); err != nil {
		return nil, err
	}
	_, claims, err := parsePayload(raw)
	return claims, err
}

// parsePayload decodes the pre-checked token's payload and parses it strictly.
func parsePayload(raw string) ([]byte, map[string]any, error) {
	seg := raw[strings.IndexByte(raw, '.')+1 : strings.LastIndexByte(raw, '.')]
	payload, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: segment 2 is not base64url", ErrMalformed)
	}
	claims, err := ParseClaims(payload)
	if err != nil {
		return nil, nil, err
	}
	return payload, claims, nil
}

// verifySignature verifies raw's signature with the provider's key set, an
// oidc.KeySet, with the algorithms pinned; the payload it verified must be
// the bytes parsed in Verify's step 2. go-oidc's IDTokenVerifier is not
// used: it would parse the JWS and the claims again, leniently, for checks
// that checkClaims already makes strictly (iss, aud, times).
func (v *Verifier) verifySignature(ctx context.Context, raw string, payload []byte, p *Provider, algs []string) error {
	var keys oidc.KeySet = &callKeys{ks: v.keySet(p), algs: algs}
	verified, err := keys.VerifySignature(ctx, raw)
	switch {
	case err != nil:
		return err
	case string(verified) != string(payload):
		return fmt.Errorf("%w: the verified payload is not the parsed one", ErrSignature)
	}
	return nil
}

// keySetID identifies a key cache.
type keySetID struct{ issuer, jwksURL string }

// keySet returns the long-lived key cache of p's issuer and JWKS URL.
func (v *Verifier) keySet(p *Provider) *keySet {
	id := keySetID{p.Issuer, p.JWKSURL}
	found, ok := v.keySets.Load(id)
	if !ok {
		fields := []zap.Field{zap.String("issuer", p.Issuer)}
		if p.JWKSURL != "" {
			fields = append(fields, zap.String("jwks_url", p.JWKSURL))
		}
		found, _ = v.keySets.LoadOrStore(id, &keySet{issuer: p.Issuer, jwksURL: p.JWKSURL, v: v,
			outage: outage.New(outage.Config{Logger: v.cfg.Logger, Dependency: "issuer keys", Fields: fields, Now: v.cfg.Now})})
	}
	ks := found.(*keySet)
	ks.setProvider(p.Name)
	return ks
}
