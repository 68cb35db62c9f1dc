package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/verify"
)

// fetchLog is a verify.Observer that records key fetch outcomes.
type fetchLog struct {
	mu       sync.Mutex
	outcomes []string
}

func (f *fetchLog) KeysFetched(provider, outcome string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcomes = append(f.outcomes, provider+":"+outcome)
}

func (f *fetchLog) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.outcomes...)
}

func (h *harness) advance(d time.Duration) { h.now.Add(int64(d)) }

func TestKeyCachesOutlivePolicyReloads(t *testing.T) {
	h := newHarness(t)
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	jwks, disc := h.iss.JWKSFetches(), h.iss.DiscoveryFetches()
	// A reload builds new Provider values for the same issuer.
	reloaded := *h.prov
	ps := providers{reloaded.Issuer: &reloaded}
	if _, err := h.v.Verify(context.Background(), h.iss.Mint(t, h.claims(nil)), ps); err != nil {
		t.Fatal(err)
	}
	if h.iss.JWKSFetches() != jwks || h.iss.DiscoveryFetches() != disc {
		t.Fatalf("a reload refetched keys: %d JWKS and %d discovery fetches, want none", h.iss.JWKSFetches()-jwks, h.iss.DiscoveryFetches()-disc)
	}
}

func TestARotatedKeyIsFetchedOnceTheRefreshIntervalHasPassed(t *testing.T) {
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) { c.MinRefreshInterval = 10 * time.Second })
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	before := h.iss.JWKSFetches()
	next := h.iss.Rotate(t, jose.RS256)
	rotated := h.iss.Mint(t, h.claims(nil), enginetest.WithKey(next))
	// Within the interval, an unknown kid fetches nothing (DESIGN §10).
	if _, err := h.verify(rotated); !errors.Is(err, verify.ErrSignature) {
		t.Fatalf("within the refresh interval: %v, want ErrSignature", err)
	}
	if h.iss.JWKSFetches() != before {
		t.Fatal("an unknown kid fetched within the refresh interval")
	}
	h.advance(10 * time.Second) // exactly the interval: a refresh is allowed again
	if _, err := h.verify(rotated); err != nil {
		t.Fatalf("after the interval the rotated key was not fetched: %v", err)
	}
	if n := h.iss.JWKSFetches() - before; n != 1 {
		t.Fatalf("%d fetches for the rotation, want 1", n)
	}
}

func TestAStormOfUnknownKidsAfterTheIntervalCausesOneFetch(t *testing.T) {
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) { c.MinRefreshInterval = 10 * time.Second })
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	h.advance(11 * time.Second) // a refresh is allowed again
	before := h.iss.JWKSFetches()
	toks := make([]string, 100)
	for i := range toks {
		toks[i] = h.iss.Mint(t, h.claims(nil), enginetest.WithKID("unknown-"+string(rune('a'+i%26))+"-"+time.Duration(i).String()))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, raw := range toks {
		wg.Go(func() {
			<-start
			if _, err := h.verify(raw); !errors.Is(err, verify.ErrSignature) {
				t.Errorf("an unknown kid: %v, want ErrSignature", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := h.iss.JWKSFetches() - before; n > 1 {
		t.Fatalf("100 concurrent unknown kids caused %d JWKS fetches, want at most 1 (DESIGN §10)", n)
	}
}

func TestAForgeryWithAKnownKidCausesNoFetch(t *testing.T) {
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) { c.MinRefreshInterval = time.Second })
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	h.advance(2 * time.Second)
	before := h.iss.JWKSFetches()
	forger := enginetest.NewKey(t, jose.RS256)
	forger.ID = h.iss.RSAKey().ID
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil), enginetest.WithKey(forger))); !errors.Is(err, verify.ErrSignature) {
		t.Fatalf("a forgery under a published kid: %v, want ErrSignature", err)
	}
	if h.iss.JWKSFetches() != before {
		t.Fatal("a bad signature under a known kid refetched the keys (go-oidc's remote key set does; DESIGN §10)")
	}
}

