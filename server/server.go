package server

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/ratelimit"
	"github.com/trustgate/trustgate/server/console"
)

// DefaultMaxBodyBytes is Config.MaxBodyBytes when it is zero.
const DefaultMaxBodyBytes = 64 << 10

// Config configures a Server. Zero values get the defaults named here.
type Config struct {
	// Exchanger answers POST /oauth2/token and /v1/auth:exchangeToken.
	// Required.
	Exchanger Exchanger
	// Inspector answers /v1/whoami, /oauth2/introspect and /oauth2/revoke.
	// Required.
	Inspector Inspector
	// Discovery names the issuer and its keys for /.well-known/. Required.
	Discovery Discovery
	// Status answers /readyz and /v1/policy. Required.
	Status Status
	// Access answers the just-in-time API under /v1/access/ (DESIGN §13).
	// Nil: those paths are 404.
	Access Access
	// Logger receives one line per refused or failed request (4xx at Warn,
	// 5xx at Error) and, at Debug, one per successful request. It never
	// receives a token, a parameter value or a URL path. Nil: no logs.
	Logger *zap.Logger
	// MaxBodyBytes caps request bodies; a larger body is refused with 413.
	// Zero: DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RevealReasons appends the policy's deny reasons to error_description.
	// Reasons tell a caller what to change, and a prober too: turn it on on
	// trusted networks only.
	RevealReasons bool
	// ClientRate limits exchanges (POST /oauth2/token and
	// /v1/auth:exchangeToken) per client IP address, in requests per
	// second; IPv6 clients are grouped by /64. Zero: no limit. The client
	// IP is the connection's peer address unless the peer is one of
	// TrustedProxies.
	ClientRate float64
	// ClientBurst is how many exchanges a client may make at once. Zero with
	// a ClientRate: the rate rounded up.
	ClientBurst int
	// TrustedProxies are the networks of the load balancers and proxies in
	// front of the server. Only a request whose peer is in one of them has
	// its client address taken from X-Forwarded-For or Forwarded (RFC
	// 7239): the rightmost hop that is not itself a trusted proxy. That
	// address is the one rate-limited, logged and given to the policy.
	// Empty: proxy headers are ignored.
	TrustedProxies []netip.Prefix
	// IntrospectionClients are the resource servers allowed to call
	// POST /oauth2/introspect, with HTTP Basic (RFC 7662 §2.1). Empty:
	// introspection is open to anyone.
	IntrospectionClients []IntrospectionClient
	// Registerer receives the server's metrics (trustgate_http_*). Nil: a
	// registry of the server's own.
	Registerer prometheus.Registerer
	// Console, when set, serves every path under /console/ (the approval
	// console, server/console), behind the same middleware; its requests
	// carry the client address in their context (console.WithClientIP).
	// Nil: no console.
	Console http.Handler
	// ConsoleSettings, when set, answers GET /.well-known/trustgate-console:
	// how `trustgate login` signs in with the console's IdP. Nil: 404.
	ConsoleSettings ConsoleSettings
	// Gatherer is what GET /metrics serves. Nil: the Registerer when it is
	// also a Gatherer (a *prometheus.Registry is); otherwise /metrics is not
	// served.
	Gatherer prometheus.Gatherer
}

// Server is the HTTP API of DESIGN §6. It is safe for concurrent use.
type Server struct {
	exchanger  Exchanger
	inspector  Inspector
	discovery  Discovery
	status     Status
	access     Access
	log        *zap.Logger
	maxBody    int64
	reveal     bool
	limiter    *ratelimit.Keyed
	proxies    trustedProxies
	clients    clientSecrets
	metrics    *metrics
	gatherer   prometheus.Gatherer
	console    http.Handler
	consoleCLI ConsoleSettings
	routes     []route
	known      map[string]*route // by path
	templated  []*route          // routes whose path has {name} segments
	draining   atomic.Bool
	handler    http.Handler
}

// New checks cfg, fills its defaults, registers the metrics and builds the
// routes.
func New(cfg Config) (*Server, error) {
	clients, err := cfg.check()
	if err != nil {
		return nil, err
	}
	cfg.fillDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		exchanger:  cfg.Exchanger,
		inspector:  cfg.Inspector,
		discovery:  cfg.Discovery,
		status:     cfg.Status,
		access:     cfg.Access,
		log:        cfg.Logger,
		maxBody:    cfg.MaxBodyBytes,
		reveal:     cfg.RevealReasons,
		limiter:    ratelimit.New(cfg.ClientRate, cfg.ClientBurst, nil),
		proxies:    trustedProxies(unmapped(cfg.TrustedProxies)),
		clients:    clients,
		metrics:    m,
		gatherer:   cfg.Gatherer,
		console:    cfg.Console,
		consoleCLI: cfg.ConsoleSettings,
	}
	s.routes = s.routeTable()
	s.known = make(map[string]*route, len(s.routes))
	for i := range s.routes {
		if strings.Contains(s.routes[i].path, "{") {
			s.templated = append(s.templated, &s.routes[i])
			continue
		}
		s.known[s.routes[i].path] = &s.routes[i]
	}
	s.handler = s.instrument(s.router())
	return s, nil
}

