package policy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/policy"
)

// startOnce runs NewWatcher and Start over paths with opts.
func startOnce(paths []string, opts policy.Options) (*policy.Policy, error) {
	w, err := policy.NewWatcher(paths, opts, func(*policy.Policy) {}, func(error) {})
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Close() }()
	return w.Start(context.Background())
}

func TestARemoteBundleIsFetchedWithTheBearerTokenOfItsFile(t *testing.T) {
	const token = "bundle-s3cret-token"
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	opts := options()
	opts.AllowInsecureIssuers, opts.Logger, opts.Remote = true, zap.New(core), fastPolls(t)
	opts.Remote.BearerTokenFile = tokenFile
	remoteWatch(t, []string{srv.URL}, opts)
	waitFor(t, srv, "a poll after the first download", func(r, _ int) bool { return r >= 2 })
	srv.SetDown(true)
	waitFor(t, srv, "a failed poll", func(r, _ int) bool { return r >= 4 })

	for i, r := range srv.Requests() {
		if r.Authorization != "Bearer "+token {
			t.Fatalf("request %d carried Authorization %q, want the token of the file", i, r.Authorization)
		}
	}
	for _, e := range logs.All() {
		if strings.Contains(e.Message, token) || strings.Contains(fmt.Sprint(e.ContextMap()), token) {
			t.Fatalf("the token was logged: %s %v", e.Message, e.ContextMap())
		}
	}
	// Two failed polls are one outage: one error line, then one when the
	// bundle server answers again.
	if got := logs.FilterMessage("bundle server unreachable").FilterLevelExact(zapcore.ErrorLevel).AllUntimed(); len(got) != 1 ||
		got[0].ContextMap()["bundle"] != srv.URL || !strings.Contains(fmt.Sprint(got[0].ContextMap()["error"]), "HTTP 503") {
		t.Fatalf("the failed polls logged %v, want one error line naming the bundle and the first error", got)
	}
	srv.SetDown(false)
	deadline := time.Now().Add(reloadWait)
	for logs.FilterMessage("bundle server reachable again").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no line said the bundle server answers again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len() + logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 1 {
		t.Fatalf("%d warn and error lines for one outage, want 1: %v", n, logs.All())
	}
}

func TestARemoteBundleIsNotFetchedWithoutItsTokenFile(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	opts := options()
	opts.AllowInsecureIssuers = true
	opts.Remote.BearerTokenFile = filepath.Join(t.TempDir(), "missing")
	_, err := startOnce([]string{srv.URL}, opts)
	if !errors.Is(err, policy.ErrRemoteBundle) || !strings.Contains(err.Error(), "bearer token") {
		t.Fatalf("Start: %v, want a bearer token error", err)
	}
	if r := len(srv.Requests()); r != 0 {
		t.Fatalf("the bundle server saw %d requests without the token", r)
	}
}

func TestPollsWaitAtLeastTheMinimumDelay(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	opts := options()
	opts.AllowInsecureIssuers = true
	opts.Remote = policy.RemoteOptions{MinDelay: 100 * time.Millisecond, MaxDelay: 150 * time.Millisecond}
	remoteWatch(t, []string{srv.URL}, opts)
	waitFor(t, srv, "four polls after the first download", func(r, _ int) bool { return r >= 5 })
	reqs := srv.Requests()
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < opts.Remote.MinDelay {
			t.Fatalf("poll %d came %s after the one before, under min_delay %s", i, gap, opts.Remote.MinDelay)
		}
	}
}

func TestPollDelaysStayWithinTheirBoundsAndVary(t *testing.T) {
	lo, hi := 10*time.Second, 30*time.Second
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := policy.PollDelay(lo, hi)
		if d < lo || d > hi {
			t.Fatalf("delay %s is outside [%s, %s]", d, lo, hi)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct delays in 1000: replicas would poll together", len(seen))
	}
	if d := policy.PollDelay(lo, lo); d != lo {
		t.Fatalf("equal bounds gave %s, want %s", d, lo)
	}
}

func TestAWatcherStartsFromTheCacheWhenTheBundleServerIsDown(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	opts := options()
	opts.AllowInsecureIssuers, opts.Remote = true, fastPolls(t)
	if _, err := startOnce([]string{srv.URL}, opts); err != nil {
		t.Fatal(err)
	}
	srv.SetDown(true)
	core, logs := observer.New(zapcore.InfoLevel)
	opts.Logger = zap.New(core)
	p, err := startOnce([]string{srv.URL}, opts)
	if err != nil {
		t.Fatalf("Start with the server down and a cached download: %v", err)
	}
	if rev := revisionOf(t, p, srv.URL); rev != "v1" {
		t.Fatalf("revision %q, want the cached v1", rev)
	}
	if logs.FilterMessage("bundle server unavailable: serving the last good download from the cache until it answers").Len() != 1 {
		t.Fatal("the log does not say the cache is served")
	}
}

