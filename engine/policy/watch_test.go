package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

// reloadWait is how long a test waits for a reload: the watcher's own
// bound is about 1s; -race on a busy machine needs slack.
const reloadWait = 10 * time.Second

// watched runs a Watcher over paths and records what it hands out.
type watched struct {
	loads  chan *policy.Policy
	errors chan error
}

// newWatched makes a Watcher over paths with opts and the watched that
// records what it hands out.
func newWatched(t *testing.T, paths []string, opts policy.Options) (*watched, *policy.Watcher) {
	t.Helper()
	w := &watched{loads: make(chan *policy.Policy, 32), errors: make(chan error, 32)}
	wt, err := policy.NewWatcher(paths, opts, func(p *policy.Policy) { w.loads <- p }, func(err error) { w.errors <- err })
	if err != nil {
		t.Fatal(err)
	}
	return w, wt
}

// runUntilCleanup runs wt until the test ends; then Run must return, and
// without an error, within reloadWait.
func runUntilCleanup(t *testing.T, wt *policy.Watcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(reloadWait):
			t.Error("Run did not return when its context ended")
		}
	})
}

func watch(t *testing.T, paths []string) *watched {
	t.Helper()
	w, wt := newWatched(t, paths, options())
	runUntilCleanup(t, wt)
	w.load(t) // Run's first load
	return w
}

// load waits for the next policy; an error instead fails the test.
func (w *watched) load(t *testing.T) *policy.Policy {
	t.Helper()
	select {
	case p := <-w.loads:
		return p
	case err := <-w.errors:
		t.Fatalf("reload failed: %v", err)
	case <-time.After(reloadWait):
		t.Fatal("no reload")
	}
	return nil
}

// failure waits for the next refused reload; a policy instead fails the test.
func (w *watched) failure(t *testing.T) error {
	t.Helper()
	select {
	case p := <-w.loads:
		t.Fatalf("a policy was handed out: %v", p.Revisions())
	case err := <-w.errors:
		return err
	case <-time.After(reloadWait):
		t.Fatal("no refused reload")
	}
	return nil
}

// quiet checks that nothing is handed out for a while.
func (w *watched) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case p := <-w.loads:
		t.Fatalf("unexpected reload: %v", p.Revisions())
	case err := <-w.errors:
		t.Fatalf("unexpected refused reload: %v", err)
	case <-time.After(d):
	}
}

// opsIdentity is an identity a test adds to see that a reload read it.
const opsIdentity = `
    ops:
      email: ops@workload.example.com
      federations: [{provider: gitlab, claims: {namespace_path: ops}}]
`

func hasOps(p *policy.Policy) bool {
	_, ok := p.IdentityByEmail("ops@workload.example.com")
	return ok
}

// withOps is the team bundle's data.yaml with the ops identity added.
func withOps(t *testing.T) string {
	t.Helper()
	data := readFiles(t, teamBundle)["data.yaml"]
	return strings.Replace(data, "  identities:\n", "  identities:"+opsIdentity, 1)
}

func TestWatcherReloadsAWrittenFile(t *testing.T) {
	dir := copyDir(t, teamBundle)
	w := watch(t, []string{dir})
	writeFiles(t, dir, map[string]string{"data.yaml": withOps(t)})
	if p := w.load(t); !hasOps(p) {
		t.Fatal("the reload did not read the new data")
	}
}

func TestWatcherReloadsAnEditorsRenameSave(t *testing.T) {
	tests := []struct {
		name string
		save func(t *testing.T, dir, content string)
	}{
		{
			name: "A temporary file renamed over the original reloads.",
			save: func(t *testing.T, dir, content string) {
				tmp := filepath.Join(dir, ".data.yaml.swp")
				writeFiles(t, dir, map[string]string{".data.yaml.swp": content})
				if err := os.Rename(tmp, filepath.Join(dir, "data.yaml")); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "The original moved to a backup and written anew reloads.",
			save: func(t *testing.T, dir, content string) {
				if err := os.Rename(filepath.Join(dir, "data.yaml"), filepath.Join(dir, "data.yaml~")); err != nil {
					t.Fatal(err)
				}
				writeFiles(t, dir, map[string]string{"data.yaml": content})
				if err := os.Remove(filepath.Join(dir, "data.yaml~")); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, teamBundle)
			w := watch(t, []string{dir})
			tt.save(t, dir, withOps(t))
			if p := w.load(t); !hasOps(p) {
				t.Fatal("the reload did not read the new data")
			}
		})
	}
}

