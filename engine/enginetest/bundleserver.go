package enginetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// BundleServer is a real bundle server on httptest speaking OPA's bundle
// protocol: the bundle with an ETag, 304 Not Modified to an If-None-Match
// that names it, 401 without the bearer token when one is required, 503
// while down. It records every request.
type BundleServer struct {
	URL string // the server's base URL; any path serves the bundle

	srv   *httptest.Server
	mu    sync.Mutex
	body  []byte
	etag  string
	token string
	down  bool
	reqs  []BundleRequest
}

// BundleRequest is one request a BundleServer received.
type BundleRequest struct {
	At            time.Time
	Authorization string
	IfNoneMatch   string
	Status        int
}

// NewBundleServer serves body until the test ends.
func NewBundleServer(t testing.TB, body []byte) *BundleServer {
	t.Helper()
	s := &BundleServer{}
	s.Set(body)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *BundleServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := BundleRequest{At: time.Now(), Authorization: r.Header.Get("Authorization"), IfNoneMatch: r.Header.Get("If-None-Match")}
	switch {
	case s.down:
		req.Status = http.StatusServiceUnavailable
	case s.token != "" && req.Authorization != "Bearer "+s.token:
		req.Status = http.StatusUnauthorized
	case req.IfNoneMatch == s.etag:
		req.Status = http.StatusNotModified
	default:
		req.Status = http.StatusOK
		w.Header().Set("ETag", s.etag)
		w.Header().Set("Content-Type", "application/gzip")
	}
	s.reqs = append(s.reqs, req)
	w.WriteHeader(req.Status)
	if req.Status == http.StatusOK {
		_, _ = w.Write(s.body)
	}
}

// Set makes body the bundle served from now on, with a new ETag.
func (s *BundleServer) Set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(body)
	s.body, s.etag = body, `"`+hex.EncodeToString(sum[:8])+`"`
}

// RequireToken makes the server answer 401 to requests without
// Authorization: Bearer token.
func (s *BundleServer) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetDown makes the server answer 503 (true) or serve again (false).
func (s *BundleServer) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Requests returns the requests received so far.
func (s *BundleServer) Requests() []BundleRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BundleRequest(nil), s.reqs...)
}

// Count returns how many requests so far got status.
func (s *BundleServer) Count(status int) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Status == status {
			n++
		}
	}
	return n
}

// BundleSigner signs bundles as `opa build --signing-key` does.
type BundleSigner struct {
	PrivateKeyPEM string // PKCS#8 or PKCS#1 PEM
	Algorithm     string // RS256, ES256, ...
	KeyID         string // the kid the server's bundle_verification.key_id names
}

// BundleTarball builds the bundle directory dir at revision rev into a
// .tar.gz with OPA's bundle writer, as `opa build -b dir --revision rev`
// does, signed when signer is not nil.
func BundleTarball(t testing.TB, dir, rev string, signer *BundleSigner) []byte {
	t.Helper()
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(dir)).WithSkipBundleVerification(true).Read()
	if err != nil {
		t.Fatal(err)
	}
	b.Manifest.Revision = rev
	if signer != nil {
		if err := b.GenerateSignature(bundle.NewSigningConfig(signer.PrivateKeyPEM, signer.Algorithm, ""), signer.KeyID, true); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).UseModulePath(true).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
