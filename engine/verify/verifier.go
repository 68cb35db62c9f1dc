package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
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
	// Logger reports key fetch failures; never a token (default: none).
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

	mu      sync.Mutex
	keySets map[keySetID]*keySet
}

// New fills cfg's defaults and returns a Verifier.
func New(cfg Config) *Verifier {
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(DefaultHTTPTimeout)
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MaxTokenBytes <= 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if cfg.MaxKeyAge <= 0 {
		cfg.MaxKeyAge = DefaultMaxKeyAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	timeout := cfg.Client.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	return &Verifier{cfg: cfg, fetchTimeout: timeout, keySets: map[keySetID]*keySet{}}
}

// Verify accepts raw only if it is a valid ID token of one of ps's
// providers, checking in this order: size, form and header (Precheck); one
// strict parse of the payload (ParseClaims) for its exact iss; the provider
// of that issuer (unknown: ErrUnknownIssuer, with no I/O at all); the
// header's alg against the provider's algorithms; the signature, by go-oidc
// over the provider's cached keys; then iss, sub, aud, exp, nbf, iat and
// the lifetime; then, for one-time-use providers, the replay store.
//
// Every refusal matches ErrInvalidToken and one of ErrMalformed,
// ErrUnknownIssuer, ErrSignature, ErrClaims, ErrExpired or ErrReplay. Keys
// that cannot be fetched give ErrKeysUnavailable instead. No error holds any
// part of the token.
func (v *Verifier) Verify(ctx context.Context, raw string, ps Providers) (*Verified, error) {
	// 1. Size, compact form and header, before anything else.
	h, err := Precheck(raw, v.cfg.MaxTokenBytes)
	if err != nil {
		return nil, err
	}
	// 2. The one strict parse of the payload; its exact iss routes.
	payload, claims, err := parsePayload(raw)
	if err != nil {
		return nil, err
	}
	// 3. The provider of that issuer. An unknown one costs no I/O.
	iss, _ := claims["iss"].(string)
	if iss == "" || ps == nil {
		return nil, fmt.Errorf("%w: iss is missing", ErrUnknownIssuer)
	}
	p, ok := ps.ProviderByIssuer(iss)
	if !ok || p == nil {
		return nil, fmt.Errorf("%w: no provider has this iss", ErrUnknownIssuer)
	}
	// 4. The alg must be one the provider pins (RFC 8725 §3.1).
	algs := algorithms(p)
	if !slices.Contains(algs, h.Alg) {
		return nil, fmt.Errorf("%w: alg %s is not allowed for provider %s", ErrSignature, h.Alg, p.Name)
	}
	// 5. The signature, by go-oidc over the provider's keys; the bytes it
	// verified must be the bytes parsed in step 2.
	if err := v.verifySignature(ctx, raw, payload, p, algs); err != nil {
		return nil, err
	}
	// 6. Issuer, subject, audience, times and lifetime.
	out, err := v.checkClaims(p, claims)
	if err != nil {
		return nil, err
	}
	out.Payload = payload
	// 7. Replay, last: only a verified, otherwise valid token spends its jti.
	if err := v.checkReplay(ctx, p, out); err != nil {
		return nil, err
	}
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
	v.mu.Lock()
	ks, ok := v.keySets[id]
	if !ok {
		ks = &keySet{issuer: p.Issuer, jwksURL: p.JWKSURL, v: v}
		v.keySets[id] = ks
	}
	v.mu.Unlock()
	ks.setProvider(p.Name)
	return ks
}

// CheckClaims checks claims already parsed strictly against p, as Verify
// does once the signature holds: iss, sub, aud, the times, the lifetime and
// the presence of jti where p needs one. It spends no jti. For offline
// tools such as `trustgate explain`; it proves nothing about who signed.
func (v *Verifier) CheckClaims(p *Provider, c map[string]any) error {
	_, err := v.checkClaims(p, c)
	return err
}

// checkClaims checks iss, sub, aud, the times and jti of claims already
// parsed strictly (so each registered claim has its registered type).
func (v *Verifier) checkClaims(p *Provider, c map[string]any) (*Verified, error) {
	out := &Verified{Provider: p, Claims: c, Issuer: p.Issuer}
	if iss, _ := c["iss"].(string); iss != p.Issuer {
		return nil, fmt.Errorf("%w: iss is not the provider's issuer", ErrClaims)
	}
	sub, _ := c["sub"].(string)
	if sub == "" {
		return nil, fmt.Errorf("%w: sub is missing or empty (RFC 8725 §3.8)", ErrClaims)
	}
	out.Subject = sub
	if err := checkAudience(c["aud"], p.Audiences); err != nil {
		return nil, err
	}
	if err := v.checkTimes(p, c, out); err != nil {
		return nil, err
	}
	if jti, present := c["jti"]; present {
		s, _ := jti.(string)
		if s == "" {
			return nil, fmt.Errorf("%w: jti is empty", ErrClaims)
		}
		out.JTI = s
	}
	if p.OneTimeUse && out.JTI == "" {
		return nil, fmt.Errorf("%w: jti is required by provider %s", ErrClaims, p.Name)
	}
	return out, nil
}

// checkReplay refuses a second use of (iss, jti) for one-time-use
// providers. A store that fails, or none, is ErrReplayUnavailable: a server
// problem, not a refusal, and never an acceptance.
func (v *Verifier) checkReplay(ctx context.Context, p *Provider, out *Verified) error {
	if !p.OneTimeUse {
		return nil
	}
	if v.cfg.Replay == nil {
		return fmt.Errorf("%w: no replay store configured", ErrReplayUnavailable)
	}
	fresh, err := v.cfg.Replay.Use(ctx, p.Issuer, out.JTI, out.Expiry.Add(v.cfg.Skew))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReplayUnavailable, err)
	}
	if !fresh {
		return fmt.Errorf("%w: jti seen before (provider %s is one-time-use)", ErrReplay, p.Name)
	}
	return nil
}

