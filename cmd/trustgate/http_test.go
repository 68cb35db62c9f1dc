package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// httpGet GETs u with c (http.DefaultClient when nil) under the test's
// context.
func httpGet(t testing.TB, c *http.Client, u string) (*http.Response, error) {
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

// httpPostForm POSTs form to u under the test's context.
func httpPostForm(t testing.TB, u string, form url.Values) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return http.DefaultClient.Do(req)
}
