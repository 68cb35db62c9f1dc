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

// exchangeValues is the form of an RFC 8693 exchange of subject, an ID
// token, for the identity deploy.
func exchangeValues(subject string) url.Values {
	return url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
		"subject_token":      {subject},
		"identity":           {"deploy"},
	}
}
