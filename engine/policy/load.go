package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/policies"
)

// Queries the library answers.
const (
	decisionQuery = "data.trustgate.decision"
	explainQuery  = "data.trustgate.explain"
)

// maxBundleBytes bounds a bundle file read.
const maxBundleBytes = 64 << 20

// Options configure loading.
type Options struct {
	// ServerIssuer is providers' default audience.
	ServerIssuer string
	// AllowInsecureIssuers accepts http issuers on loopback hosts.
	AllowInsecureIssuers bool
	// Logger reports loads; nil: none.
	Logger *zap.Logger
	// EvalTimeout bounds one evaluation (default 100ms).
	EvalTimeout time.Duration
	// VerificationKey, when set, requires every bundle to be signed by it
	// (.signatures.json as `opa sign` writes it).
	VerificationKey *VerificationKey
	// Library is the policy library (default policies.FS()).
	Library fs.FS
}

// VerificationKey is the public key bundles must be signed with.
type VerificationKey struct {
	KeyID     string
	Algorithm string
	PEM       string
}

// LoadVerificationKey reads a PEM public key for bundle signatures.
func LoadVerificationKey(path, keyID, alg string) (*VerificationKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &VerificationKey{KeyID: keyID, Algorithm: alg, PEM: string(b)}, nil
}

// Revision names the revision of one loaded bundle: its manifest's, or the
// SHA-256 of its content when it has none.
type Revision struct {
	Path     string `json:"path"`
	Revision string `json:"revision"`
}

// loaded is one bundle as read.
type loaded struct {
	path string
	b    *bundle.Bundle
}

// Load reads, validates and compiles the bundles at paths with the library.
// Any problem refuses the whole load: the error is a *ProblemsError listing
// every problem with its file and key.
func Load(ctx context.Context, paths []string, opts Options) (*Policy, error) {
	p, problems := build(ctx, paths, opts)
	if len(problems) > 0 {
		return nil, &ProblemsError{Problems: problems}
	}
	return p, nil
}

// Check reports every problem of the bundles at paths, as Load would refuse
// them; none means Load would succeed.
func Check(ctx context.Context, paths []string, opts Options) []Problem {
	_, problems := build(ctx, paths, opts)
	return problems
}

func build(ctx context.Context, paths []string, opts Options) (*Policy, []Problem) {
	start := time.Now()
	if opts.EvalTimeout <= 0 {
		opts.EvalTimeout = 100 * time.Millisecond
	}
	if opts.Library == nil {
		opts.Library = policies.FS()
	}
	if len(paths) == 0 {
		return nil, []Problem{{Message: "no bundles configured"}}
	}
	var (
		bundles  []loaded
		problems []Problem
	)
	for _, path := range paths {
		b, err := readBundle(path, opts)
		if err != nil {
			problems = append(problems, Problem{File: path, Message: err.Error()})
			continue
		}
		bundles = append(bundles, loaded{path: path, b: b})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	data, origin, mergeProblems := mergeData(bundles)
	v := &validator{opts: opts, origin: origin}
	idx := v.validate(data)
	problems = append(mergeProblems, v.problems...)
	modules, modProblems := collectModules(bundles, opts.Library)
	problems = append(problems, modProblems...)
	if len(problems) > 0 {
		return nil, problems
	}
	p, compileProblems := compile(ctx, data, modules, opts)
	if len(compileProblems) > 0 {
		return nil, compileProblems
	}
	p.index = idx
	p.revisions = revisions(bundles)
	p.loadedAt = time.Now()
	if opts.Logger != nil {
		opts.Logger.Info("bundles compiled", zap.Strings("bundles", paths), zap.Int("identities", identityCount(data)),
			zap.Duration("duration", time.Since(start)))
	}
	return p, nil
}

// readBundle reads a directory or .tar.gz bundle without its _test.rego
// files, checking its signature when a key is configured.
func readBundle(path string, opts Options) (*bundle.Bundle, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var loader bundle.DirectoryLoader
	if st.IsDir() {
		loader = bundle.NewDirectoryLoader(path).WithFollowSymlinks(true).WithSizeLimitBytes(maxBundleBytes)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		loader = bundle.NewTarballLoaderWithBaseURL(f, path).WithSizeLimitBytes(maxBundleBytes)
	}
	loader = loader.WithFilter(skipFile)
	r := bundle.NewCustomReader(loader).
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(Capabilities()).
		WithSizeLimitBytes(maxBundleBytes)
	if opts.VerificationKey != nil {
		vc, err := verificationConfig(opts.VerificationKey)
		if err != nil {
			return nil, err
		}
		r = r.WithBundleVerificationConfig(vc)
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	if err != nil {
		return nil, err
	}
	if len(b.Modules) == 0 && len(b.Data) == 0 {
		return nil, errors.New("the bundle is empty: refusing to activate an empty policy")
	}
	return &b, nil
}

// skipFile leaves out tests and hidden entries (a Kubernetes ConfigMap
// mount's ..data and ..2026_* directories), keeping .manifest and
// .signatures.json.
func skipFile(abspath string, info fs.FileInfo, _ int) bool {
	name := info.Name()
	if strings.HasSuffix(name, "_test.rego") {
		return true
	}
	if strings.HasPrefix(name, ".") && name != ".manifest" && name != ".signatures.json" {
		return true
	}
	_ = abspath
	return false
}

func verificationConfig(k *VerificationKey) (*bundle.VerificationConfig, error) {
	kc, err := keys.NewKeyConfig(k.PEM, k.Algorithm, "")
	if err != nil {
		return nil, fmt.Errorf("bundle verification key: %w", err)
	}
	return bundle.NewVerificationConfig(map[string]*bundle.KeyConfig{k.KeyID: kc}, k.KeyID, "", nil), nil
}

// mergeData merges the bundles' data.trustgate. A provider or identity
// defined by two bundles, or any other key given twice, is a problem.
func mergeData(bundles []loaded) (map[string]any, func(string) string, []Problem) {
	merged := map[string]any{}
	origin := map[string]string{}
	var problems []Problem
	for _, lb := range bundles {
		for top, v := range lb.b.Data {
			if top != "trustgate" {
				problems = append(problems, Problem{File: lb.path, Key: top, Message: "bundle data must live under trustgate"})
				continue
			}
			tg, ok := v.(map[string]any)
			if !ok {
				problems = append(problems, Problem{File: lb.path, Key: "trustgate", Message: "want a mapping"})
				continue
			}
			for section, sv := range tg {
				mergeSection(merged, origin, section, sv, lb.path, &problems)
			}
		}
	}
	find := func(key string) string {
		for k := key; k != ""; k = parentKey(k) {
			if o, ok := origin[k]; ok {
				return o
			}
		}
		return ""
	}
	return merged, find, problems
}

func mergeSection(merged map[string]any, origin map[string]string, section string, sv any, path string, problems *[]Problem) {
	key := "trustgate." + section
	entries, isMap := sv.(map[string]any)
	if (section != "providers" && section != "identities") || !isMap {
		if prev, dup := origin[key]; dup {
			*problems = append(*problems, Problem{File: path, Key: key, Message: "also defined in " + prev})
			return
		}
		merged[section], origin[key] = sv, path
		return
	}
	dst, _ := merged[section].(map[string]any)
	if dst == nil {
		dst = map[string]any{}
		merged[section] = dst
	}
	for name, e := range entries {
		k := key + "." + name
		if prev, dup := origin[k]; dup {
			*problems = append(*problems, Problem{File: path, Key: k, Message: "also defined in " + prev})
			continue
		}
		dst[name], origin[k] = e, path
	}
}

func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i > 0 {
		return k[:i]
	}
	return ""
}

// collectModules is the library (without its tests) and every bundle's Rego.
func collectModules(bundles []loaded, library fs.FS) (map[string]*ast.Module, []Problem) {
	modules := map[string]*ast.Module{}
	var problems []Problem
	err := fs.WalkDir(library, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") || strings.HasSuffix(path, "_test.rego") {
			return err
		}
		src, err := fs.ReadFile(library, path)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts("library/"+path, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		modules["library/"+path] = m
		return nil
	})
	if err != nil {
		problems = append(problems, Problem{File: "library", Message: err.Error()})
	}
	for _, lb := range bundles {
		for _, mf := range lb.b.Modules {
			name := filepath.Join(lb.path, strings.TrimPrefix(mf.Path, lb.path))
			modules[name] = mf.Parsed
		}
	}
	return modules, problems
}

