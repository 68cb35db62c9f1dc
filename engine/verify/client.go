package verify

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultHTTPTimeout bounds every discovery and JWKS fetch.
const DefaultHTTPTimeout = 5 * time.Second

// MaxResponseBytes caps discovery documents and JWKS.
const MaxResponseBytes = 1 << 20

// maxRedirects is how many same-host redirects a fetch follows.
const maxRedirects = 3

// ErrResponseTooLarge is returned when reading a response body past
// MaxResponseBytes: the body is refused, never silently truncated.
var ErrResponseTooLarge = errors.New("response body larger than 1 MiB")

// NewHTTPClient returns the client used for discovery and JWKS: bounded in
// time at every step (dial, TLS handshake, response headers, and the whole
// exchange, each within timeout; timeout <= 0 means DefaultHTTPTimeout),
// following at most 3 redirects and only to the same scheme and host, and
// failing (not truncating) on a body larger than MaxResponseBytes, whether
// announced by Content-Length or found while reading.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     cappedTransport{tr},
		CheckRedirect: sameHostRedirects,
	}
}

// sameHostRedirects follows at most maxRedirects redirects, each to the
// scheme and host (port included) of the original request: a JWKS
// location must not hand Trustgate's key fetches to another server, nor
// downgrade https to http.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("more than %d redirects", maxRedirects)
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return errors.New("redirect to another host or scheme refused")
	}
	return nil
}

// cappedTransport wraps response bodies so that reading past the cap fails.
type cappedTransport struct{ next http.RoundTripper }

func (c cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxResponseBytes {
		resp.Body.Close()
		return nil, ErrResponseTooLarge
	}
	resp.Body = &cappedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

// cappedBody reads at most left bytes, then fails with ErrResponseTooLarge
// if the body holds any more.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		// At the cap: one more byte means the body is too large.
		var one [1]byte
		for {
			n, err := b.rc.Read(one[:])
			switch {
			case n > 0:
				return 0, ErrResponseTooLarge
			case err != nil:
				return 0, err // io.EOF: exactly at the cap, which is fine
			}
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