func TestWatcherWatchesNewSubdirectories(t *testing.T) {
	dir := copyDir(t, teamBundle)
	w := watch(t, []string{dir})
	if err := os.MkdirAll(filepath.Join(dir, "more", "trustgate"), 0o750); err != nil {
		t.Fatal(err)
	}
	// The new directories change nothing: no policy is handed out, and
	// the watcher has had time to watch them.
	w.quiet(t, time.Second)
	writeFiles(t, dir, map[string]string{"more/trustgate/custom.rego": "package trustgate.custom\n\ndeny contains \"frozen\"\n"})
	p := w.load(t)
	d, err := p.Evaluate(context.Background(), gitlabInput(t, request{identity: "deploy"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || !strings.Contains(strings.Join(d.Reasons, ";"), "frozen") {
		t.Fatalf("the rule in the new subdirectory is not in force: %+v", d)
	}
}

// configMap lays out dir as a Kubernetes ConfigMap volume: the files in a
// timestamped directory, ..data pointing at it, and a symlink per file.
func configMap(t *testing.T, dir, version string, files map[string]string) {
	t.Helper()
	writeFiles(t, filepath.Join(dir, version), files)
	if err := os.Symlink(version, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	// The swap: one atomic rename replaces ..data.
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatcherFollowsAConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	files := readFiles(t, teamBundle)
	configMap(t, dir, "..2026_01_01_00_00_00.000000001", files)
	w := watch(t, []string{dir})

	files["data.yaml"] = withOps(t)
	configMap(t, dir, "..2026_01_02_00_00_00.000000002", files)
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.000000001")); err != nil {
		t.Fatal(err)
	}
	p := w.load(t)
	if !hasOps(p) {
		t.Fatal("the reload did not read the swapped data")
	}
	if revs := p.Revisions(); len(revs) != 1 || revs[0].Path != dir {
		t.Fatalf("revisions %v", revs)
	}
}

func TestWatcherKeepsTheLastGoodPolicy(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{
			name: "Data that does not parse is refused.",
			spoil: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"data.yaml": "trustgate: [unclosed"})
			},
			want: "cannot parse",
		},
		{
			name: "Data with an identity defined twice is refused, naming both lines.",
			spoil: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"data.yaml": strings.Replace(withOps(t), "  identities:\n", "  identities:"+opsIdentity, 1)})
			},
			want: `key "ops" is given twice in trustgate.identities, on line`,
		},
		{
			name: "Data with a problem is refused.",
			spoil: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"data.yaml": strings.Replace(withOps(t), "provider: gitlab, claims", "provider: gitlb, claims", 1)})
			},
			want: `unknown provider "gitlb"`,
		},
		{
			name: "Rego that does not compile is refused.",
			spoil: func(t *testing.T, dir string) {
				writeFiles(t, dir, map[string]string{"custom.rego": "package trustgate.custom\n\ndeny contains x\n"})
			},
			want: "rego_unsafe_var_error",
		},
		{
			name: "An emptied bundle directory is refused, not served as an empty policy.",
			spoil: func(t *testing.T, dir string) {
				for _, name := range []string{"data.yaml", "custom.rego", "custom_test.rego"} {
					if err := os.Remove(filepath.Join(dir, name)); err != nil {
						t.Fatal(err)
					}
				}
			},
			want: "the bundle has no data and no Rego",
		},
		{
			name: "A deleted bundle directory is refused.",
			spoil: func(t *testing.T, dir string) {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			},
			want: "does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			if err := os.CopyFS(dir, os.DirFS(teamBundle)); err != nil {
				t.Fatal(err)
			}
			w := watch(t, []string{dir})
			tt.spoil(t, dir)
			if err := w.failure(t); !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("refused with %v, want %q", err, tt.want)
			}
			// Mended (re-created when deleted), the bundle loads again.
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, map[string]string{"data.yaml": withOps(t), "custom.rego": readFiles(t, teamBundle)["custom.rego"]})
			if p := w.load(t); !hasOps(p) {
				t.Fatal("the mended bundle was not read")
			}
		})
	}
}

