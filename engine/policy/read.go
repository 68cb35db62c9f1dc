package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/trustgate/trustgate/engine/dupkeys"
)

// maxFileBytes bounds one file of a bundle (a tarball entry after
// decompression included).
const maxFileBytes = 256 << 20

// source is one bundle as read: its Rego without tests, its data files
// parsed, its revision and a digest of its content.
type source struct {
	path     string // as configured; names the bundle in problems and revisions
	revision string // the manifest's, else "sha256:" and the digest's first 16 hex digits
	digest   string // SHA-256 over every module and data file
	modules  map[string]*ast.Module
	data     []dataFile
}

// dataFile is one data.json / data.yaml / data.yml of a bundle.
type dataFile struct {
	file   string   // path shown in problems: bundle path joined with the file's path
	prefix []string // where the file's root object lands in data: its directory
	value  any
}

// readBundle reads the directory or .tar.gz bundle at path: signature first
// (when opts has a key: every file must be covered), then modules and data.
// Files ending in _test.rego are read (a signature covers them) but not
// served. A bundle with neither data nor Rego is a problem: an emptied
// bundle directory must not become an empty policy.
func readBundle(path string, opts Options, caps *ast.Capabilities) (*source, []Problem) {
	b, err := openBundle(path, opts, caps)
	if err != nil {
		return nil, []Problem{{File: path, Message: err.Error()}}
	}
	src := &source{path: path, modules: make(map[string]*ast.Module)}
	var problems []Problem
	h := newContentHash()
	for _, mf := range b.Modules {
		h.add(mf.RelativePath, mf.Raw)
		if strings.HasSuffix(mf.RelativePath, "_test.rego") {
			continue
		}
		name := bundleFile(path, mf.RelativePath)
		m, err := reparse(b, mf, name, caps)
		if err != nil {
			problems = append(problems, Problem{File: name, Message: err.Error()})
			continue
		}
		src.modules[name] = m
	}
	for i, raw := range b.Raw {
		if !isDataFile(raw.Path) {
			continue
		}
		h.add(raw.Path, raw.Value)
		df, err := parseDataFile(path, raw)
		b.Raw[i].Value = nil // decoded: a large file's text is not kept to the load's end
		if err != nil {
			problems = append(problems, Problem{File: df.file, Message: err.Error()})
			continue
		}
		problems = append(problems, outsideRoots(df, *b.Manifest.Roots)...)
		src.data = append(src.data, df)
	}
	if len(problems) == 0 && len(src.modules) == 0 && len(src.data) == 0 {
		problems = append(problems, Problem{File: path, Message: "the bundle has no data and no Rego: refusing an empty policy"})
	}
	src.digest = h.sum()
	src.revision = b.Manifest.Revision
	if src.revision == "" {
		src.revision = "sha256:" + src.digest[:16]
	}
	return src, problems
}

// openBundle reads the bundle at path with OPA's reader, its signature
// checked when opts has a key, and refuses the kinds of bundle Trustgate
// does not serve.
func openBundle(path string, opts Options, caps *ast.Capabilities) (*bundle.Bundle, error) {
	loader, err := bundleLoader(path, opts.downloads)
	if err != nil {
		return nil, err
	}
	r := bundle.NewCustomReader(loader).
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(caps).
		WithProcessAnnotations(true).
		WithSizeLimitBytes(maxFileBytes).
		// Data files are parsed here, once, so that every key can be traced
		// to its file; OPA's reader only checks their signature.
		WithLazyLoadingMode(true)
	if k := opts.VerificationKey; k != nil {
		kc := &bundle.KeyConfig{Key: k.PEM, Algorithm: k.Algorithm, Scope: k.Scope}
		r = r.WithBundleVerificationConfig(bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{k.KeyID: kc}, k.KeyID, k.Scope, nil))
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	switch {
	case err != nil && opts.VerificationKey != nil && signedFromElsewhere(path):
		return nil, fmt.Errorf("refused: %w (the signature names none of the directory's files: sign a directory from inside it, `opa sign --bundle .`, so that names are relative to the bundle)", err)
	case err != nil && opts.VerificationKey != nil:
		return nil, fmt.Errorf("refused: %w", err)
	case err != nil:
		return nil, err
	case b.Type() == bundle.DeltaBundleType:
		return nil, errors.New("delta bundles are not supported: give a snapshot bundle")
	case len(b.WasmModules) > 0 || len(b.PlanModules) > 0:
		return nil, errors.New("Wasm and plan bundles are not supported: give Rego and data")
	}
	return &b, nil
}