func TestACorruptCacheIsNeverServed(t *testing.T) {
	tests := []struct {
		name       string
		serverDown bool
		want       string // Start's error; empty: it starts from the download
	}{
		{"With the server up, the download is served and replaces the corrupt cache.", false, ""},
		{"With the server down, the start fails instead of serving the corrupt cache.", true, "archive read failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := remoteBody(t, "v1", nil, nil)
			srv := enginetest.NewBundleServer(t, body)
			opts := options()
			opts.AllowInsecureIssuers, opts.Remote = true, fastPolls(t)
			if _, err := startOnce([]string{srv.URL}, opts); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(opts.Remote.CacheDir, "*.tar.gz"))
			if len(files) != 1 {
				t.Fatalf("cache files %v, want one", files)
			}
			if err := os.WriteFile(files[0], []byte("corrupt"), 0o600); err != nil {
				t.Fatal(err)
			}
			srv.SetDown(tt.serverDown)
			p, err := startOnce([]string{srv.URL}, opts)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) || p != nil {
					t.Fatalf("Start: %v, want a refusal saying %q and no policy", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if now := cacheFiles(t, opts.Remote.CacheDir); len(now) != 1 || string(now[0]) != string(body) {
				t.Fatal("the corrupt cache was not replaced by the download")
			}
		})
	}
}

func TestAWatcherWithoutACacheDoesNotStartWhileTheServerIsDown(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	srv.SetDown(true)
	opts := options()
	opts.AllowInsecureIssuers = true
	_, err := startOnce([]string{srv.URL}, opts)
	if !errors.Is(err, policy.ErrRemoteBundle) || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "bundle_cache_dir is not set") {
		t.Fatalf("Start: %v", err)
	}
}

func TestARemoteDownloadIsRefusedWhen(t *testing.T) {
	body := remoteBody(t, "v1", nil, nil)
	other := enginetest.NewBundleServer(t, body)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		opts    func(*policy.RemoteOptions)
		want    string
	}{
		{"A redirect to another host is not followed.", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/bundle.tar.gz?X-Amz-Signature=presigned-secret", http.StatusFound)
		}, nil, "another host"},
		{"A body over the size cap is refused.", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(body)
		}, func(o *policy.RemoteOptions) { o.MaxBytes = int64(len(body)) - 1 }, "larger than"},
		{"An error status is refused.", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no", http.StatusForbidden)
		}, nil, "HTTP 403"},
		{"An empty body is refused.", func(http.ResponseWriter, *http.Request) {}, nil, "empty body"},
		{"A connection closed without an answer is refused.", func(http.ResponseWriter, *http.Request) {
			panic(http.ErrAbortHandler)
		}, nil, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			opts := options()
			opts.AllowInsecureIssuers = true
			if tt.opts != nil {
				tt.opts(&opts.Remote)
			}
			_, err := startOnce([]string{srv.URL}, opts)
			if !errors.Is(err, policy.ErrRemoteBundle) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v, want %q", err, tt.want)
			}
			if n := strings.Count(err.Error(), srv.URL); n != 1 {
				t.Fatalf("Start: %v names the bundle's URL %d times, want once", err, n)
			}
			if strings.Contains(err.Error(), "presigned-secret") {
				t.Fatalf("Start: %v repeats a redirect's query", err)
			}
		})
	}
	if r := len(other.Requests()); r != 0 {
		t.Fatalf("the other host saw %d requests", r)
	}
}

func TestNewWatcherRefusesABundleURLThatIsNotHTTPSOrLoopback(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		insecure bool
	}{
		{"Plain http to another host is refused.", "http://bundles.example.com/b.tar.gz", true},
		{"Plain http on loopback is refused without allow_insecure_issuers.", "http://127.0.0.1:9/b.tar.gz", false},
		{"Another scheme is refused.", "ftp://bundles.example.com/b.tar.gz", true},
		{"A URL with a password is refused.", "https://u:p@bundles.example.com/b.tar.gz", false},
		{"A URL with a query is refused.", "https://bundles.example.com/b.tar.gz?token=x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := options()
			opts.AllowInsecureIssuers = tt.insecure
			if _, err := policy.NewWatcher([]string{tt.url}, opts, func(*policy.Policy) {}, func(error) {}); err == nil {
				t.Fatal("NewWatcher accepted it")
			} else if strings.Contains(err.Error(), ":p@") {
				t.Fatalf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestLocalAndRemoteBundlesCombine(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	local := bundleDir(t, map[string]string{"extra/data.yaml": "ops_note: hello\n"})
	opts := options()
	opts.AllowInsecureIssuers, opts.Remote = true, fastPolls(t)
	w, p := remoteWatch(t, []string{local, srv.URL}, opts)
	if rev := revisionOf(t, p, srv.URL); rev != "v1" {
		t.Fatalf("remote revision %q", rev)
	}
	revisionOf(t, p, local)
	writeFiles(t, local, map[string]string{"extra/data.yaml": "ops_note: changed\n"})
	again := w.load(t)
	if rev := revisionOf(t, again, srv.URL); rev != "v1" {
		t.Fatalf("after a local change the remote revision is %q, want v1", rev)
	}
}
