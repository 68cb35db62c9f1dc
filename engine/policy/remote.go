package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/outage"
)

// Polling and size defaults of remote bundles (DESIGN §12).
const (
	DefaultMinDelay       = 10 * time.Second
	DefaultMaxDelay       = 30 * time.Second
	DefaultMaxBundleBytes = 64 << 20
	// fetchTimeout bounds one download, body included.
	fetchTimeout = time.Minute
)

// Outcomes of one fetch of a remote bundle, as a FetchObserver sees them.
const (
	FetchUpdated   = "updated"      // 200: a body whose content differs from the last one
	FetchUnchanged = "not_modified" // 304, or a 200 with the same content
	FetchFailed    = "failed"       // no usable answer: network, status, size, credentials
)

const (
	maxRedirectHops  = 3
	bundleMediaTypes = "application/gzip, application/vnd.openpolicyagent.bundles, application/octet-stream"
)

// ErrRemoteBundle wraps every failure to fetch a remote bundle.
var ErrRemoteBundle = errors.New("remote bundle")

// FetchObserver is told the outcome of every fetch of a remote bundle
// (engine.Metrics is one).
type FetchObserver interface {
	BundleFetched(bundle, outcome string)
}

// RemoteOptions configure bundles given as URLs, fetched with OPA's bundle
// protocol: a GET with If-None-Match, 304 when unchanged.
type RemoteOptions struct {
	// Client fetches bundles; nil means NewBundleClient(). A client given
	// here must keep its own timeouts and redirect rules.
	Client *http.Client
	// BearerTokenFile, when set, holds the token sent as Authorization:
	// Bearer with every bundle request. It is read for every request, so a
	// rotated token needs no restart; it is never logged.
	BearerTokenFile string
	// CacheDir keeps the last good download of each remote bundle; a
	// watcher that starts while the bundle server is down serves it. Empty:
	// nothing is kept, and such a start fails.
	CacheDir string
	// MinDelay and MaxDelay bound the random wait between two polls
	// (defaults DefaultMinDelay, DefaultMaxDelay).
	MinDelay, MaxDelay time.Duration
	// MaxBytes caps a download (default DefaultMaxBundleBytes).
	MaxBytes int64
	// Observer, when set, is told each fetch's outcome.
	Observer FetchObserver
}

func (o RemoteOptions) withDefaults() RemoteOptions {
	if o.Client == nil {
		o.Client = NewBundleClient()
	}
	if o.MinDelay <= 0 {
		o.MinDelay = DefaultMinDelay
	}
	if o.MaxDelay < o.MinDelay {
		o.MaxDelay = max(o.MinDelay, DefaultMaxDelay)
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBundleBytes
	}
	return o
}

// IsRemote reports whether a bundle path is a URL rather than a file.
func IsRemote(path string) bool { return strings.Contains(path, "://") }

// NewBundleClient returns the default client for bundle servers: timeouts
// on every stage, and redirects followed only on the same scheme and host
// (a bearer token never reaches another host).
func NewBundleClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{
		Transport: tr,
		Timeout:   fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirectHops {
				return fmt.Errorf("more than %d redirects", maxRedirectHops)
			}
			if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
				// Only scheme and host: a redirect's query is where a
				// presigned URL keeps its signature.
				return fmt.Errorf("a redirect to another host or scheme (%s://%s) is refused", req.URL.Scheme, req.URL.Host)
			}
			return nil
		},
	}
}

// remote is one bundle URL. Its etag and sum belong to whoever fetches:
// the watcher before Run, its poll goroutine after.
type remote struct {
	url    string
	opts   RemoteOptions
	log    *zap.Logger
	outage *outage.Log // of the bundle server: its failed polls are one outage
	etag   string      // of the last body handed over: sent as If-None-Match
	sum    string      // SHA-256 of that body: a 200 with the same content is no change
}

// download is a body a remote handed over to the watcher.
type download struct {
	remote *remote
	body   []byte
}

// fetch does one GET of the bundle, conditional on the last ETag; a nil body
// means not modified.
func (r *remote) fetch(ctx context.Context) (body []byte, etag string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w %s: %w", ErrRemoteBundle, r.url, err)
	}
	req.Header.Set("Accept", bundleMediaTypes)
	if r.etag != "" {
		req.Header.Set("If-None-Match", r.etag)
	}
	if f := r.opts.BearerTokenFile; f != "" {
		token, err := readToken(f)
		if err != nil {
			return nil, "", fmt.Errorf("%w %s: bearer token: %w", ErrRemoteBundle, r.url, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := r.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // a *url.Error names the URL again
		}
		return nil, "", fmt.Errorf("%w %s: %w", ErrRemoteBundle, r.url, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, r.etag, nil
	case http.StatusOK:
	default:
		// The body is not read: a bundle server's error page is not ours to log.
		return nil, "", fmt.Errorf("%w %s: HTTP %d", ErrRemoteBundle, r.url, resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxBytes+1))
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("%w %s: reading the body: %w", ErrRemoteBundle, r.url, err)
	case int64(len(body)) > r.opts.MaxBytes:
		return nil, "", fmt.Errorf("%w %s: the body is larger than %d bytes", ErrRemoteBundle, r.url, r.opts.MaxBytes)
	case len(body) == 0:
		return nil, "", fmt.Errorf("%w %s: an empty body", ErrRemoteBundle, r.url)
	}
	return body, resp.Header.Get("ETag"), nil
}

