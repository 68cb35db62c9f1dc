package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

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
