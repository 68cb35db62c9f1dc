package policy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// debounce is how long the watcher waits for a burst of changes to end.
const debounce = 200 * time.Millisecond

// Watcher reloads bundles when anything under them changes.
type Watcher struct {
	paths   []string
	opts    Options
	onLoad  func(*Policy)
	onError func(error)
	fsw     *fsnotify.Watcher
	log     *zap.Logger
}

// NewWatcher watches paths. onLoad gets every policy that loaded and
// compiled in full; onError every refused reload (the caller keeps its last
// good policy). Neither is called concurrently.
func NewWatcher(paths []string, opts Options, onLoad func(*Policy), onError func(error)) (*Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	clean := make([]string, len(paths))
	for i, p := range paths {
		clean[i] = filepath.Clean(p)
	}
	w := &Watcher{paths: clean, opts: opts, onLoad: onLoad, onError: onError, fsw: fsw, log: log}
	w.addWatches()
	return w, nil
}

// addWatches watches each bundle path's parent (to see it replaced or
// removed), and every directory under bundle directories (editors save by
// rename; new subdirectories get watches as they appear; a ConfigMap swaps
// its ..data symlink in the bundle directory itself). fsnotify ignores a
// path it already watches.
func (w *Watcher) addWatches() {
	for _, p := range w.paths {
		_ = w.fsw.Add(filepath.Dir(p))
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if err := w.fsw.Add(path); err != nil {
					w.log.Warn("cannot watch bundle directory", zap.String("dir", path), zap.Error(err))
				}
			}
			return nil
		})
		// ConfigMap mounts: ..data is a symlink to the directory holding the files.
		if target, err := filepath.EvalSymlinks(filepath.Join(p, "..data")); err == nil {
			_ = w.fsw.Add(target)
		}
	}
}

// relevant reports whether an event can change a bundle: a bundle path
// itself, or anything under a bundle directory (a ConfigMap's timestamped
// directories included).
func (w *Watcher) relevant(name string) bool {
	for _, p := range w.paths {
		if name == p || strings.HasPrefix(name, p+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// Run reloads after each burst of relevant changes until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.fsw.Close()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return errors.New("bundle watcher closed")
			}
			if !w.relevant(ev.Name) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(debounce)
			} else {
				timer.Reset(debounce)
			}
			fire = timer.C
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return errors.New("bundle watcher closed")
			}
			w.log.Warn("bundle watcher", zap.Error(err))
		case <-fire:
			fire = nil
			w.addWatches()
			w.reload(ctx)
		}
	}
}

func (w *Watcher) reload(ctx context.Context) {
	start := time.Now()
	p, err := Load(ctx, w.paths, w.opts)
	if err != nil {
		w.onError(err)
		return
	}
	w.log.Debug("bundles reloaded", zap.Duration("duration", time.Since(start)))
	w.onLoad(p)
}