// check reports every problem of cfg at once, and returns the
// introspection clients' secrets it prepared.
func (cfg *Config) check() (clientSecrets, error) {
	var errs []error
	for _, required := range []struct {
		name    string
		missing bool
	}{
		{"Exchanger", cfg.Exchanger == nil},
		{"Inspector", cfg.Inspector == nil},
		{"Discovery", cfg.Discovery == nil},
		{"Status", cfg.Status == nil},
	} {
		if required.missing {
			errs = append(errs, fmt.Errorf("server: %s is required", required.name))
		}
	}
	if cfg.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("server: MaxBodyBytes %d is negative", cfg.MaxBodyBytes))
	}
	if cfg.ClientRate < 0 || math.IsNaN(cfg.ClientRate) || math.IsInf(cfg.ClientRate, 0) {
		errs = append(errs, fmt.Errorf("server: ClientRate %v is not a finite rate", cfg.ClientRate))
	}
	if cfg.ClientBurst < 0 {
		errs = append(errs, fmt.Errorf("server: ClientBurst %d is negative", cfg.ClientBurst))
	}
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("server: TrustedProxies[%d] is not a network", i))
		}
	}
	clients, err := newClientSecrets(cfg.IntrospectionClients)
	if err != nil {
		errs = append(errs, err)
	}
	return clients, errors.Join(errs...)
}

// fillDefaults sets the zero fields of a checked cfg to the defaults its
// comments name.
func (cfg *Config) fillDefaults() {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ClientRate > 0 && cfg.ClientBurst == 0 {
		cfg.ClientBurst = int(min(math.Ceil(cfg.ClientRate), 1e6))
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if g, ok := cfg.Registerer.(prometheus.Gatherer); ok && cfg.Gatherer == nil {
		cfg.Gatherer = g
	}
}

// Handler is the server's http.Handler: every route of DESIGN §6 behind
// the middleware (metrics, recovery, no-store, body cap).
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns an *http.Server serving Handler on addr, with
// timeouts against slow clients and its own errors logged at Warn.
func (s *Server) HTTPServer(addr string) *http.Server {
	errorLog, _ := zap.NewStdLogAt(s.log.Named("net/http"), zap.WarnLevel) // fails only for an invalid level
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          errorLog,
	}
}

// Drain makes /readyz fail from now on, so that load balancers stop sending
// requests, and every response carry Connection: close, so that clients
// reconnect elsewhere rather than reuse a connection to this server. Every
// other endpoint keeps serving: call it when the stop begins, well before
// http.Server.Shutdown closes the listener.
func (s *Server) Drain() { s.draining.Store(true) }

// handlerFunc is an endpoint: it writes a response, or returns the error
// that writeError turns into one.
type handlerFunc func(http.ResponseWriter, *http.Request) error

// route is one path of the API.
type route struct {
	path    string
	methods []string // GET routes also answer HEAD
	limited bool     // per-client rate limit
	handle  handlerFunc
}

// Paths of the API (DESIGN §6).
const (
	pathToken           = "/oauth2/token"
	pathExchangeJSON    = "/v1/auth:exchangeToken"
	pathWhoami          = "/v1/whoami"
	pathIntrospect      = "/oauth2/introspect"
	pathRevoke          = "/oauth2/revoke"
	pathOpenIDConfig    = "/.well-known/openid-configuration"
	pathConsoleSettings = "/.well-known/trustgate-console"
	pathOAuthMetadata   = "/.well-known/oauth-authorization-server"
	pathJWKS            = "/.well-known/jwks.json"
	pathHealthz         = "/healthz"
	pathReadyz          = "/readyz"
	pathMetrics         = "/metrics"
	pathPolicy          = "/v1/policy"
	// endpointUnknown labels requests to any other path in metrics and logs:
	// a path may carry anything, even a token.
	endpointUnknown = "unknown"
)

func (s *Server) routeTable() []route {
	get := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	routes := []route{
		{path: pathToken, methods: post, limited: true, handle: s.token},
		{path: pathExchangeJSON, methods: post, limited: true, handle: s.exchangeJSON},
		{path: pathWhoami, methods: get, handle: s.whoami},
		{path: pathIntrospect, methods: post, handle: s.introspect},
		{path: pathRevoke, methods: post, handle: s.revoke},
		{path: pathOpenIDConfig, methods: get, handle: s.openIDConfiguration},
		{path: pathOAuthMetadata, methods: get, handle: s.authorizationServerMetadata},
		{path: pathJWKS, methods: get, handle: s.jwks},
		{path: pathHealthz, methods: get, handle: s.healthz},
		{path: pathReadyz, methods: get, handle: s.readyz},
		{path: pathPolicy, methods: get, handle: s.policy},
	}
	if s.gatherer != nil {
		routes = append(routes, route{path: pathMetrics, methods: get, handle: s.prometheus()})
	}
	if s.access != nil {
		routes = append(routes, s.accessRoutes()...)
	}
	if s.consoleCLI != nil {
		routes = append(routes, route{path: pathConsoleSettings, methods: get, handle: s.consoleSettings})
	}
	return routes
}

// router routes exact paths: no cleaning, no redirects, no trailing-slash
// variants. A known path with another method is 405 with Allow; any other
// path is 404.
func (s *Server) router() *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	for i := range s.routes {
		rt := &s.routes[i]
		r.Handle(rt.path, s.endpoint(rt)).Methods(rt.methods...)
	}
	if s.console != nil {
		r.Handle("/console", http.RedirectHandler(console.PathPrefix, http.StatusMovedPermanently))
		r.PathPrefix(console.PathPrefix).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.console.ServeHTTP(w, r.WithContext(console.WithClientIP(r.Context(), s.clientIP(r))))
		}))
	}
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt, ok := s.lookup(r.URL.Path); ok {
			w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		}
		s.writeError(w, r, &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, desc: descMethod})
	})
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &apiError{status: http.StatusNotFound, code: codeNotFound, desc: descNotFound})
	})
	return r
}

// endpoint runs one route: the per-client rate limit where it applies, then
// the handler, then writeError for whatever error it returned.
func (s *Server) endpoint(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if wait, ok := s.allowClient(rt, r); !ok {
			err = &clientRateLimitError{retryAfter: wait}
		} else {
			err = rt.handle(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) prometheus() handlerFunc {
	h := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(s.log.Named("metrics")),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}
