package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one delivery: connecting, sending, the response.
const DefaultTimeout = 10 * time.Second

// maxResponse is the most of a response body read (and thrown away), so
// the connection can be reused and a receiver cannot make us read forever.
const maxResponse = 64 << 10

// NewClient is the HTTP client deliveries use: a timeout, and redirects
// refused (a 3xx is a failed delivery: a webhook that moved is
// reconfigured, not followed with the body).
func NewClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// StatusError is a delivery the receiver answered with a status other
// than 2xx.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("receiver answered %d %s", e.Code, http.StatusText(e.Code))
}

// post sends body to target URL. Only a 2xx answer is a delivery. The
// error never holds the URL: it is a credential.
func post(ctx context.Context, c *http.Client, rawURL string, body []byte, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return errors.New("the webhook URL is not valid") // its parse error would quote it
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return redact(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// redact drops the URL a *url.Error quotes, keeping what went wrong
// (refused, timed out, TLS); the host may show in a dial error, the path
// and query, where webhook credentials live, never do.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("post: %w", ue.Err)
	}
	return err
}
