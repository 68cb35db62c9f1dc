package enginetest

import (
	"net/http"
	"testing"
)

// Get GETs u with c (http.DefaultClient when nil) under the test's context,
// as tests of anything served on loopback do.
func Get(t testing.TB, c *http.Client, u string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}
