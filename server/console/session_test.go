package console

import (
	"errors"
	"testing"
)

func TestASealedCookieOpensOnlyUnderItsOwnNameAndKey(t *testing.T) {
	key := make([]byte, KeySize)
	s, err := newSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, KeySize)
	other[0] = 1
	o, err := newSealer(other)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.seal(loginCookie, pendingLogin{State: "s", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sealer *sealer
		cookie string
		value  string
		want   error
	}{
		{name: "It opens under its name and key.", sealer: s, cookie: loginCookie, value: v},
		{name: "A login cookie does not open as a session.", sealer: s, cookie: sessionCookie, value: v, want: errNoSession},
		{name: "Another key does not open it.", sealer: o, cookie: loginCookie, value: v, want: errNoSession},
		{name: "A truncated value does not open.", sealer: s, cookie: loginCookie, value: v[:10], want: errNoSession},
		{name: "A value that is not base64url does not open.", sealer: s, cookie: loginCookie, value: "%%%", want: errNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got pendingLogin
			err := tt.sealer.open(tt.cookie, tt.value, &got)
			if !errors.Is(err, tt.want) || err == nil && got.State != "s" {
				t.Fatalf("open: %v (%+v), want %v", err, got, tt.want)
			}
		})
	}
	if _, err := newSealer(key[:16]); err == nil {
		t.Error("a 16-byte key was taken: sessions are sealed with AES-256")
	}
}