// checkAudience: aud (a string or an array of strings) must name one of the
// provider's audiences (RFC 7519 §4.1.3, RFC 8725 §3.9).
func checkAudience(aud any, accepted []string) error {
	var auds []string
	switch a := aud.(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("%w: aud holds a non-string", ErrClaims)
			}
			auds = append(auds, s)
		}
	default:
		return fmt.Errorf("%w: aud is missing (RFC 8725 §3.9)", ErrClaims)
	}
	for _, a := range auds {
		if a != "" && slices.Contains(accepted, a) {
			return nil
		}
	}
	return fmt.Errorf("%w: aud names none of the provider's audiences", ErrClaims)
}

// checkTimes checks exp and iat (required) and nbf (optional) with Skew,
// and exp - iat against the provider's MaxTokenLifetime.
func (v *Verifier) checkTimes(p *Provider, c map[string]any, out *Verified) error {
	now, skew := v.cfg.Now(), v.cfg.Skew
	exp, err := numericDate(c, "exp", true)
	if err != nil {
		return err
	}
	iat, err := numericDate(c, "iat", true)
	if err != nil {
		return err
	}
	nbf, err := numericDate(c, "nbf", false)
	if err != nil {
		return err
	}
	lifetime := p.MaxTokenLifetime
	if lifetime <= 0 {
		lifetime = DefaultMaxTokenLifetime
	}
	switch {
	case !now.Before(exp.Add(skew)):
		return fmt.Errorf("%w: expired (exp)", ErrExpired)
	case !nbf.IsZero() && now.Add(skew).Before(nbf):
		return fmt.Errorf("%w: not valid yet (nbf)", ErrExpired)
	case now.Add(skew).Before(iat):
		return fmt.Errorf("%w: issued in the future (iat)", ErrClaims)
	case !exp.After(iat):
		return fmt.Errorf("%w: exp is not after iat", ErrClaims)
	case exp.Sub(iat) > lifetime:
		return fmt.Errorf("%w: exp - iat is longer than the provider's max token lifetime %s", ErrClaims, lifetime)
	}
	out.IssuedAt, out.Expiry = iat, exp
	return nil
}

// maxNumericDate is the latest date accepted (year 5138): far beyond any
// real token, and small enough that every duration computed stays exact.
const maxNumericDate = 1e11

// numericDate reads a JSON number of seconds (RFC 7519 §2); quoted
// numbers, negative and absurd values are refused.
func numericDate(c map[string]any, name string, required bool) (time.Time, error) {
	v, present := c[name]
	if !present {
		if required {
			return time.Time{}, fmt.Errorf("%w: %s is missing", ErrClaims, name)
		}
		return time.Time{}, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %s is not a JSON number", ErrClaims, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f <= 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%w: %s is not a valid date", ErrClaims, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// checkURL accepts https URLs, and http URLs on a loopback host when
// insecure is set.
func checkURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return errors.New("not an absolute URL without user or fragment")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && insecure && IsLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return errors.New("http is allowed only on a loopback host when insecure issuers are allowed")
	default:
		return fmt.Errorf("scheme %q is not https", u.Scheme)
	}
}

// IsLoopback reports whether host is localhost or a loopback IP: the only
// hosts http:// is ever allowed on.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