// bundleLoader opens path as OPA's directory or tarball loader; a remote
// bundle is read from its download.
func bundleLoader(path string, downloads map[string][]byte) (bundle.DirectoryLoader, error) {
	if IsRemote(path) {
		b, ok := downloads[path]
		if !ok {
			return nil, errors.New("a remote bundle is read only by a Watcher, which downloads it: give a downloaded .tar.gz here")
		}
		return bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(b), path).WithSizeLimitBytes(maxFileBytes), nil
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("does not exist")
	}
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		// The loader walks without following a symlinked root (a
		// ConfigMap mount may be one); resolve it, files keep their
		// bundle-relative names.
		root, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, err
		}
		return bundle.NewDirectoryLoader(root).
			WithFollowSymlinks(true).
			WithFilter(skipEntry(root)).
			WithSizeLimitBytes(maxFileBytes), nil
	}
	if !st.Mode().IsRegular() || !isTarball(path) {
		return nil, fmt.Errorf("not a bundle: want a directory or a .tar.gz file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(b), path).WithSizeLimitBytes(maxFileBytes), nil
}

// bundleFile names a file of a bundle in problems and module names: the
// bundle's path or URL joined with the file's slash-separated path.
func bundleFile(bundlePath, rel string) string {
	if IsRemote(bundlePath) {
		return strings.TrimSuffix(bundlePath, "/") + "/" + strings.TrimPrefix(rel, "/")
	}
	return filepath.Join(bundlePath, filepath.FromSlash(rel))
}

func isTarball(path string) bool {
	return strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz")
}

// bundleFiles are the names, besides *.rego, that a directory bundle serves.
var bundleFiles = []string{"data.json", "data.yaml", "data.yml", ".manifest", ".manifest.pb", ".signatures.json"}

// skipEntry is the directory loader's filter: it keeps Rego, data, the
// manifest and the signatures, and leaves out everything else: editors'
// swap and backup files, READMEs, hidden directories (.git, a Kubernetes
// ConfigMap's ..2026_* directories and its ..data symlink; the files of a
// ConfigMap are read through their own symlinks). Tests stay in: a
// signature covers them; readBundle drops them after verification.
func skipEntry(root string) func(string, fs.FileInfo, int) bool {
	root = filepath.ToSlash(filepath.Clean(root))
	return func(abspath string, info fs.FileInfo, _ int) bool {
		if filepath.ToSlash(filepath.Clean(abspath)) == root {
			return false
		}
		name := info.Name()
		if info.IsDir() {
			return strings.HasPrefix(name, ".")
		}
		if strings.HasSuffix(name, ".rego") {
			return strings.HasPrefix(name, ".")
		}
		return !slices.Contains(bundleFiles, name)
	}
}

func isDataFile(path string) bool {
	switch filepath.Base(path) {
	case "data.json", "data.yaml", "data.yml":
		return true
	}
	return false
}

// parseDataFile parses one data file as OPA does (numbers stay
// json.Number) but for refusing a key given twice in one mapping, and
// places it where OPA would: under its directory. A
// data.json is read as a stream, its identities left as JSON text until
// validated (decodeJSONData); a YAML file, meant for small bundles written
// by hand, is decoded whole.
func parseDataFile(bundlePath string, raw bundle.Raw) (dataFile, error) {
	df := dataFile{file: bundleFile(bundlePath, raw.Path)}
	if dir := strings.TrimLeft(filepath.ToSlash(filepath.Dir(raw.Path)), "/."); dir != "" {
		df.prefix = strings.Split(dir, "/")
	}
	// A key given twice would be decoded with the later value winning:
	// what a reviewer read first is not what runs.
	isJSON := filepath.Base(raw.Path) == "data.json"
	dup := dupkeys.YAML
	if isJSON {
		dup = dupkeys.JSON
	}
	if err := dup(raw.Value); err != nil {
		return df, err
	}
	var err error
	if isJSON {
		df.value, err = decodeJSONData(raw.Value, df.prefix)
	} else {
		err = util.Unmarshal(raw.Value, &df.value)
	}
	if err != nil {
		return df, fmt.Errorf("cannot parse: %w", err)
	}
	if _, ok := df.value.(map[string]any); !ok && len(df.prefix) == 0 {
		return df, fmt.Errorf("the file must hold a mapping (trustgate: ...), not %s", describe(df.value))
	}
	return df, nil
}

// outsideRoots reports data of df that lies outside the manifest's roots.
// OPA's reader checks this only for data it parses itself; here the data
// is parsed by parseDataFile.
func outsideRoots(df dataFile, roots []string) []Problem {
	if slices.Contains(roots, "") {
		return nil // the default root: everything
	}
	var problems []Problem
	var walk func(path []string, v any)
	walk = func(path []string, v any) {
		p := strings.Join(path, "/")
		if len(path) > 0 && bundle.RootPathsContain(roots, p) {
			return
		}
		v, err := entryValue(v)
		if err != nil {
			problems = append(problems, Problem{File: df.file, Key: strings.Join(path, "."), Message: err.Error()})
			return
		}
		obj, isMap := v.(map[string]any)
		if isMap && slices.ContainsFunc(roots, func(r string) bool { return len(path) == 0 || bundle.RootPathsContain([]string{p}, r) }) {
			for _, k := range sortedKeys(obj) {
				walk(append(slices.Clip(path), k), obj[k])
			}
			return
		}
		problems = append(problems, Problem{File: df.file, Key: strings.Join(path, "."),
			Message: fmt.Sprintf("outside the manifest's roots %q", roots)})
	}
	walk(df.prefix, df.value)
	return problems
}

// reparse parses a module again under its bundle-qualified name, so that
// compile errors point at bundles/x/custom.rego rather than /custom.rego.
func reparse(b *bundle.Bundle, mf bundle.ModuleFile, name string, caps *ast.Capabilities) (*ast.Module, error) {
	v, err := b.RegoVersionForFile(mf.RelativePath, ast.RegoV1)
	if err != nil {
		return nil, err
	}
	return ast.ParseModuleWithOpts(name, string(mf.Raw), ast.ParserOptions{
		RegoVersion:       v,
		ProcessAnnotation: true,
		Capabilities:      caps,
	})
}

// contentHash digests a bundle's files independently of their order.
type contentHash struct {
	files map[string][]byte
}

func newContentHash() *contentHash { return &contentHash{files: make(map[string][]byte)} }

func (c *contentHash) add(path string, content []byte) {
	sum := sha256.Sum256(content)
	c.files[path] = sum[:]
}

func (c *contentHash) sum() string {
	h := sha256.New()
	paths := make([]string, 0, len(c.files))
	for p := range c.files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "%d:%s", len(p), p)
		h.Write(c.files[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// signedFromElsewhere reports whether path is a directory whose
// .signatures.json names none of its files, as when `opa sign --bundle
// some/dir` signs names prefixed with some/dir. Only a hint: the signature
// is not verified here.
func signedFromElsewhere(path string) bool {
	raw, err := os.ReadFile(filepath.Join(path, ".signatures.json"))
	if err != nil {
		return false
	}
	var sc bundle.SignaturesConfig
	if json.Unmarshal(raw, &sc) != nil || len(sc.Signatures) != 1 {
		return false
	}
	parts := strings.Split(sc.Signatures[0], ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var ds bundle.DecodedSignature
	if json.Unmarshal(payload, &ds) != nil || len(ds.Files) == 0 {
		return false
	}
	for _, f := range ds.Files {
		if _, err := os.Stat(filepath.Join(path, filepath.FromSlash(f.Name))); err == nil {
			return false
		}
	}
	return true
}
