package policy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// waitFor polls the bundle server until ok holds for its requests.
func waitFor(t *testing.T, srv *enginetest.BundleServer, what string, ok func(requests, notModified int) bool) {
	t.Helper()
	deadline := time.Now().Add(reloadWait)
	for {
		requests, notModified := len(srv.Requests()), srv.Count(http.StatusNotModified)
		if ok(requests, notModified) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bundle server never saw %s (%d requests, %d answered 304)", what, requests, notModified)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// remoteBody is the team bundle at revision rev as a .tar.gz, signed with k
// when k is not nil; edit, when set, changes its files after signing.
func remoteBody(t *testing.T, rev string, k *signingKey, edit func(files map[string]string)) []byte {
	t.Helper()
	dir := copyDir(t, teamBundle)
	writeFiles(t, dir, map[string]string{".manifest": fmt.Sprintf(`{"revision": %q, "roots": ["trustgate"]}`, rev)})
	if k != nil {
		signDir(t, dir, *k)
	}
	files := readFiles(t, dir)
	if edit != nil {
		edit(files)
	}
	return tarball(t, files)
}

// fastPolls are remote options for tests: polls every 20-40ms, a cache dir.
func fastPolls(t *testing.T) policy.RemoteOptions {
	return policy.RemoteOptions{MinDelay: 20 * time.Millisecond, MaxDelay: 40 * time.Millisecond, CacheDir: t.TempDir()}
}

// remoteWatch starts a Watcher over paths with opts, Start then Run, and
// returns what it hands out and the policy Start returned.
func remoteWatch(t *testing.T, paths []string, opts policy.Options) (*watched, *policy.Policy) {
	t.Helper()
	w, wt := newWatched(t, paths, opts)
	p, err := wt.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, wt)
	return w, p
}

func revisionOf(t *testing.T, p *policy.Policy, path string) string {
	t.Helper()
	for _, r := range p.Revisions() {
		if r.Path == path {
			return r.Revision
		}
	}
	t.Fatalf("no revision for %s in %v", path, p.Revisions())
	return ""
}

func TestARemoteBundleThatDidNotChangeCostsOnlyA304(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	url := srv.URL + "/bundles/team.tar.gz"
	core, logs := observer.New(zapcore.DebugLevel)
	opts := options()
	opts.AllowInsecureIssuers, opts.Logger, opts.Remote = true, zap.New(core), fastPolls(t)
	w, p := remoteWatch(t, []string{url}, opts)
	if rev := revisionOf(t, p, url); rev != "v1" {
		t.Fatalf("revision %q, want v1", rev)
	}
	compiled := logs.FilterMessage("bundles compiled").Len()
	waitFor(t, srv, "three conditional requests answered 304", func(_, n int) bool { return n >= 3 })
	w.quiet(t, 100*time.Millisecond)
	if n := logs.FilterMessage("bundles compiled").Len(); n != compiled {
		t.Fatalf("the policy was compiled %d more times after 304s", n-compiled)
	}
}

func TestARemoteBundlesNewRevisionIsServedAndCached(t *testing.T) {
	srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", nil, nil))
	opts := options()
	opts.AllowInsecureIssuers, opts.Remote = true, fastPolls(t)
	w, _ := remoteWatch(t, []string{srv.URL}, opts)
	v2 := remoteBody(t, "v2", nil, nil)
	srv.Set(v2)
	if rev := revisionOf(t, w.load(t), srv.URL); rev != "v2" {
		t.Fatalf("revision %q, want v2", rev)
	}
	cached := cacheFiles(t, opts.Remote.CacheDir)
	if len(cached) != 1 || string(cached[0]) != string(v2) {
		t.Fatalf("the cache holds %d files, want one holding the v2 download", len(cached))
	}
}

func cacheFiles(t *testing.T, dir string) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestABadRemoteBundleIsRefusedAndTheLastGoodKeepsServing(t *testing.T) {
	key, otherKey := newRSAKey(t), newRSAKey(t)
	tests := []struct {
		name string
		body func(t *testing.T) []byte
		want string
	}{
		{"A bundle whose data changed after signing is refused.", func(t *testing.T) []byte {
			return remoteBody(t, "v2", &key, func(files map[string]string) {
				files["data.yaml"] = strings.Replace(files["data.yaml"], "scopes: [read, write]", "scopes: [read, write, admin]", 1)
			})
		}, "data.yaml: digest mismatch"},
		{"An unsigned bundle is refused when signatures are required.", func(t *testing.T) []byte {
			return remoteBody(t, "v2", nil, nil)
		}, "bundle missing .signatures.json file"},
		{"A bundle signed with another key is refused.", func(t *testing.T) []byte {
			return remoteBody(t, "v2", &otherKey, nil)
		}, "failed to verify JWT signature"},
		{"A body that is not a gzipped tarball is refused.", func(t *testing.T) []byte {
			return []byte("<html>maintenance</html>")
		}, "gzip"},
		{"A signed bundle whose data fails the checks is refused.", func(t *testing.T) []byte {
			return badDataBody(t, &key)
		}, "no provider is defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := enginetest.NewBundleServer(t, remoteBody(t, "v1", &key, nil))
			opts := key.options(t)
			opts.AllowInsecureIssuers, opts.Remote = true, fastPolls(t)
			w, _ := remoteWatch(t, []string{srv.URL}, opts)
			good := cacheFiles(t, opts.Remote.CacheDir)
			srv.Set(tt.body(t))
			err := w.failure(t)
			var pe *policy.ProblemsError
			if !errors.As(err, &pe) || !containsProblem(pe.Problems, srv.URL, tt.want) {
				t.Fatalf("refused with %v, want a problem of %s saying %q", err, srv.URL, tt.want)
			}
			before := srv.Count(http.StatusNotModified)
			waitFor(t, srv, "the refused bundle polled again and answered 304", func(_, n int) bool { return n >= before+2 })
			w.quiet(t, 100*time.Millisecond) // refused once, not at every poll
			if now := cacheFiles(t, opts.Remote.CacheDir); len(now) != 1 || string(now[0]) != string(good[0]) {
				t.Fatal("the cache no longer holds the last good download")
			}
			srv.Set(remoteBody(t, "v3", &key, nil))
			if rev := revisionOf(t, w.load(t), srv.URL); rev != "v3" {
				t.Fatalf("after the refusal, revision %q, want v3", rev)
			}
		})
	}
}

// badDataBody is a correctly signed bundle whose data the checks refuse.
func badDataBody(t *testing.T, k *signingKey) []byte {
	t.Helper()
	dir := bundleDir(t, map[string]string{
		".manifest": `{"revision": "bad", "roots": ["trustgate"]}`,
		"data.yaml": "trustgate:\n  providers: {}\n  identities: {}\n",
	})
	signDir(t, dir, *k)
	return tarball(t, readFiles(t, dir))
}
