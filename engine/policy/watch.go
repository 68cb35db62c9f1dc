package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

const (
	// debounce is how long a burst of changes must stay quiet before a
	// reload: an editor's save or a ConfigMap swap is several events.
	debounce = 200 * time.Millisecond
	// maxDelay bounds how long a reload waits behind changes that keep
	// coming.
	maxDelay = time.Second
	// configMapData is the symlink a Kubernetes ConfigMap mount swaps.
	configMapData = "..data"
)

// Watcher reloads the bundles when they change and hands each new policy to
// onLoad. A reload that fails (a bundle unreadable, deleted or emptied, a
// data problem, a compile error, a bad signature) goes to onError and the
// caller keeps its last good policy: onLoad never sees a broken or empty
// policy.
//
// It watches directories, never files: every directory of a directory
// bundle (new subdirectories as they appear), and the parent directory of
// every bundle, filtered by name, which sees a bundle directory or a
// .tar.gz file replaced by rename, as editors, `mv` and Kubernetes
// ConfigMap mounts (their ..data symlink swap) do.
type Watcher struct {
	paths   []string // as given: what Load reads and names
	abs     []string // the same, absolute: what events are compared with
	opts    Options
	onLoad  func(*Policy)
	onError func(error)
	fsw     *fsnotify.Watcher
	log     *zap.Logger

	digest string // of the last policy handed to onLoad
	failed bool   // the last reload failed
}

// NewWatcher prepares to watch the bundles at paths, loading them with
// opts. onLoad receives every new policy, onError every refused reload;
// both are called from Run's goroutine, one at a time.
func NewWatcher(paths []string, opts Options, onLoad func(*Policy), onError func(error)) (*Watcher, error) {
	if len(paths) == 0 {
		return nil, errors.New("watch bundles: no bundles given")
	}
	if onLoad == nil || onError == nil {
		return nil, errors.New("watch bundles: onLoad and onError are required")
	}
	opts = opts.withDefaults()
	w := &Watcher{
		paths:   paths,
		abs:     make([]string, len(paths)),
		opts:    opts,
		onLoad:  onLoad,
		onError: onError,
		log:     opts.Logger,
	}
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("watch bundles: %w", err)
		}
		w.abs[i] = abs
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch bundles: %w", err)
	}
	w.fsw = fsw
	for _, p := range w.abs {
		if err := fsw.Add(filepath.Dir(p)); err != nil {
			_ = fsw.Close()
			return nil, fmt.Errorf("watch bundles: the directory holding %s: %w", p, err)
		}
	}
	w.watchTrees()
	return w, nil
}

// watchTrees adds a watch on every directory of every directory bundle;
// fsnotify ignores those it already has. Hidden directories (.git, a
// ConfigMap's ..2026_* directories) are not read by Load and not watched:
// a ConfigMap swap is seen as its ..data symlink changing.
func (w *Watcher) watchTrees() {
	for _, root := range w.abs {
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			continue
		}
		w.watchTree(root)
	}
}

// watchTree watches root and the directories under it. A symlinked root
// is walked where it points, and watched under its own name, so that event
// names stay under the configured path.
func (w *Watcher) watchTree(root string) {
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		return // gone meanwhile: the next event says so
	}
	_ = filepath.WalkDir(resolved, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case !d.IsDir():
			return nil
		case path != resolved && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(resolved, path)
		if err != nil {
			return nil
		}
		dir := filepath.Join(root, rel)
		if err := w.fsw.Add(dir); err != nil {
			w.log.Warn("cannot watch a bundle directory; its changes will be missed", zap.String("dir", dir), zap.Error(err))
		}
		return nil
	})
}

// relevant reports whether an event can change a bundle: in a bundle's
// parent directory, the bundle's own name or a ConfigMap's ..data; inside a
// bundle directory, a file Load reads (Rego, data, manifest, signatures), a
// directory, ..data, or anything removed or renamed away that is not an
// editor's swap or backup file. Swap files written as one types do not
// cost a reload each.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	base := filepath.Base(name)
	for _, p := range w.abs {
		switch {
		case name == p:
			return true
		case filepath.Dir(name) == filepath.Dir(p) && base == configMapData:
			return true
		case !strings.HasPrefix(name, p+string(filepath.Separator)):
			continue
		case base == configMapData || strings.HasSuffix(base, ".rego") || slices.Contains(bundleFiles, base):
			return true
		case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
			return !strings.HasPrefix(base, ".") && !strings.HasSuffix(base, "~")
		default:
			st, err := os.Lstat(name)
			return err == nil && st.IsDir()
		}
	}
	return false
}

// under reports whether name lies inside a directory bundle.
func (w *Watcher) under(name string) bool {
	for _, p := range w.abs {
		if strings.HasPrefix(name, p+string(filepath.Separator)) || name == p {
			return true
		}
	}
	return false
}

// Serving tells w that p, loaded after NewWatcher returned, is what the
// caller serves: Run then starts from p instead of loading the bundles
// again (a change made since NewWatcher is in w's queue). Call it before
// Run.
func (w *Watcher) Serving(p *Policy) { w.digest = p.digest }

// Close stops watching; for a Watcher that will not Run.
func (w *Watcher) Close() error { return w.fsw.Close() }

// Run loads the bundles once unless told what is Serving (so that a change
// between the caller's own Load and NewWatcher is not missed), then again
// after every burst of changes, until ctx ends; it then returns nil. Run
// may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.fsw.Close()
	if w.digest == "" {
		w.reload(ctx)
	}

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // first change of the pending burst; zero: none
	schedule := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		wait := min(debounce, first.Add(maxDelay).Sub(now))
		timer.Reset(max(wait, 0))
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return errors.New("watch bundles: the file watcher stopped")
			}
			if !w.relevant(ev) {
				continue
			}
			name := filepath.Clean(ev.Name)
			if ev.Has(fsnotify.Create) && w.under(name) {
				// Watch a new subdirectory now: files written into it
				// before the reload are read by it, those after are seen.
				if st, err := os.Lstat(name); err == nil && st.IsDir() && !strings.HasPrefix(st.Name(), ".") {
					w.watchTree(name)
				}
			}
			w.log.Debug("bundle change", zap.String("path", ev.Name), zap.Stringer("op", ev.Op))
			schedule()
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return errors.New("watch bundles: the file watcher stopped")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("bundle change events were lost; reloading", zap.Error(err))
				schedule()
				continue
			}
			w.log.Warn("bundle watcher", zap.Error(err))
		case <-timer.C:
			first = time.Time{}
			w.reload(ctx)
		}
	}
}

// reload loads the bundles and reports the outcome; a policy equal to the
// last one handed out (same content digest) is not handed out again unless
// a failure came between.
func (w *Watcher) reload(ctx context.Context) {
	w.watchTrees()
	start := time.Now()
	p, err := Load(ctx, w.paths, w.opts)
	if err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		w.failed = true
		w.onError(err)
		return
	}
	if p.digest == w.digest && !w.failed {
		w.log.Debug("bundles unchanged", zap.Duration("duration", time.Since(start)))
		return
	}
	w.digest, w.failed = p.digest, false
	w.log.Debug("bundles reloaded", zap.Any("revisions", p.revisions), zap.Duration("duration", time.Since(start)))
	w.onLoad(p)
}