// Library parses the embedded library's modules (tests excluded), for
// tools such as `trustgate test` that compile it with other modules.
func Library() (map[string]*ast.Module, error) {
	modules, problems := collectModules(nil, policies.FS())
	if len(problems) > 0 {
		return nil, &ProblemsError{Problems: problems}
	}
	return modules, nil
}

func compile(ctx context.Context, data map[string]any, modules map[string]*ast.Module, opts Options) (*Policy, []Problem) {
	compiler := ast.NewCompiler().WithCapabilities(Capabilities()).WithStrict(false)
	if compiler.Compile(modules); compiler.Failed() {
		problems := make([]Problem, 0, len(compiler.Errors))
		for _, e := range compiler.Errors {
			p := Problem{Message: e.Message}
			if e.Location != nil {
				p.File = fmt.Sprintf("%s:%d", e.Location.File, e.Location.Row)
			}
			problems = append(problems, p)
		}
		return nil, problems
	}
	store := inmem.NewFromObjectWithOpts(map[string]any{"trustgate": data}, inmem.OptRoundTripOnWrite(false))
	prepare := func(query string) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query(query),
			rego.Compiler(compiler),
			rego.Store(store),
			rego.StrictBuiltinErrors(true),
			rego.Capabilities(Capabilities()),
		).PrepareForEval(ctx)
	}
	dq, err := prepare(decisionQuery)
	if err != nil {
		return nil, []Problem{{Message: "prepare " + decisionQuery + ": " + err.Error()}}
	}
	eq, err := prepare(explainQuery)
	if err != nil {
		return nil, []Problem{{Message: "prepare " + explainQuery + ": " + err.Error()}}
	}
	return &Policy{decision: dq, explain: eq, evalTimeout: opts.EvalTimeout}, nil
}

func revisions(bundles []loaded) []Revision {
	out := make([]Revision, 0, len(bundles))
	for _, lb := range bundles {
		rev := lb.b.Manifest.Revision
		if rev == "" {
			rev = contentHash(lb.b)
		}
		out = append(out, Revision{Path: lb.path, Revision: rev})
	}
	return out
}

// contentHash is a short SHA-256 over a bundle's modules and data.
func contentHash(b *bundle.Bundle) string {
	h := sha256.New()
	mods := make([]string, 0, len(b.Modules))
	for _, m := range b.Modules {
		mods = append(mods, m.Path+"\x00"+string(m.Raw))
	}
	sort.Strings(mods)
	for _, m := range mods {
		h.Write([]byte(m))
	}
	h.Write([]byte(fmt.Sprint(ast.MustInterfaceToValue(b.Data))))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

func identityCount(data map[string]any) int {
	ids, _ := data["identities"].(map[string]any)
	return len(ids)
}