func TestConcurrentCallersShareOneKeyFetch(t *testing.T) {
	h := newHarness(t)
	h.iss.Hang(true)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		raw := h.iss.Mint(t, h.claims(nil))
		wg.Go(func() {
			_, err := h.verify(raw)
			errs <- err
		})
	}
	waitFor(t, func() bool { return h.iss.JWKSFetches() >= 1 })
	time.Sleep(20 * time.Millisecond) // let every caller reach the wait
	h.iss.Hang(false)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a caller waiting on the shared fetch failed: %v", err)
		}
	}
	if n := h.iss.JWKSFetches(); n != 1 {
		t.Fatalf("20 concurrent first calls made %d JWKS fetches, want 1", n)
	}
}

func TestACallerThatGivesUpDoesNotCancelTheSharedFetch(t *testing.T) {
	h := newHarness(t)
	h.iss.Hang(true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.v.Verify(ctx, h.iss.Mint(t, h.claims(nil)), h.ps)
	if !errors.Is(err, verify.ErrKeysUnavailable) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("a caller past its deadline: %v, want ErrKeysUnavailable from its own deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the caller waited %s past its 50ms deadline", d)
	}
	h.iss.Hang(false)
	// The fetch it started went on and filled the cache.
	waitFor(t, func() bool {
		_, err := h.verify(h.iss.Mint(t, h.claims(nil)))
		return err == nil
	})
	if n := h.iss.JWKSFetches(); n != 1 {
		t.Fatalf("%d JWKS fetches, want the one shared fetch", n)
	}
}

func TestAHangingJWKSFailsOnlyItsOwnProviderWithinTheClientTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	obs := &fetchLog{}
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) {
		c.Client = verify.NewHTTPClient(timeout)
		c.Observer = obs
	})
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	slow := enginetest.NewIssuer(t)
	h.ps[slow.URL()] = &verify.Provider{Name: "slow", Issuer: slow.URL(), Platform: "github", Audiences: []string{aud},
		Algorithms: []string{"RS256"}, MaxTokenLifetime: time.Hour}
	slow.Hang(true)
	slowTok := slow.Mint(t, h.claims(map[string]any{"iss": slow.URL()}))
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := h.verify(slowTok); done <- err }()
	waitFor(t, func() bool { return slow.JWKSFetches() >= 1 })
	// While the slow issuer hangs, the healthy one answers at once.
	for range 20 {
		t0 := time.Now()
		if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
			t.Fatalf("the healthy provider failed while another hung: %v", err)
		}
		if d := time.Since(t0); d > 250*time.Millisecond {
			t.Fatalf("the healthy provider took %s while another hung", d)
		}
	}
	err := <-done
	if !errors.Is(err, verify.ErrKeysUnavailable) || errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("the hanging provider: %v, want ErrKeysUnavailable (a server problem, not a bad token)", err)
	}
	if d := time.Since(start); d > timeout+time.Second {
		t.Fatalf("the hanging provider failed after %s, want about the %s client timeout", d, timeout)
	}
	// Within the refresh interval the failure is remembered: no new fetch,
	// no new wait.
	fetches := slow.JWKSFetches()
	t0 := time.Now()
	if _, err := h.verify(slowTok); !errors.Is(err, verify.ErrKeysUnavailable) {
		t.Fatalf("again: %v", err)
	}
	if slow.JWKSFetches() != fetches || time.Since(t0) > 250*time.Millisecond {
		t.Fatal("a remembered failure fetched or waited again")
	}
	waitFor(t, func() bool { return len(obs.all()) == 2 })
	if got := obs.all(); got[0] != "ci:success" || got[1] != "slow:failure" {
		t.Fatalf("observed %v, want [ci:success slow:failure]", got)
	}
}