func TestWatcherReloadsAReplacedTarball(t *testing.T) {
	dir := t.TempDir()
	tgz := filepath.Join(dir, "team.tar.gz")
	files := readFiles(t, teamBundle)
	if err := os.WriteFile(tgz, tarball(t, files), 0o600); err != nil {
		t.Fatal(err)
	}
	w := watch(t, []string{tgz})

	// Something else in the same directory changes nothing.
	writeFiles(t, dir, map[string]string{"other.tar.gz": "unrelated"})
	w.quiet(t, time.Second)

	// Replaced by rename, as a deploy tool does.
	files["data.yaml"] = withOps(t)
	next := filepath.Join(dir, ".team.tar.gz.new")
	if err := os.WriteFile(next, tarball(t, files), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, tgz); err != nil {
		t.Fatal(err)
	}
	if p := w.load(t); !hasOps(p) {
		t.Fatal("the replaced tarball was not read")
	}

	// Overwritten in place with something broken: refused.
	if err := os.WriteFile(tgz, []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.failure(t); err == nil {
		t.Fatal("the broken tarball was refused without an error")
	}
}

func TestWatcherDoesNotHandOutAnUnchangedPolicyAgain(t *testing.T) {
	dir := copyDir(t, teamBundle)
	w := watch(t, []string{dir})
	data := readFiles(t, dir)["data.yaml"]
	writeFiles(t, dir, map[string]string{"data.yaml": data, "README.md": "# not part of the bundle"})
	now := time.Now()
	if err := os.Chtimes(filepath.Join(dir, "custom.rego"), now, now); err != nil {
		t.Fatal(err)
	}
	w.quiet(t, 1500*time.Millisecond)
}

func TestWatcherReloadsABurstOnce(t *testing.T) {
	dir := copyDir(t, teamBundle)
	w := watch(t, []string{dir})
	content := withOps(t)
	for i := range 5 {
		// Partial writes, as a slow editor or a copy makes them.
		writeFiles(t, dir, map[string]string{"data.yaml": content[:len(content)*(i+1)/5]})
		time.Sleep(20 * time.Millisecond)
	}
	if p := w.load(t); !hasOps(p) {
		t.Fatal("the reload did not read the final data")
	}
	w.quiet(t, time.Second)
}

func TestNewWatcherRefusesWhatCannotBeWatched(t *testing.T) {
	ok := func(*policy.Policy) {}
	fail := func(error) {}
	tests := []struct {
		name    string
		paths   []string
		onLoad  func(*policy.Policy)
		onError func(error)
	}{
		{name: "No bundles are refused.", paths: nil, onLoad: ok, onError: fail},
		{name: "A missing onLoad is refused.", paths: []string{teamBundle}, onError: fail},
		{name: "A missing onError is refused.", paths: []string{teamBundle}, onLoad: ok},
		{name: "A bundle in a directory that does not exist is refused.", paths: []string{filepath.Join(t.TempDir(), "no", "bundle")}, onLoad: ok, onError: fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := policy.NewWatcher(tt.paths, options(), tt.onLoad, tt.onError); err == nil {
				t.Fatal("NewWatcher accepted it")
			}
		})
	}
}

