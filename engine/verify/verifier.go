package verify

import (
	"bytes"
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

// Config configures a Verifier. Zero values get the documented defaults.
type Config struct {
	// Client fetches discovery documents and JWKS (default NewHTTPClient(DefaultHTTPTimeout)).
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
	// Replay remembers (iss, jti) of one-time-use providers (default: in memory).
	Replay ReplayStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger reports fetch failures; never a token.
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
	// Claims are the payload's claims; numbers are json.Number.
	Claims   map[string]any
	Issuer   string
	Subject  string
	JTI      string
	IssuedAt time.Time
	Expiry   time.Time
}

// Verifier verifies subject tokens. It is long-lived and safe for concurrent
// use: its key cache outlives policy reloads.
type Verifier struct {
	cfg    Config
	client *http.Client
	log    *zap.Logger

	mu      sync.Mutex
	keySets map[[2]string]*keySet
}

// New fills cfg's defaults and returns a Verifier.
func New(cfg Config) *Verifier {
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(DefaultHTTPTimeout)
	}
	if cfg.Skew == 0 {
		cfg.Skew = 30 * time.Second
	}
	if cfg.MaxTokenBytes <= 0 {
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = 30 * time.Second
	}
	if cfg.MaxKeyAge <= 0 {
		cfg.MaxKeyAge = 5 * time.Minute
	}
	if cfg.Replay == nil {
		cfg.Replay = NewMemoryReplayStore()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Verifier{cfg: cfg, client: cfg.Client, log: cfg.Logger, keySets: map[[2]string]*keySet{}}
}

func (v *Verifier) now() time.Time { return v.cfg.Now() }

// Verify accepts raw only if it is a valid ID token of one of ps's
// providers. Every refusal matches ErrInvalidToken; keys that cannot be
// fetched give ErrKeysUnavailable. No error holds any part of the token.
func (v *Verifier) Verify(ctx context.Context, raw string, ps Providers) (*Verified, error) {
	// 1. Size, compact form and header, before anything else.
	h, err := Precheck(raw, v.cfg.MaxTokenBytes)
	if err != nil {
		return nil, err
	}
	// 2. One strict parse of the payload, then route by its exact `iss`:
	// an unknown issuer is refused with no I/O.
	payload, claims, err := parsePayload(raw)
	if err != nil {
		return nil, err
	}
	iss, _ := claims["iss"].(string)
	p, ok := ps.ProviderByIssuer(iss)
	if !ok {
		return nil, ErrUnknownIssuer
	}
	if !slices.Contains(p.Algorithms, h.Alg) {
		return nil, fmt.Errorf("%w: alg %s is not allowed for provider %s", ErrSignature, h.Alg, p.Name)
	}
	// 3. Claims: issuer, subject, audience, times, lifetime. They are
	// checked before the signature so that a malformed claim is refused for
	// what it is (go-oidc's lenient decoding would call it a bad
	// signature); nothing is trusted until step 4 passes.
	out, err := v.checkClaims(p, claims)
	if err != nil {
		return nil, err
	}
	// 4. Signature, with go-oidc over the provider's keys.
	ks := v.keySet(p)
	if _, err := ks.current(ctx); err != nil {
		return nil, err
	}
	if err := v.verifySignature(ctx, raw, payload, p, ks); err != nil {
		return nil, err
	}
	// 5. Replay, only for verified tokens: a forgery cannot burn a jti.
	if err := v.checkReplay(ctx, p, out); err != nil {
		return nil, err
	}
	return out, nil
}

func parsePayload(raw string) ([]byte, map[string]any, error) {
	seg := raw[strings.IndexByte(raw, '.')+1 : strings.LastIndexByte(raw, '.')]
	payload, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	claims, err := ParseClaims(payload)
	if err != nil {
		return nil, nil, err
	}
	return payload, claims, nil
}

// verifySignature runs go-oidc's verifier with our key set, algorithms
// pinned, and our own time checks. The payload go-oidc verified must be the
// bytes that were parsed strictly.
func (v *Verifier) verifySignature(ctx context.Context, raw string, payload []byte, p *Provider, ks *keySet) error {
	ov := oidc.NewVerifier(p.Issuer, ks, &oidc.Config{
		SkipClientIDCheck:    true, // audiences are checked against the provider's list below
		SkipExpiryCheck:      true, // times are checked below, with the configured skew
		SupportedSigningAlgs: p.Algorithms,
		Now:                  v.cfg.Now,
	})
	tok, err := ov.Verify(ctx, raw)
	if err != nil {
		if ks.unavailable() {
			return fmt.Errorf("%w: %s", ErrKeysUnavailable, p.Issuer)
		}
		return ErrSignature
	}
	var verified json.RawMessage
	if err := tok.Claims(&verified); err != nil || !bytes.Equal(verified, payload) {
		return ErrSignature
	}
	return nil
}

func (v *Verifier) keySet(p *Provider) *keySet {
	key := [2]string{p.Issuer, p.JWKSURL}
	v.mu.Lock()
	defer v.mu.Unlock()
	ks, ok := v.keySets[key]
	if !ok {
		ks = &keySet{issuer: p.Issuer, jwksURL: p.JWKSURL, v: v}
		v.keySets[key] = ks
	}
	ks.mu.Lock()
	ks.provider = p.Name
	ks.mu.Unlock()
	return ks
}

// unavailable reports whether the key set has no keys to verify with.
func (ks *keySet) unavailable() bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys == nil
}