func TestKeysTheTokenCannotUseAreIgnored(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	type jwk = jose.JSONWebKey
	tests := []struct {
		name string
		key  func(iss *enginetest.Issuer) (enginetest.Key, []jwk) // signing key, published JWKS
		want error
	}{
		{"a key published for encryption only (RFC 7517 §4.2: use enc)", func(iss *enginetest.Issuer) (enginetest.Key, []jwk) {
			k := iss.RSAKey()
			return k, []jwk{{Key: k.Signer.Public(), KeyID: k.ID, Use: "enc"}}
		}, verify.ErrKeysUnavailable},
		{"a key published for another algorithm (RFC 7517 §4.4: alg)", func(iss *enginetest.Issuer) (enginetest.Key, []jwk) {
			k := iss.RSAKey()
			return k, []jwk{{Key: k.Signer.Public(), KeyID: k.ID, Use: "sig", Algorithm: "PS256"}}
		}, verify.ErrSignature},
		{"an RSA key shorter than 2048 bits (RFC 7518 §3.3)", func(*enginetest.Issuer) (enginetest.Key, []jwk) {
			k := enginetest.Key{ID: "short", Algorithm: jose.RS256, Signer: rsa1024}
			return k, []jwk{{Key: rsa1024.Public(), KeyID: k.ID, Use: "sig"}}
		}, verify.ErrSignature},
		{"an EC key on another curve than ES256's (RFC 7518 §3.4)", func(iss *enginetest.Issuer) (enginetest.Key, []jwk) {
			k := iss.ECKey()
			return k, []jwk{{Key: &p384.PublicKey, KeyID: k.ID, Use: "sig"}}
		}, verify.ErrSignature},
		{"a key without use or alg is used (RFC 7517 §4.2, §4.4 are optional)", func(iss *enginetest.Issuer) (enginetest.Key, []jwk) {
			k := iss.RSAKey()
			return k, []jwk{{Key: k.Signer.Public(), KeyID: k.ID}}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.Algorithms = []string{"RS256", "ES256"} })
			k, published := tc.key(h.iss)
			body, err := json.Marshal(jose.JSONWebKeySet{Keys: published})
			if err != nil {
				t.Fatal(err)
			}
			h.iss.ServeJWKS(body)
			header := []byte(`{"alg":"` + string(k.Algorithm) + `","kid":"` + k.ID + `","typ":"JWT"}`)
			raw := enginetest.SignRaw(t, k, header, mustJSON(t, h.claims(nil)))
			_, err = h.verify(raw)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBrokenKeySourcesMakeKeysUnavailable(t *testing.T) {
	signer := enginetest.NewIssuer(t)
	// discovery serves doc at its own URL; an empty issuer is filled with it.
	discovery := func(t *testing.T, doc map[string]any) string {
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/openid-configuration" {
				http.NotFound(w, r)
				return
			}
			if doc["issuer"] == "" {
				doc["issuer"] = srv.URL
			}
			_ = json.NewEncoder(w).Encode(doc)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	// jwks serves body as the signer's JWKS and names it as the provider's.
	jwks := func(body []byte) func(t *testing.T) (string, string) {
		return func(t *testing.T) (string, string) {
			signer.ServeJWKS(body)
			t.Cleanup(func() { signer.ServeJWKS(nil) })
			return signer.URL(), signer.JWKSURL()
		}
	}
	private, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: signer.RSAKey().Signer, KeyID: signer.RSAKey().ID}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) (issuer, jwksURL string)
	}{
		{"discovery naming another issuer (OpenID Connect Discovery 1.0 §4.3)", func(t *testing.T) (string, string) {
			return discovery(t, map[string]any{"issuer": "https://gitlab.com", "jwks_uri": signer.JWKSURL()}), ""
		}},
		{"discovery naming the issuer with a trailing slash (OpenID Connect Discovery 1.0 §4.3: identical)", func(t *testing.T) (string, string) {
			u := discovery(t, map[string]any{"issuer": "", "jwks_uri": signer.JWKSURL()})
			return discovery(t, map[string]any{"issuer": u + "/", "jwks_uri": signer.JWKSURL()}), ""
		}},
		{"a jwks_uri over http on a public host (DESIGN §3: https)", func(t *testing.T) (string, string) {
			return discovery(t, map[string]any{"issuer": "", "jwks_uri": "http://keys.example.com/jwks"}), ""
		}},
		{"a jwks_uri that is not an absolute URL", func(t *testing.T) (string, string) {
			return discovery(t, map[string]any{"issuer": "", "jwks_uri": "/jwks"}), ""
		}},
		{"a jwks_uri with a query (the one URL rule, engine/weburl)", func(t *testing.T) (string, string) {
			return discovery(t, map[string]any{"issuer": "", "jwks_uri": signer.JWKSURL() + "?p=1"}), ""
		}},
		{"a jwks_uri with user info", func(t *testing.T) (string, string) {
			u := strings.Replace(signer.JWKSURL(), "http://", "http://user:pw@", 1)
			return discovery(t, map[string]any{"issuer": "", "jwks_uri": u}), ""
		}},
		{"no discovery document (HTTP 404)", func(t *testing.T) (string, string) {
			return discovery(t, map[string]any{}) + "/nowhere", ""
		}},
		{"a JWKS that is not JSON", jwks([]byte("<html>"))},
		{"a JWKS without keys", jwks([]byte(`{"keys":[]}`))},
		{"a JWKS of symmetric keys only (CVE-2015-9235)", jwks([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k"}]}`))},
		{"a JWKS of private keys only (RFC 7517 §4: key sets publish public keys)", jwks(private)},
		{"the issuer's good key set served with HTTP 500 (only a 200 is a key set)", func(t *testing.T) (string, string) {
			return signer.URL(), failing(t, jwksBody(t, signer))
		}},
		{"a good discovery document served with HTTP 503 (only a 200 is a document)", func(t *testing.T) (string, string) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "jwks_uri": signer.JWKSURL()})
			}))
			t.Cleanup(srv.Close)
			return srv.URL, ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issuer, jwksURL := tc.setup(t)
			obs := &fetchLog{}
			p := &verify.Provider{Name: "p", Issuer: issuer, Audiences: []string{aud}, Algorithms: []string{"RS256"}, JWKSURL: jwksURL, MaxTokenLifetime: time.Hour}
			v := verify.New(verify.Config{AllowInsecureIssuers: true, Observer: obs})
			_, err := v.Verify(context.Background(), signer.Mint(t, enginetest.GitLabClaims(issuer, aud)), providers{issuer: p})
			if !errors.Is(err, verify.ErrKeysUnavailable) || errors.Is(err, verify.ErrInvalidToken) {
				t.Fatalf("error %v, want ErrKeysUnavailable only", err)
			}
			if got := obs.all(); len(got) != 1 || got[0] != "p:failure" {
				t.Fatalf("observed %v, want one failure", got)
			}
		})
	}
}