func TestWatcherFollowsASymlinkedBundleDirectory(t *testing.T) {
	parent := t.TempDir()
	first, second := filepath.Join(parent, "v1"), filepath.Join(parent, "v2")
	for _, dir := range []string{first, second} {
		if err := os.CopyFS(dir, os.DirFS(teamBundle)); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(parent, "current")
	if err := os.Symlink("v1", link); err != nil {
		t.Fatal(err)
	}
	w := watch(t, []string{link})

	// Swapped to another directory, as `ln -sfn` and deploy tools do.
	writeFiles(t, second, map[string]string{"data.yaml": withOps(t)})
	if err := os.Symlink("v2", link+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link+".tmp", link); err != nil {
		t.Fatal(err)
	}
	if p := w.load(t); !hasOps(p) {
		t.Fatal("the swapped-to directory was not read")
	}

	// A change in the directory it now points to reloads.
	writeFiles(t, second, map[string]string{"data.yaml": readFiles(t, teamBundle)["data.yaml"]})
	if p := w.load(t); hasOps(p) {
		t.Fatal("the change in the new directory was not read")
	}
}

func TestWatcherHandsOutAChangedManifestRevision(t *testing.T) {
	dir := copyDir(t, teamBundle)
	w := watch(t, []string{dir})
	for _, rev := range []string{"r1", "r2"} {
		writeFiles(t, dir, map[string]string{".manifest": `{"revision":"` + rev + `"}`})
		if got := w.load(t).Revisions()[0].Revision; got != rev {
			t.Fatalf("revision %q after writing %s, want %s", got, rev, rev)
		}
	}
}

// watchServing starts a Watcher told that the policy the caller loaded
// after NewWatcher is Serving; change runs between that Load and Run.
func watchServing(t *testing.T, dir string, change func()) *watched {
	t.Helper()
	w, wt := newWatched(t, []string{dir}, options())
	p, err := policy.Load(context.Background(), []string{dir}, options())
	if err != nil {
		t.Fatal(err)
	}
	wt.Serving(p)
	change()
	runUntilCleanup(t, wt)
	return w
}

func TestAWatcherToldWhatIsServingDoesNotLoadItAgain(t *testing.T) {
	w := watchServing(t, copyDir(t, teamBundle), func() {})
	w.quiet(t, 1500*time.Millisecond)
}

func TestAWatcherToldWhatIsServingSeesAChangeMadeBeforeRun(t *testing.T) {
	dir := copyDir(t, teamBundle)
	w := watchServing(t, dir, func() { writeFiles(t, dir, map[string]string{"data.yaml": withOps(t)}) })
	if p := w.load(t); !hasOps(p) {
		t.Fatal("the change made before Run was not loaded")
	}
}

func TestAWatchersLoadsRunWithinLoadingWhateverTheirOutcome(t *testing.T) {
	tests := []struct {
		name    string
		bundle  string
		wantErr bool
	}{
		{name: "A first load that succeeds is bracketed by Loading and its done.", bundle: teamBundle},
		{name: "A first load that fails is bracketed too.", bundle: filepath.Join(t.TempDir(), "missing"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			opts := options()
			opts.Loading = func() func() {
				calls = append(calls, "loading")
				return func() { calls = append(calls, "done") }
			}
			_, wt := newWatched(t, []string{tt.bundle}, opts)
			t.Cleanup(func() { _ = wt.Close() })
			_, err := wt.Start(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Start: error %v, want an error: %v", err, tt.wantErr)
			}
			if want := []string{"loading", "done"}; !slices.Equal(calls, want) {
				t.Fatalf("calls %v, want %v", calls, want)
			}
		})
	}
}

func TestAWatchersReloadsRunWithinLoadingWhetherTheyLoadOrAreRefused(t *testing.T) {
	dir := copyDir(t, teamBundle)
	var mu sync.Mutex
	var calls []string
	record := func(call string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call)
	}
	opts := options()
	opts.Loading = func() func() {
		record("loading")
		return func() { record("done") }
	}
	// The outcome is handed out after done: serve tunes the collector in
	// onLoad, which a later done would undo.
	w := &watched{loads: make(chan *policy.Policy, 32), errors: make(chan error, 32)}
	wt, err := policy.NewWatcher([]string{dir}, opts,
		func(p *policy.Policy) { record("loaded"); w.loads <- p },
		func(err error) { record("refused"); w.errors <- err })
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, wt)
	w.load(t) // Run's first load
	writeFiles(t, dir, map[string]string{"data.yaml": withOps(t)})
	w.load(t)
	writeFiles(t, dir, map[string]string{"data.yaml": "trustgate: [unclosed"})
	if err := w.failure(t); err == nil {
		t.Fatal("the refused reload reported no error")
	}
	mu.Lock()
	defer mu.Unlock()
	var brackets []string
	for i, c := range calls {
		if c == "loaded" || c == "refused" {
			if i == 0 || calls[i-1] != "done" {
				t.Fatalf("call %d is %s, not right after a done: %v", i, c, calls)
			}
			continue
		}
		brackets = append(brackets, c)
	}
	if len(brackets) < 6 || len(brackets)%2 != 0 {
		t.Fatalf("calls %v: want a done after each loading, three loads at least", calls)
	}
	for i, c := range brackets {
		if want := []string{"loading", "done"}[i%2]; c != want {
			t.Fatalf("call %d of loading and done is %s, want %s: %v", i, c, want, calls)
		}
	}
}
