package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/ratelimit"
)

// Engine is what the server needs of engine.Engine.
type Engine interface {
	Exchange(ctx context.Context, req engine.Request) (*engine.Token, error)
	Inspect(ctx context.Context, raw string) (*engine.Introspection, error)
	Revoke(ctx context.Context, raw string) error
	JWKS() jose.JSONWebKeySet
	Ready() error
	PolicyStatus() engine.PolicyStatus
	Issuer() string
}

// Config configures a Server.
type Config struct {
	// Engine exchanges and inspects tokens. Required.
	Engine Engine
	// Logger receives request logs (never a token). Nil: none.
	Logger *zap.Logger
	// MaxBodyBytes caps request bodies (default 65536); more is 413.
	MaxBodyBytes int64
	// RevealReasons appends deny reasons to error_description. Only for
	// trusted networks: reasons tell a prober what to change.
	RevealReasons bool
	// ClientRate and ClientBurst limit requests to the token endpoints per
	// client IP (0: no limit).
	ClientRate  float64
	ClientBurst int
	// Registerer takes the HTTP metrics; Gatherer is served on /metrics.
	// Nil: a new registry of the server's own.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Server is the HTTP API of DESIGN §6.
type Server struct {
	cfg      Config
	eng      Engine
	log      *zap.Logger
	limiter  *ratelimit.Keyed
	metrics  *httpMetrics
	draining atomic.Bool
	handler  http.Handler
}

// New checks cfg and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("server: Engine is required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Registerer == nil {
		reg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = reg, reg
	}
	m, err := newHTTPMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		eng:     cfg.Engine,
		log:     cfg.Logger,
		limiter: ratelimit.New(cfg.ClientRate, cfg.ClientBurst, nil),
		metrics: m,
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer is an *http.Server for s with timeouts against slow clients.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("net/http")),
	}
}

// Drain makes /readyz fail, so load balancers stop sending requests before
// the process stops.
func (s *Server) Drain() { s.draining.Store(true) }

// endpoint is one route: its path, method and handler.
type endpoint struct {
	path    string
	method  string
	name    string
	limited bool // per-client rate limit
	handle  func(http.ResponseWriter, *http.Request) error
}

func (s *Server) endpoints() []endpoint {
	return []endpoint{
		{"/oauth2/token", http.MethodPost, "token", true, s.token},
		{"/v1/auth:exchangeToken", http.MethodPost, "exchange_json", true, s.exchangeJSON},
		{"/v1/whoami", http.MethodGet, "whoami", true, s.whoami},
		{"/oauth2/introspect", http.MethodPost, "introspect", true, s.introspect},
		{"/oauth2/revoke", http.MethodPost, "revoke", true, s.revoke},
		{"/.well-known/openid-configuration", http.MethodGet, "discovery", false, s.discovery},
		{"/.well-known/oauth-authorization-server", http.MethodGet, "discovery", false, s.discovery},
		{"/.well-known/jwks.json", http.MethodGet, "jwks", false, s.jwks},
		{"/healthz", http.MethodGet, "healthz", false, s.healthz},
		{"/readyz", http.MethodGet, "readyz", false, s.readyz},
		{"/v1/policy", http.MethodGet, "policy", false, s.policy},
	}
}

func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.UseEncodedPath()
	for _, ep := range s.endpoints() {
		r.Handle(ep.path, s.wrap(ep)).Methods(ep.method)
		r.Handle(ep.path, s.wrap(endpoint{name: ep.name, handle: methodNotAllowed(ep.method)}))
	}
	metrics := promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
	r.Handle("/metrics", metrics).Methods(http.MethodGet)
	r.NotFoundHandler = s.wrap(endpoint{name: "not_found", handle: func(http.ResponseWriter, *http.Request) error {
		return &apiError{status: http.StatusNotFound, code: codeNotFound, desc: descNotFound}
	}})
	return r
}

func methodNotAllowed(allowed string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Allow", allowed)
		return &apiError{status: http.StatusMethodNotAllowed, code: codeMethodNotAllowed, desc: descMethod}
	}
}

// wrap adds what every endpoint gets: no-store, body cap, client rate
// limit, metrics, and one place that writes errors.
func (s *Server) wrap(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rec.Header().Set("Cache-Control", "no-store")
		rec.Header().Set("Pragma", "no-cache")
		r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
		var err error
		if wait, ok := s.allow(ep, r); !ok {
			s.metrics.rateLimited.Inc()
			err = &apiError{status: http.StatusTooManyRequests, code: codeRateLimited, desc: descRateLimited,
				retryAfter: max(1, int(wait.Seconds()+0.999))}
		} else {
			err = ep.handle(rec, r)
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
		s.metrics.observe(ep.name, rec.status, time.Since(start))
	})
}

func (s *Server) allow(ep endpoint, r *http.Request) (time.Duration, bool) {
	if !ep.limited {
		return 0, true
	}
	return s.limiter.Allow(clientIP(r))
}

// clientIP is the peer address; proxies' headers are not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