func TestHTTPIssuersNeedInsecureIssuersAndLoopback(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	p := &verify.Provider{Name: "p", Issuer: iss.URL(), Audiences: []string{aud}, Algorithms: []string{"RS256"}, MaxTokenLifetime: time.Hour}
	raw := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), aud))
	v := verify.New(verify.Config{}) // AllowInsecureIssuers false
	if _, err := v.Verify(context.Background(), raw, providers{iss.URL(): p}); !errors.Is(err, verify.ErrKeysUnavailable) {
		t.Fatalf("an http issuer without AllowInsecureIssuers: %v, want ErrKeysUnavailable", err)
	}
	withJWKS := *p
	withJWKS.JWKSURL = iss.JWKSURL()
	if _, err := v.Verify(context.Background(), raw, providers{iss.URL(): &withJWKS}); !errors.Is(err, verify.ErrKeysUnavailable) {
		t.Fatalf("an http jwks_url without AllowInsecureIssuers: %v, want ErrKeysUnavailable", err)
	}
	if n := iss.Requests(); n != 0 {
		t.Fatalf("%d requests to an http issuer that is not allowed, want none", n)
	}
}

func TestAConfiguredJWKSURLSkipsDiscovery(t *testing.T) {
	h := newHarness(t, func(_ *verify.Config, p *verify.Provider) { p.JWKSURL = p.Issuer + "/jwks" })
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	if h.iss.DiscoveryFetches() != 0 || h.iss.JWKSFetches() != 1 {
		t.Fatalf("%d discovery and %d JWKS fetches, want 0 and 1", h.iss.DiscoveryFetches(), h.iss.JWKSFetches())
	}
}

