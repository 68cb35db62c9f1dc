package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/weburl"
)

// Engine is what the console needs of *engine.Engine: the calls the JSON
// API makes, with the session's ID token as the bearer token.
type Engine interface {
	AccessRequests(ctx context.Context, c engine.AccessCall, f access.Filter) (access.Page, error)
	AccessRequest(ctx context.Context, c engine.AccessCall, id string) (access.Request, error)
	ReviewAccess(ctx context.Context, c engine.AccessCall, id, verdict, reason string) (access.Request, error)
	RevokeAccess(ctx context.Context, c engine.AccessCall, id, reason string) (access.Request, error)
	AccessReviewer(ctx context.Context, c engine.AccessCall) (policy.ReviewerDecision, error)
}

// Config configures a Console.
type Config struct {
	// Engine answers every page and action. Required.
	Engine Engine
	// Issuer is the company IdP's issuer URL; its discovery document names
	// the authorization and token endpoints. The IdP must also be a
	// provider of the bundle, with ClientID among its audiences, or the
	// engine refuses every ID token the console hands it. Required.
	Issuer string
	// ClientID and ClientSecret are the console's OAuth client at the IdP.
	// ClientID is required.
	ClientID, ClientSecret string
	// Scopes are what the sign-in asks for. Nil: DefaultScopes, plus
	// "groups" when the IdP's discovery lists it in scopes_supported (an
	// IdP that refuses an unknown scope is never sent one).
	Scopes []string
	// CLIClientID is the OAuth client `trustgate login` signs in with, as
	// /.well-known/trustgate-console tells it: a public (native) client
	// with a loopback redirect or the device grant. "": ClientID when the
	// console's client has no secret, else none is told.
	CLIClientID string
	// CLIDevice tells `trustgate login` to use the device grant: the
	// CLI's client has no loopback redirect.
	CLIDevice bool
	// RedirectURL is the console's callback as the IdP knows it,
	// https://<public host>/console/callback. Its scheme decides the
	// cookies' Secure flag: only an http loopback URL (development) goes
	// without it. Required.
	RedirectURL string
	// SessionKey (KeySize bytes) seals the session cookies. Replicas
	// behind one load balancer need the same key; a new key signs every
	// session out. Required.
	SessionKey []byte
	// HTTPClient reaches the IdP (discovery, keys, token endpoint). Nil:
	// a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives one line per refusal, never a token. Nil: none.
	Logger *zap.Logger
	// Now is the clock. Nil: time.Now.
	Now func() time.Time
}

// Console serves /console/. It is safe for concurrent use.
type Console struct {
	eng     Engine
	idp     *idp
	cookies *cookies
	pages   *template.Template
	log     *zap.Logger
	now     func() time.Time
	handler http.Handler
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var staticFS embed.FS

// New checks cfg and builds the console. It does not reach the IdP: its
// discovery document is fetched at the first sign-in, and again after a
// failure.
func New(cfg Config) (*Console, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s, err := newSealer(cfg.SessionKey)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	redirect, _ := url.Parse(cfg.RedirectURL) // checked
	c := &Console{
		eng:     cfg.Engine,
		idp:     newIDP(cfg),
		cookies: &cookies{sealer: s, secure: redirect.Scheme == "https", now: cfg.Now},
		pages:   pages,
		log:     cfg.Logger,
		now:     cfg.Now,
	}
	c.handler = headers(c.routes())
	return c, nil
}

func (cfg Config) check() error {
	var errs []error
	if cfg.Engine == nil {
		errs = append(errs, errors.New("console: Engine is required"))
	}
	if cfg.Issuer == "" || cfg.ClientID == "" {
		errs = append(errs, errors.New("console: Issuer and ClientID are required"))
	}
	// The one URL rule; whether loopback http is allowed here is the
	// config's to decide (allow_insecure_issuers).
	if err := weburl.Check(cfg.RedirectURL, true); err != nil {
		errs = append(errs, fmt.Errorf("console: RedirectURL: %w", err))
	}
	if len(cfg.SessionKey) != KeySize {
		errs = append(errs, fmt.Errorf("console: SessionKey must be %d bytes", KeySize))
	}
	return errors.Join(errs...)
}

// Handler serves every path under /console/.
func (c *Console) Handler() http.Handler { return c.handler }

// Paths of the console.
const (
	PathPrefix   = "/console/"
	pathLogin    = "/console/login"
	pathCallback = "/console/callback"
	pathLogout   = "/console/logout"
	pathRequest  = "/console/requests/"
)

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static") // the embedded directory exists
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /console/{$}", c.page(c.dashboard))
	mux.HandleFunc("GET /console/requests/{id}", c.page(c.request))
	mux.HandleFunc("POST /console/requests/{id}/{action}", c.action)
	mux.HandleFunc("GET "+pathLogin, c.login)
	mux.HandleFunc("GET "+pathCallback, c.callback)
	mux.HandleFunc("POST "+pathLogout, c.logout)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, "", errNotFound)
	})
	return mux
}

// headers sets what every console response carries: a CSP that allows no
// script, no framing, no referrer, no caching.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// clientIPKey carries the client address the server resolved (trusted
// proxies included) to the console's engine calls.
type clientIPKey struct{}

// WithClientIP returns ctx carrying the request's client address, for the
// server that mounts the console.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

func clientIP(r *http.Request) string {
	ip, _ := r.Context().Value(clientIPKey{}).(string)
	return ip
}
