package console_test

import (
	"errors"
	"testing"

	"github.com/trustgate/trustgate/engine/weburl"
	"github.com/trustgate/trustgate/server/console"
)

func TestNewHoldsTheRedirectURLToTheOneURLRule(t *testing.T) {
	tests := []struct {
		name     string
		redirect string
		want     error // nil: the URL is not what New refuses
	}{
		{"An https redirect URL is accepted.", "https://sts.example.com/console/callback", nil},
		{"A loopback http redirect URL is accepted (the config decides whether it may be).", "http://127.0.0.1:8080/console/callback", nil},
		{"An http redirect URL to another host is refused.", "http://sts.example.com/console/callback", weburl.ErrHTTP},
		{"A redirect URL with user info is refused.", "https://u:p@sts.example.com/console/callback", weburl.ErrUserInfo},
		{"A redirect URL with a query is refused.", "https://sts.example.com/console/callback?x=1", weburl.ErrQuery},
		{"A relative redirect URL is refused.", "/console/callback", weburl.ErrNotAbsolute},
	}
	all := []error{weburl.ErrNotAbsolute, weburl.ErrScheme, weburl.ErrHTTP, weburl.ErrLoopbackHTTP, weburl.ErrUserInfo, weburl.ErrQuery, weburl.ErrFragment}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// No engine: New refuses anyway, and says why for every field.
			_, err := console.New(console.Config{Issuer: "https://idp.example.com", ClientID: "c",
				RedirectURL: tc.redirect, SessionKey: make([]byte, console.KeySize)})
			if err == nil {
				t.Fatal("New accepted a config without an engine")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("New: %v, want %v", err, tc.want)
			}
			for _, e := range all {
				if tc.want == nil && errors.Is(err, e) {
					t.Fatalf("New: %v, refusing a good redirect URL", err)
				}
			}
		})
	}
}
