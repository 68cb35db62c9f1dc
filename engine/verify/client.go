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

// maxResponseBytes caps discovery documents and JWKS.
const maxResponseBytes = 1 << 20

// errTooLarge is returned when reading a response past maxResponseBytes.
var errTooLarge = errors.New("response larger than 1 MiB")

// NewHTTPClient returns the client used for discovery and JWKS: bounded in
// time at every step, following at most 3 redirects and only to the same
// host, and failing (not truncating) on a body larger than 1 MiB.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     cappedTransport{tr},
		CheckRedirect: sameHostRedirects,
	}
}

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return fmt.Errorf("redirect to another host refused")
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
	resp.Body = &cappedBody{rc: resp.Body, left: maxResponseBytes}
	return resp, nil
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than the cap means the body is too large.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
