package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// callbackPath is the loopback redirect's path.
const callbackPath = "/callback"

// pending is one loopback sign-in in progress: what the browser must
// bring back.
type pending struct {
	oauth                  *oauth2.Config
	state, nonce, verifier string
	once                   sync.Once
	done                   chan result
}

type result struct {
	tok *oauth2.Token
	err error
}

// loopbackFlow is the authorization code flow with PKCE on a loopback
// redirect (RFC 8252 §7.3): a one-shot HTTP server on 127.0.0.1 at a free
// port takes the authorization response; the first one ends the sign-in,
// whatever it says. It returns the token response and the nonce sent.
func (c *client) loopbackFlow(ctx context.Context, cfg Config) (*oauth2.Token, string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("a loopback port for the redirect: %w", err)
	}
	oc := *c.oauth
	oc.RedirectURL = "http://" + ln.Addr().String() + callbackPath
	p := &pending{oauth: &oc, state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier(), done: make(chan result, 1)}
	srv := &http.Server{Handler: p.handler(ctx), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer shutdown(srv)

	to := oc.AuthCodeURL(p.state, oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier))
	_, _ = fmt.Fprintf(cfg.Prompt, "To sign in, open this URL in your browser:\n  %s\n", to)
	if cfg.OpenBrowser != nil {
		if err := cfg.OpenBrowser(to); err != nil {
			_, _ = fmt.Fprintf(cfg.Prompt, "(no browser could be opened: %v)\n", err)
		}
	}
	select {
	case r := <-p.done:
		return r.tok, p.nonce, r.err
	case <-ctx.Done():
		return nil, "", fmt.Errorf("%w: no sign-in came back before the timeout: %w", ErrLogin, ctx.Err())
	}
}

// shutdown stops the redirect's server once the browser has its page
// (Shutdown waits for the handler), and at most a few seconds.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if srv.Shutdown(ctx) != nil {
		_ = srv.Close()
	}
}

// handler serves the redirect. Only GET /callback counts; it is taken
// once.
func (p *pending) handler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+callbackPath, func(w http.ResponseWriter, r *http.Request) {
		taken := false
		p.once.Do(func() {
			taken = true
			tok, err := p.complete(ctx, r)
			page(w, err)
			p.done <- result{tok, err}
		})
		if !taken {
			http.Error(w, "this sign-in is over: return to the terminal", http.StatusGone)
		}
	})
	return mux
}

// complete checks the authorization response in numbered steps:
//
//  1. the state equals the one sent;
//  2. the IdP did not answer an error;
//  3. the code, exchanged with the PKCE verifier (an injected code, got
//     with another verifier, is refused by the IdP).
//
// The ID token and its nonce are checked by the caller.
func (p *pending) complete(ctx context.Context, r *http.Request) (*oauth2.Token, error) {
	q := r.URL.Query()
	// 1. The state.
	if !equal(q.Get("state"), p.state) {
		return nil, fmt.Errorf("%w: the state of the redirect does not match the one sent", ErrLogin)
	}
	// 2. An error.
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("%w: the identity provider answered %.64q", ErrLogin, e)
	}
	// 3. The code.
	tok, err := p.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: code exchange: %w", ErrLogin, redact(err))
	}
	return tok, nil
}

// page is what the browser shows once the redirect is taken: a constant,
// no token, no script.
func page(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("<!doctype html><title>Trustgate</title><p>Sign-in failed. Return to the terminal to see why.</p>\n"))
		return
	}
	_, _ = w.Write([]byte("<!doctype html><title>Trustgate</title><p>Signed in to Trustgate. You can close this window and return to the terminal.</p>\n"))
}

// equal compares two secrets in constant time.
func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
