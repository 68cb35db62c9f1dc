// Package filewatch tells when watched files or directories change, the way
// they change in practice: written in place, saved by rename (editors, `mv`,
// an operator's atomic update), swapped through a Kubernetes ConfigMap or
// Secret mount's ..data symlink, or grown by new subdirectories. Bursts of
// events are debounced into one call. The bundle watcher and the signing
// key watcher both use it.
package filewatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

const (
	// DefaultDebounce is how long a burst of changes must stay quiet before
	// the change is reported: an editor's save or a ConfigMap swap is
	// several events.
	DefaultDebounce = 200 * time.Millisecond
	// DefaultMaxDelay bounds how long a report waits behind changes that
	// keep coming.
	DefaultMaxDelay = time.Second
	// configMapData is the symlink a Kubernetes ConfigMap or Secret mount swaps.
	configMapData = "..data"
)

// ErrStopped is returned by Run when the underlying file watcher stops (its
// event or error channel closed) before the context ended.
var ErrStopped = errors.New("the file watcher stopped")

// Config says what to watch.
type Config struct {
	// Paths are the files and directories to watch. Their parent
	// directories are watched, never the files themselves, so that a path
	// replaced by rename or a ..data swap is seen; every directory under a
	// path that is a directory is watched too.
	Paths []string
	// Wanted reports whether a file of this base name inside a watched
	// directory path matters; nil means every file. Subdirectories,
	// removals and renames inside (other than of hidden or backup files)
	// always matter.
	Wanted func(base string) bool
	// Logger receives watch problems; nil logs nothing.
	Logger *zap.Logger
	// Debounce and MaxDelay default to DefaultDebounce and DefaultMaxDelay.
	Debounce, MaxDelay time.Duration
}

// Watcher watches Config.Paths; Run reports their changes.
type Watcher struct {
	abs []string // the paths, absolute: what event names are compared with
	cfg Config
	fsw *fsnotify.Watcher
	log *zap.Logger
}

// New starts watching cfg.Paths. It fails when a path's parent directory
// cannot be watched (it does not exist, say).
func New(cfg Config) (*Watcher, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, abs: make([]string, len(cfg.Paths))}
	for i, p := range cfg.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		w.abs[i] = abs
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w.fsw = fsw
	for _, p := range w.abs {
		if err := fsw.Add(filepath.Dir(p)); err != nil {
			_ = fsw.Close()
			return nil, fmt.Errorf("the directory holding %s: %w", p, err)
		}
	}
	w.watchTrees()
	return w, nil
}

// Close stops watching; Run, if running, then returns ErrStopped.
func (w *Watcher) Close() error { return w.fsw.Close() }

// Run calls changed, from Run's goroutine, after every burst of relevant
// changes (new directories under a directory path are watched first), until
// ctx ends (it returns nil) or the file watcher stops (it returns
// ErrStopped: a watcher that sees nothing must not pass for one that sees
// no change). It closes the watcher when it returns. Run may be called once.
func (w *Watcher) Run(ctx context.Context, changed func()) error {
	defer func() { _ = w.fsw.Close() }() // nothing is left to report once Run returns
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var first time.Time // first change of the pending burst; zero: none
	schedule := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		wait := min(w.cfg.Debounce, first.Add(w.cfg.MaxDelay).Sub(now))
		timer.Reset(max(wait, 0))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return ErrStopped
			}
			if w.handle(ev) {
				schedule()
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return ErrStopped
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("file change events were lost; reporting a change", zap.Error(err))
				schedule()
				continue
			}
			w.log.Warn("file watcher", zap.Error(err))
		case <-timer.C:
			first = time.Time{}
			w.watchTrees()
			changed()
		}
	}
}

// handle reports whether ev is relevant, watching a new subdirectory of a
// directory path at once: files written into it before the report are seen
// by whoever reads them, those after raise events.
func (w *Watcher) handle(ev fsnotify.Event) bool {
	if !w.relevant(ev) {
		return false
	}
	name := filepath.Clean(ev.Name)
	if ev.Has(fsnotify.Create) && w.under(name) {
		if st, err := os.Lstat(name); err == nil && st.IsDir() && !strings.HasPrefix(st.Name(), ".") {
			w.watchTree(name)
		}
	}
	w.log.Debug("file change", zap.String("path", ev.Name), zap.Stringer("op", ev.Op))
	return true
}

// relevant reports whether an event can change a watched path: in a path's
// parent directory, the path's own name or a ConfigMap's ..data; inside a
// directory path, a wanted file, a directory, ..data, or anything removed
// or renamed away that is not an editor's swap or backup file. Swap files
// written as one types do not cost a report each.
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
		case base == configMapData || w.wanted(base):
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

func (w *Watcher) wanted(base string) bool { return w.cfg.Wanted == nil || w.cfg.Wanted(base) }

// under reports whether name lies inside a watched path (or is one).
func (w *Watcher) under(name string) bool {
	for _, p := range w.abs {
		if strings.HasPrefix(name, p+string(filepath.Separator)) || name == p {
			return true
		}
	}
	return false
}

// watchTrees adds a watch on every directory of every directory path;
// fsnotify ignores those it already has. Hidden directories (.git, a
// ConfigMap's ..2026_* directories) are not watched: a ConfigMap swap is
// seen as its ..data symlink changing.
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
			w.log.Warn("cannot watch a directory; its changes will be missed", zap.String("dir", dir), zap.Error(err))
		}
		return nil
	})
}
