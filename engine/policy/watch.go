package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/filewatch"
	"github.com/trustgate/trustgate/engine/outage"
	"github.com/trustgate/trustgate/engine/weburl"
)

// Watcher reloads the bundles when they change and hands each new policy to
// onLoad. A reload that fails (a bundle unreadable, deleted or emptied, a
// data problem, a compile error, a bad signature, a bad download) goes to
// onError and the caller keeps its last good policy: onLoad never sees a
// broken or empty policy.
//
// Local bundles are watched with filewatch: directories, never files, so
// that a bundle replaced by rename or by a Kubernetes ConfigMap's ..data
// swap is seen. Remote bundles (URLs) are polled with OPA's bundle
// protocol (see RemoteOptions); a download joins the policy only if the
// whole policy loads with it, and is then kept in the cache directory.
type Watcher struct {
	paths   []string // as given: what Load reads and names
	opts    Options
	onLoad  func(*Policy)
	onError func(error)
	files   *filewatch.Watcher // nil when every bundle is remote
	remotes []*remote
	log     *zap.Logger

	good    map[string][]byte // last good download of each remote, by URL
	latest  map[string][]byte // last download of each remote: used until one is good
	started bool              // Start or Serving told what is served
	digest  string            // of the last policy handed out
	failed  bool              // the last reload failed
}

// NewWatcher prepares to watch the bundles at paths (local paths and
// remote URLs), loading them with opts. onLoad receives every new policy,
// onError every refused reload; both are called from Run's goroutine, one
// at a time.
func NewWatcher(paths []string, opts Options, onLoad func(*Policy), onError func(error)) (*Watcher, error) {
	if len(paths) == 0 {
		return nil, errors.New("watch bundles: no bundles given")
	}
	if onLoad == nil || onError == nil {
		return nil, errors.New("watch bundles: onLoad and onError are required")
	}
	opts = opts.withDefaults()
	opts.Remote = opts.Remote.withDefaults()
	w := &Watcher{paths: paths, opts: opts, onLoad: onLoad, onError: onError, log: opts.Logger,
		good: map[string][]byte{}, latest: map[string][]byte{}}
	var local []string
	for i, p := range paths {
		if !IsRemote(p) {
			local = append(local, p)
			continue
		}
		if err := weburl.Check(p, opts.AllowInsecureIssuers); err != nil {
			return nil, fmt.Errorf("watch bundles: bundle %d: %w", i, err)
		}
		w.remotes = append(w.remotes, &remote{url: p, opts: opts.Remote, log: opts.Logger,
			outage: outage.New(outage.Config{Logger: opts.Logger, Dependency: "bundle server", Fields: []zap.Field{zap.String("bundle", p)}})})
	}
	if len(local) > 0 {
		fw, err := filewatch.New(filewatch.Config{Paths: local, Wanted: isBundleFile, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("watch bundles: %w", err)
		}
		w.files = fw
	}
	return w, nil
}

// isBundleFile reports whether a file of this name in a bundle directory
// is one Load reads.
func isBundleFile(base string) bool {
	return strings.HasSuffix(base, ".rego") || slices.Contains(bundleFiles, base)
}

// Start loads the bundles once, downloading the remote ones (or, when a
// bundle server cannot answer, reading the last good download from the
// cache directory, said in the log), and returns the policy without
// handing it to onLoad: Run then starts from it. A change made meanwhile
// is in the watcher's queue. Call it at most once, before Run.
func (w *Watcher) Start(ctx context.Context) (*Policy, error) {
	bodies := make(map[string][]byte, len(w.remotes))
	fresh := map[*remote]bool{}
	for _, r := range w.remotes {
		body, isFresh, err := r.first(ctx)
		if err != nil {
			return nil, err
		}
		bodies[r.url], fresh[r] = body, isFresh
		w.latest[r.url] = body
	}
	opts := w.opts
	opts.downloads = bodies
	p, err := w.load(ctx, opts)
	if err != nil {
		return nil, err
	}
	for r, isFresh := range fresh {
		if isFresh {
			r.keep(bodies[r.url])
		}
	}
	w.good, w.digest, w.started = bodies, p.digest, true
	return p, nil
}

// Serving tells a watcher of local bundles only that p, loaded after
// NewWatcher returned, is what the caller serves: Run then starts from p
// instead of loading the bundles again. With remote bundles, use Start.
func (w *Watcher) Serving(p *Policy) {
	if len(w.remotes) == 0 {
		w.digest, w.started = p.digest, true
	}
}

// Close stops watching; for a Watcher that will not Run.
func (w *Watcher) Close() error {
	if w.files == nil {
		return nil
	}
	return w.files.Close()
}

// Run loads the bundles once unless Start or Serving came first, then again
// after every burst of local changes and every new remote download, until
// ctx ends; it then returns nil. It returns an error if the file watcher
// stops. Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	changes := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	if w.files != nil {
		wg.Go(func() {
			stopped <- w.files.Run(ctx, func() {
				select {
				case changes <- struct{}{}:
				default: // a reload is already due
				}
			})
		})
	}
	if !w.started {
		w.startInRun(ctx)
	}
	downloads := make(chan download)
	for _, r := range w.remotes {
		wg.Go(func() { r.poll(ctx, downloads) })
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-stopped:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch bundles: %w", err)
		case <-changes:
			w.reload(ctx, nil)
		case d := <-downloads:
			w.reload(ctx, &d)
		}
	}
}

// startInRun is Run's first load when nobody called Start.
func (w *Watcher) startInRun(ctx context.Context) {
	p, err := w.Start(ctx)
	switch {
	case err == nil:
		w.onLoad(p)
	case ctx.Err() != nil:
	default:
		w.failed = true
		w.onError(err)
	}
}

// reload loads the bundles, with d's body in place of its remote's last
// good one (a remote with none yet gives its last download), and reports
// the outcome. A download joins the last good ones
// (and the cache) only when the whole policy loads with it. A policy equal
// to the last one handed out (same content digest) is not handed out again
// unless a failure came between.
func (w *Watcher) reload(ctx context.Context, d *download) {
	start := time.Now()
	opts := w.opts
	if d != nil {
		w.latest[d.remote.url] = d.body
	}
	opts.downloads = maps.Clone(w.latest)
	maps.Copy(opts.downloads, w.good)
	if d != nil {
		opts.downloads[d.remote.url] = d.body
	}
	p, err := w.load(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		w.failed = true
		w.onError(err)
		return
	}
	if d != nil {
		w.good[d.remote.url] = d.body
		d.remote.keep(d.body)
	}
	if p.digest == w.digest && !w.failed {
		w.log.Debug("bundles unchanged", zap.Duration("duration", time.Since(start)))
		return
	}
	w.digest, w.failed = p.digest, false
	w.log.Debug("bundles reloaded", zap.Any("revisions", p.revisions), zap.Duration("duration", time.Since(start)))
	w.onLoad(p)
}

// load loads the bundles with opts, within opts.Loading's call and its
// done.
func (w *Watcher) load(ctx context.Context, opts Options) (*Policy, error) {
	if opts.Loading != nil {
		done := opts.Loading()
		defer done()
	}
	return Load(ctx, w.paths, opts)
}
