package server_test

import (
	"net/http"
	"testing"
)

// TestAnswersAboutTokensForbidCachingAndContentSniffing: discovery
// documents and keys may be cached; answers about tokens never.
func TestAnswersAboutTokensForbidCachingAndContentSniffing(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name string
		resp func() response
		code int
	}{
		{"An introspection answer is not cached or sniffed", func() response { return ts.introspect(t, "not-a-token") }, http.StatusOK},
		{"A refused exchange is not cached or sniffed", func() response { return ts.exchange(t, "not-a-token") }, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.resp()
			if r.status != tc.code {
				t.Fatalf("status %d, want %d: %s", r.status, tc.code, r.raw)
			}
			for name, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"} {
				if got := r.header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
}