func (v *Verifier) checkClaims(p *Provider, c map[string]any) (*Verified, error) {
	out := &Verified{Provider: p, Claims: c, Issuer: p.Issuer}
	if iss, _ := c["iss"].(string); iss != p.Issuer {
		return nil, fmt.Errorf("%w: iss does not match", ErrClaims)
	}
	sub, ok := c["sub"].(string)
	if !ok || sub == "" {
		return nil, fmt.Errorf("%w: sub is missing or empty", ErrClaims)
	}
	out.Subject = sub
	if err := checkAudience(c["aud"], p.Audiences); err != nil {
		return nil, err
	}
	if err := v.checkTimes(p, c, out); err != nil {
		return nil, err
	}
	if jti, present := c["jti"]; present {
		s, ok := jti.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%w: jti is not a non-empty string", ErrClaims)
		}
		out.JTI = s
	}
	if p.OneTimeUse && out.JTI == "" {
		return nil, fmt.Errorf("%w: jti is required by provider %s", ErrClaims, p.Name)
	}
	return out, nil
}

// checkReplay refuses a second use of (iss, jti) for one-time-use providers.
func (v *Verifier) checkReplay(ctx context.Context, p *Provider, out *Verified) error {
	if !p.OneTimeUse {
		return nil
	}
	fresh, err := v.cfg.Replay.Use(ctx, p.Issuer+"\x00"+out.JTI, out.Expiry.Add(v.cfg.Skew))
	if err != nil {
		return fmt.Errorf("replay store: %w", err)
	}
	if !fresh {
		return ErrReplay
	}
	return nil
}

// checkAudience: aud (a string or an array of strings) must name one of the
// provider's audiences (RFC 7519 §4.1.3).
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
		return fmt.Errorf("%w: aud is missing or not a string or array", ErrClaims)
	}
	for _, a := range auds {
		if slices.Contains(accepted, a) {
			return nil
		}
	}
	return fmt.Errorf("%w: aud is not an accepted audience", ErrClaims)
}

func (v *Verifier) checkTimes(p *Provider, c map[string]any, out *Verified) error {
	now, skew := v.now(), v.cfg.Skew
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
	switch {
	case !now.Before(exp.Add(skew)):
		return fmt.Errorf("%w: expired", ErrExpired)
	case !nbf.IsZero() && now.Add(skew).Before(nbf):
		return fmt.Errorf("%w: not valid yet (nbf)", ErrExpired)
	case now.Add(skew).Before(iat):
		return fmt.Errorf("%w: issued in the future (iat)", ErrClaims)
	case !exp.After(iat):
		return fmt.Errorf("%w: exp is not after iat", ErrClaims)
	case exp.Sub(iat) > p.MaxTokenLifetime:
		return fmt.Errorf("%w: lifetime %s exceeds %s", ErrClaims, exp.Sub(iat), p.MaxTokenLifetime)
	}
	out.IssuedAt, out.Expiry = iat, exp
	return nil
}

// numericDate reads a JSON number of seconds (RFC 7519 §2); strings,
// quoted numbers and absurd values are refused.
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
		return time.Time{}, fmt.Errorf("%w: %s is not a number", ErrClaims, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("%w: %s is not a valid date", ErrClaims, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// CheckURL accepts https URLs, and http URLs on a loopback host when
// insecure is set.
func CheckURL(raw string, insecure bool) error {
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

// IsLoopback reports whether host is localhost or a loopback IP.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func zapIssuer(iss string) zap.Field { return zap.String("issuer", iss) }
func zapErr(err error) zap.Field     { return zap.Error(err) }