// readToken reads a bearer token file: one token, surrounding space trimmed.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err // names the file, never the content
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("%s must hold exactly one token", path)
	}
	return token, nil
}

// check fetches once and returns a body whose content differs from the
// last one handed over; ok is false for no change and for failures (logged,
// observed).
func (r *remote) check(ctx context.Context) (d download, ok bool) {
	body, etag, err := r.fetch(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.observe(FetchFailed)
			r.outage.Failed(err) // the last good policy keeps serving
		}
		return download{}, false
	}
	r.outage.Answered()
	r.etag = etag
	sum := digestOf(body)
	if body == nil || sum == r.sum {
		r.observe(FetchUnchanged)
		r.log.Debug("remote bundle not modified", zap.String("bundle", r.url))
		return download{}, false
	}
	r.sum = sum
	r.observe(FetchUpdated)
	return download{remote: r, body: body}, true
}

func (r *remote) observe(outcome string) {
	if r.opts.Observer != nil {
		r.opts.Observer.BundleFetched(r.url, outcome)
	}
}

// poll checks the bundle after a random delay between MinDelay and
// MaxDelay, again and again, handing new bodies to out, until ctx ends.
func (r *remote) poll(ctx context.Context, out chan<- download) {
	timer := time.NewTimer(pollDelay(r.opts.MinDelay, r.opts.MaxDelay))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if d, ok := r.check(ctx); ok {
			select {
			case out <- d:
			case <-ctx.Done():
				return
			}
		}
		timer.Reset(pollDelay(r.opts.MinDelay, r.opts.MaxDelay))
	}
}

// pollDelay is a random delay in [lo, hi], so that replicas started together
// do not poll together.
func pollDelay(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo+1)
}

// first is the body the watcher starts from: a fresh download, or when the
// bundle server cannot give one, the cached last good download.
func (r *remote) first(ctx context.Context) (body []byte, fresh bool, err error) {
	body, etag, err := r.fetch(ctx)
	if err == nil {
		r.outage.Answered()
		r.etag, r.sum = etag, digestOf(body)
		r.observe(FetchUpdated)
		return body, true, nil
	}
	r.observe(FetchFailed)
	r.outage.Failed(err)
	cached, cerr := r.readCache()
	if cerr != nil {
		return nil, false, fmt.Errorf("%w (and no cached copy: %w)", err, cerr)
	}
	// No ETag is kept: the first poll downloads, and the same content is
	// no change.
	r.sum = digestOf(cached)
	r.log.Warn("bundle server unavailable: serving the last good download from the cache until it answers",
		zap.String("bundle", r.url), zap.String("cache", r.cacheFile()), zap.Error(err))
	return cached, false, nil
}

// cacheFile is where the last good download of r is kept ("" without a
// cache directory): a name derived from the URL.
func (r *remote) cacheFile() string {
	if r.opts.CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(r.url))
	return filepath.Join(r.opts.CacheDir, hex.EncodeToString(sum[:16])+".tar.gz")
}

func (r *remote) readCache() ([]byte, error) {
	path := r.cacheFile()
	if path == "" {
		return nil, errors.New("bundle_cache_dir is not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > r.opts.MaxBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, r.opts.MaxBytes)
	}
	return b, nil
}

// keep writes body, a download the watcher accepted, to the cache: a
// temporary file renamed over the old one, so a crash leaves one or the
// other, never half of one.
func (r *remote) keep(body []byte) {
	path := r.cacheFile()
	if path == "" {
		return
	}
	if err := writeAtomic(path, body); err != nil {
		r.log.Warn("cannot keep the bundle download in the cache; a restart while the bundle server is down will fail",
			zap.String("bundle", r.url), zap.String("cache", path), zap.Error(err))
	}
}

func writeAtomic(path string, body []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }() // after the rename, there is nothing to remove
	_, err = io.Copy(f, bytes.NewReader(body))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// digestOf is the hex SHA-256 of b; "" for nil.
func digestOf(b []byte) string {
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
