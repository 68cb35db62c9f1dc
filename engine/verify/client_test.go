package verify

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, c *http.Client, url string) ([]byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func TestTheHTTPClientFollowsOnlySameHostRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"keys":[]}`)) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/keys":
			_, _ = w.Write([]byte("ok"))
		case r.URL.Path == "/elsewhere":
			http.Redirect(w, r, other.URL+"/keys", http.StatusFound)
		case r.URL.Path == "/other-port":
			http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/keys", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			if n == 0 {
				http.Redirect(w, r, "/keys", http.StatusFound)
				return
			}
			http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
		}
	}))
	defer srv.Close()
	c := NewHTTPClient(2 * time.Second)
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"one redirect on the same host is followed", "/hop/0", true},
		{"three redirects on the same host are followed", "/hop/2", true},
		{"a fourth redirect is refused", "/hop/3", false},
		{"a redirect to another host:port is refused (DESIGN §10)", "/elsewhere", false},
		{"a redirect to another host name is refused (DESIGN §10)", "/other-port", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := get(t, c, srv.URL+tc.path)
			if tc.ok && (err != nil || string(body) != "ok") {
				t.Fatalf("got %q, %v", body, err)
			}
			if !tc.ok && err == nil {
				t.Fatalf("followed: %q", body)
			}
		})
	}
}

func TestTheHTTPClientRefusesBodiesOverOneMiB(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") != "" {
			w.Header().Set("Transfer-Encoding", "chunked")
			for n > 0 { // several writes, no Content-Length
				k := min(n, 64<<10)
				_, _ = w.Write(make([]byte, k))
				w.(http.Flusher).Flush()
				n -= k
			}
			return
		}
		announced := n
		if a := r.URL.Query().Get("announce"); a != "" {
			announced, _ = strconv.Atoi(a)
		}
		w.Header().Set("Content-Length", strconv.Itoa(announced))
		_, _ = w.Write(make([]byte, n))
	}))
	defer srv.Close()
	c := NewHTTPClient(5 * time.Second)
	tests := []struct {
		name  string
		query string
		ok    bool
	}{
		{"exactly 1 MiB with Content-Length is read whole", "n=1048576", true},
		{"1 MiB + 1 byte with Content-Length is refused before reading", "n=1048577", false},
		{"8 MiB announced by Content-Length is refused on the header, though only 16 bytes follow", "n=16&announce=8388608", false},
		{"exactly 1 MiB chunked is read whole", "n=1048576&chunked=1", true},
		{"1 MiB + 1 byte chunked is refused while reading, not truncated", "n=1048577&chunked=1", false},
		{"8 MiB chunked is refused", "n=8388608&chunked=1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := get(t, c, srv.URL+"/?"+tc.query)
			if tc.ok {
				if err != nil || len(body) != MaxResponseBytes {
					t.Fatalf("read %d bytes, %v", len(body), err)
				}
				return
			}
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("read %d bytes, error %v; want ErrResponseTooLarge", len(body), err)
			}
		})
	}
}

func TestTheHTTPClientGivesUpOnASilentServerWithinItsTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := NewHTTPClient(200 * time.Millisecond)
	for _, path := range []string{"/no-headers", "/slow-body"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			if _, err := get(t, c, srv.URL+path); err == nil {
				t.Fatal("a silent server's response was read")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("gave up after %s, want about 200ms", d)
			}
		})
	}
}

func TestNewHTTPClientDefaultsItsTimeout(t *testing.T) {
	if c := NewHTTPClient(0); c.Timeout != DefaultHTTPTimeout {
		t.Fatalf("timeout %s, want %s", c.Timeout, DefaultHTTPTimeout)
	}
}

func TestTheHTTPClientRefusesARedirectFromHTTPSToHTTPOnTheSameHost(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String() // the server's own address, not the request's Host
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/keys":
			_, _ = w.Write([]byte("ok"))
		case "/downgrade":
			http.Redirect(w, r, "http://"+host+"/keys", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "https://"+host+"/keys", http.StatusFound)
		}
	})
	srv.StartTLS()
	defer srv.Close()
	c := NewHTTPClient(2 * time.Second)
	// Trust the test server's certificate, and nothing else changes.
	c.Transport.(cappedTransport).next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	if body, err := get(t, c, srv.URL+"/same"); err != nil || string(body) != "ok" {
		t.Fatalf("a redirect from https to https on the same host: %q, %v", body, err)
	}
	if body, err := get(t, c, srv.URL+"/downgrade"); err == nil {
		t.Fatalf("followed a redirect from https to http: %q", body)
	}
}

func TestACappedBodyStopsAtTheCapEvenInOneLargeRead(t *testing.T) {
	body := &cappedBody{rc: io.NopCloser(strings.NewReader(strings.Repeat("k", MaxResponseBytes+100))), left: MaxResponseBytes}
	buf := make([]byte, 2*MaxResponseBytes)
	read := 0
	for {
		n, err := body.Read(buf[read:])
		read += n
		if read > MaxResponseBytes {
			t.Fatalf("read %d bytes, past the %d-byte cap", read, MaxResponseBytes)
		}
		if err != nil {
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("error %v after %d bytes, want ErrResponseTooLarge", err, read)
			}
			return
		}
	}
}
