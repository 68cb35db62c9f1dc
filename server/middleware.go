package server

import (
	"errors"
	"fmt"

	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/server/console"
)

// instrument is the middleware every request goes through, routed or not:
//
//  1. response headers that are safe by default: no-store and no-cache
//     (RFC 6749 §5.1, RFC 7662 §2.2: token, introspection and error
//     responses must not be cached; the few cacheable documents opt out),
//     and nosniff;
//  2. the body cap (http.MaxBytesReader: reading past it fails, the handler
//     answers 413);
//  3. recovery from a panicking handler as a 500 server_error;
//  4. the request counter and latency histogram, by endpoint and code, and
//     a Debug line per successful request;
//  5. while draining (Drain), Connection: close on every response, so that
//     keep-alive clients and load balancers open their next connection to
//     another replica instead of reusing this one.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h := rec.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if s.draining.Load() {
			h.Set("Connection", "close") // net/http closes the connection after this response
		}
		// The real writer: net/http then closes a connection whose body
		// ran past the cap instead of reading the rest of it.
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		endpoint := s.endpointLabel(r)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel is panicked as is
					panic(v)
				}
				// The panic's value may hold request data (a token): only
				// its type and the stack's frames are logged.
				s.log.Error("handler panicked", zap.String("endpoint", endpoint),
					zap.String("panic_type", fmt.Sprintf("%T", v)), zap.StackSkip("stack", 1))
				if !rec.wrote {
					s.writeError(rec, r, errPanic)
				}
			}
			elapsed := time.Since(start)
			s.metrics.observe(endpoint, rec.statusCode(), elapsed)
			if rec.statusCode() >= http.StatusBadRequest {
				return
			}
			if ce := s.log.Check(zap.DebugLevel, "request served"); ce != nil {
				ce.Write(zap.String("endpoint", endpoint), zap.String("method", r.Method),
					zap.Int("status", rec.statusCode()), zap.Duration("duration", elapsed),
					zap.String("client_ip", s.clientIP(r)))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// errPanic is what a panicking handler answers.
var errPanic = errors.New("handler panicked")

// endpointLabel names r's endpoint for metrics and logs: its path when the
// API has it, else endpointUnknown. A raw path is never a label: it is
// unbounded and may carry a token.
func (s *Server) endpointLabel(r *http.Request) string {
	if rt, ok := s.lookup(r.URL.Path); ok {
		return rt.path
	}
	if s.console != nil && strings.HasPrefix(r.URL.Path, console.PathPrefix) {
		return console.PathPrefix
	}
	return endpointUnknown
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) statusCode() int {
	if !r.wrote {
		return http.StatusOK
	}
	return r.status
}

// rateKey is the rate-limit bucket of a client address: the address itself
// for IPv4, its /64 for IPv6, since one host commonly holds a whole /64.
func rateKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// allowClient applies the per-client rate limit to routes that have it.
func (s *Server) allowClient(rt *route, r *http.Request) (time.Duration, bool) {
	if !rt.limited || s.limiter == nil {
		return 0, true
	}
	return s.limiter.Allow(rateKey(s.clientIP(r)))
}

// clientRateLimitError is a request refused by the per-client limit.
type clientRateLimitError struct{ retryAfter time.Duration }

func (e *clientRateLimitError) Error() string {
	return fmt.Sprintf("client rate limit: retry after %s", e.retryAfter)
}
