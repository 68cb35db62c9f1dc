package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

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