func TestAnIssuerUnderAPathIsDiscoveredThere(t *testing.T) {
	iss := enginetest.NewIssuer(t, enginetest.WithPath("/gitlab"))
	p := &verify.Provider{Name: "self-managed", Issuer: iss.URL(), Platform: "gitlab", Audiences: []string{aud}, Algorithms: []string{"RS256"}, MaxTokenLifetime: time.Hour}
	v := verify.New(verify.Config{AllowInsecureIssuers: true})
	if _, err := v.Verify(context.Background(), iss.Mint(t, enginetest.GitLabClaims(iss.URL(), aud)), providers{iss.URL(): p}); err != nil {
		t.Fatal(err)
	}
	if iss.DiscoveryFetches() != 1 {
		t.Fatalf("%d discovery fetches under the path, want 1", iss.DiscoveryFetches())
	}
}

func TestKeysWhoseRefreshFailsAreUsedOnlyForABoundedTime(t *testing.T) {
	obs := &fetchLog{}
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) {
		c.MaxKeyAge = time.Minute
		c.MinRefreshInterval = time.Second
		c.Observer = obs
	})
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatal(err)
	}
	h.iss.ServeJWKS([]byte("<html>maintenance</html>"))
	h.advance(2 * time.Minute) // past MaxKeyAge: a refetch, which fails
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatalf("a short outage at the issuer refused a good token: %v", err)
	}
	h.advance(10 * time.Minute) // exactly 12 × MaxKeyAge after the last good fetch: the limit
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); !errors.Is(err, verify.ErrKeysUnavailable) {
		t.Fatalf("keys far past their age still verify: %v, want ErrKeysUnavailable", err)
	}
	waitFor(t, func() bool { return len(obs.all()) == 3 })
	if got := obs.all(); got[0] != "ci:success" || got[1] != "ci:failure" || got[2] != "ci:failure" {
		t.Fatalf("observed %v", got)
	}
	// When the issuer is back, so is the provider.
	h.iss.ServeJWKS(nil)
	h.advance(2 * time.Second)
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}

func TestAnIssuerWhoseKeysCannotBeFetchedIsOneOutageInTheLogNotOneLinePerToken(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	h := newHarness(t, func(c *verify.Config, _ *verify.Provider) {
		c.MinRefreshInterval = time.Second
		c.Logger = zap.New(core)
	})
	h.iss.ServeJWKS([]byte("<html>maintenance</html>"))
	for range 50 { // 55s of an issuer down, a fetch and a refused token every 1.1s
		if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); !errors.Is(err, verify.ErrKeysUnavailable) {
			t.Fatalf("a token while the issuer's keys cannot be fetched: %v, want ErrKeysUnavailable", err)
		}
		h.advance(1100 * time.Millisecond)
	}
	h.iss.ServeJWKS(nil)
	if _, err := h.verify(h.iss.Mint(t, h.claims(nil))); err != nil {
		t.Fatalf("once the issuer is back: %v", err)
	}
	down := logs.FilterMessage("issuer keys unreachable").AllUntimed()
	if len(down) != 1 || down[0].Level != zapcore.ErrorLevel || down[0].ContextMap()["issuer"] != h.iss.URL() ||
		!strings.Contains(fmt.Sprint(down[0].ContextMap()["error"]), "jwks") {
		t.Fatalf("the outage's first line: %v, want one error line naming the issuer and the first error", down)
	}
	summaries := logs.FilterMessage("issuer keys still unreachable").AllUntimed()
	if len(summaries) != 1 || fmt.Sprint(summaries[0].ContextMap()["refused"]) != "map[verification:28]" {
		t.Fatalf("summaries %v, want one after 30s counting the refused verifications", summaries)
	}
	back := logs.FilterMessage("issuer keys reachable again").AllUntimed()
	if len(back) != 1 || fmt.Sprint(back[0].ContextMap()["outage"]) != "55s" || back[0].ContextMap()["refused_total"] != int64(50) {
		t.Fatalf("the end of the outage: %v, want one line with its length 55s and 50 refusals", back)
	}
	if n := logs.Len(); n != 3 {
		t.Fatalf("%d lines for one outage, want 3: %v", n, logs.AllUntimed())
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ verify.Observer = (*fetchLog)(nil)

// jwksBody is the key set the issuer serves.
func jwksBody(t *testing.T, iss *enginetest.Issuer) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, iss.JWKSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the issuer's JWKS: HTTP %d, %v", resp.StatusCode, err)
	}
	return body
}

// failing serves body with HTTP 500 and returns its URL.
func failing(t *testing.T, body []byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/jwks"
}
