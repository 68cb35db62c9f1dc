package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/policies"
)

// The queries the library answers.
const (
	decisionQuery = "data.trustgate.decision"
	// outcomeQuery is the decision with its denial's reasons left out:
	// data.trustgate.denial_reasons, which only a denial's reasons read,
	// is replaced, so OPA never evaluates the explanation a denial gives
	// identity by identity. Every other field is the decision's own.
	outcomeQuery       = "data.trustgate.decision with data.trustgate.denial_reasons as []"
	explainQuery       = "data.trustgate.explain"
	accessRequestQuery = "data.trustgate.access.request"
	accessReviewQuery  = "data.trustgate.access.review"
	reviewerQuery      = "data.trustgate.access.reviewer"
)

// Revision is the revision of one loaded bundle: its manifest's, or
// "sha256:" and 16 hex digits of its content's digest when it has none.
type Revision struct {
	Path     string `json:"path"`
	Revision string `json:"revision"`
}

// Load reads, validates and compiles the bundles at paths (directories or
// .tar.gz files) with the library, and prepares the decision and explain
// queries. Any problem refuses the whole load: the error is a
// *ProblemsError (errors.Is ErrLoad) listing every problem with its file
// and key.
func Load(ctx context.Context, paths []string, opts Options) (*Policy, error) {
	start := time.Now()
	opts = opts.withDefaults()
	p, problems := build(ctx, paths, opts, nil)
	if len(problems) > 0 {
		return nil, &ProblemsError{Problems: problems}
	}
	opts.Logger.Debug("bundles compiled",
		zap.Any("revisions", p.revisions),
		zap.Int("providers", len(p.index.providers)),
		zap.Int("identities", len(p.index.identities)),
		zap.Duration("duration", time.Since(start)))
	return p, nil
}

// Check reports every problem Load would refuse the bundles at paths for,
// each with its file and key; none means Load succeeds. `trustgate check`
// prints them.
func Check(ctx context.Context, paths []string, opts Options) []Problem {
	_, problems := build(ctx, paths, opts.withDefaults(), nil)
	return problems
}

// build is Load's pipeline, in numbered stages that each return their
// problems. Stages that can run with problems before them do, so that one
// run reports as much as it can. When model is not nil, a policy that
// loads is also described in it (LoadModel).
func build(ctx context.Context, paths []string, opts Options, model *Model) (*Policy, []Problem) {
	if len(paths) == 0 {
		return nil, []Problem{{Message: "no bundles given"}}
	}
	// 1. The verification key, held to what ParseVerificationKey accepts.
	opts, problems := checkVerificationKey(opts)
	if len(problems) > 0 {
		return nil, problems
	}
	caps := Capabilities()
	// 2. Each bundle read once: signature, modules, data. A bundle or a
	// file that could not be read stops here: what follows would only
	// report what is missing because of it.
	sources, problems := readBundles(paths, opts, caps)
	if len(problems) > 0 {
		return nil, problems
	}
	if err := ctx.Err(); err != nil {
		return nil, []Problem{{Message: fmt.Sprintf("loading stopped: %v", err)}}
	}
	// 3. The library, and the risk levels it gives data that has none.
	library, err := parseLibrary(opts.Library, caps)
	if err != nil {
		return nil, []Problem{{File: "library", Message: err.Error()}}
	}
	risk, err := readLibraryRisk(library)
	if err != nil {
		return nil, []Problem{{File: "library", Message: err.Error()}}
	}
	// 4. The bundles' data, merged, validated and indexed.
	m, problems := mergeData(sources)
	idx, ps := validate(m, opts, risk)
	problems = append(problems, ps...)
	// 5. The library's and the bundles' modules, each bundle's in its place.
	modules, forbidden, ps := gatherModules(library, sources, caps)
	problems = append(problems, ps...)
	// 6. The Rego compiled, under the restricted capabilities.
	compiler, ps := compile(modules, caps, forbidden)
	problems = append(problems, ps...)
	if compiler.Failed() {
		return nil, problems
	}
	// 7. The data beside the rules, with the index the library reads.
	problems = append(problems, dataRuleClashes(m, compiler)...)
	data, ps := storedData(m)
	problems = append(problems, ps...)
	if len(problems) > 0 {
		return nil, problems
	}
	// 8. The queries prepared once, and the revisions stamped.
	idx.finish()
	p, err := prepare(ctx, compiler, data, idx, opts)
	if err != nil {
		return nil, []Problem{{Message: err.Error()}}
	}
	p.revisions, p.digest = revisions(sources)
	p.loadedAt = time.Now()
	if model != nil {
		if err := model.fill(sources, m, idx, library); err != nil {
			return nil, []Problem{{Message: err.Error()}}
		}
	}
	return p, nil
}

// checkVerificationKey holds a bundle verification key to what
// ParseVerificationKey accepts (no HMAC with a public key): Options may be
// built by hand.
func checkVerificationKey(opts Options) (Options, []Problem) {
	k := opts.VerificationKey
	if k == nil {
		return opts, nil
	}
	key, err := ParseVerificationKey([]byte(k.PEM), k.KeyID, k.Algorithm)
	if err != nil {
		return opts, []Problem{{Message: fmt.Sprintf("bundle verification key: %v", err)}}
	}
	key.Scope = k.Scope
	opts.VerificationKey = key
	return opts, nil
}

// readBundles reads each bundle at paths once; a path given twice is a
// problem.
func readBundles(paths []string, opts Options, caps *ast.Capabilities) ([]*source, []Problem) {
	var (
		problems []Problem
		sources  []*source
		seen     = make(map[string]string)
	)
	for _, path := range paths {
		clean := filepath.Clean(path)
		if prev, dup := seen[clean]; dup {
			problems = append(problems, Problem{File: path, Message: fmt.Sprintf("the bundle is given twice (also as %s)", prev)})
			continue
		}
		seen[clean] = path
		src, ps := readBundle(path, opts, caps)
		problems = append(problems, ps...)
		if src != nil {
			sources = append(sources, src)
		}
	}
	return sources, problems
}

// gatherModules gathers the parsed library with the bundles' modules.
// Bundles' Rego goes under data.trustgate.custom, where rules can only veto
// (data.trustgate.custom.deny); anywhere else under data.trustgate a rule
// could add to what the library grants. forbidden lists the calls of
// built-ins the capabilities remove, said better than the compiler would.
func gatherModules(library map[string]*ast.Module, sources []*source, caps *ast.Capabilities) (modules map[string]*ast.Module, forbidden, problems []Problem) {
	modules = make(map[string]*ast.Module, len(library))
	removed := removedBuiltinSet(caps)
	for name, mod := range library {
		modules[name] = mod
		forbidden = append(forbidden, forbiddenCalls(mod, removed)...)
	}
	libraryPackage, customPackage := ast.MustParseRef("data.trustgate"), ast.MustParseRef("data.trustgate.custom")
	for _, src := range sources {
		for _, name := range sortedKeys(src.modules) {
			mod := src.modules[name]
			if !mod.Package.Path.HasPrefix(customPackage) && mod.Package.Path.HasPrefix(libraryPackage) {
				problems = append(problems, Problem{
					File:    locationString(mod.Package.Location),
					Message: fmt.Sprintf("%s: bundles may add rules only under package trustgate.custom (rules elsewhere in trustgate could widen what the library grants)", mod.Package),
				})
			}
			forbidden = append(forbidden, forbiddenCalls(mod, removed)...)
			if _, dup := modules[name]; dup {
				problems = append(problems, Problem{File: name, Message: "a module of this name is already loaded (the library's, or another bundle's): rename the bundle path"})
				continue
			}
			modules[name] = mod
		}
	}
	return modules, forbidden, append(problems, forbidden...)
}

// compile compiles modules under caps; a compiler error at the place of a
// forbidden call is left out, as forbidden says it better.
func compile(modules map[string]*ast.Module, caps *ast.Capabilities, forbidden []Problem) (*ast.Compiler, []Problem) {
	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithEnablePrintStatements(false).
		WithUseTypeCheckAnnotations(true)
	compiler.Compile(modules)
	var problems []Problem
	for _, e := range compiler.Errors {
		if e.Location != nil && slices.ContainsFunc(forbidden, func(p Problem) bool { return p.File == locationString(e.Location) }) {
			continue // said better by forbidden
		}
		problems = append(problems, Problem{File: locationString(e.Location), Message: fmt.Sprintf("%s: %s", e.Code, e.Message)})
	}
	return compiler, problems
}

// revisions lists the bundles' revisions and digests them all into one.
func revisions(sources []*source) ([]Revision, string) {
	out := make([]Revision, len(sources))
	digest := sha256.New()
	for i, src := range sources {
		out[i] = Revision{Path: src.path, Revision: src.revision}
		fmt.Fprintf(digest, "%d:%s%d:%s%s", len(src.path), src.path, len(src.revision), src.revision, src.digest)
	}
	return out, hex.EncodeToString(digest.Sum(nil))
}

// dataRuleClashes reports bundle data at a path where rules live (e.g.
// data.trustgate.decision as data): OPA would evaluate one or the other.
func dataRuleClashes(m *merged, c *ast.Compiler) []Problem {
	var problems []Problem
	check := func(key string, ref ast.Ref) {
		if len(c.GetRulesWithPrefix(ref)) > 0 || len(c.GetRulesForVirtualDocument(ref)) > 0 {
			problems = append(problems, Problem{File: m.owner(key), Key: key, Message: fmt.Sprintf("data at %s clashes with rules of the same path: rename the key", ref)})
		}
	}
	for _, top := range sortedKeys(m.data) {
		ref := ast.Ref{ast.DefaultRootDocument, ast.StringTerm(top)}
		if top != "trustgate" {
			check(top, ref)
			continue
		}
		tg, _ := m.data["trustgate"].(map[string]any)
		for _, k := range sortedKeys(tg) {
			check("trustgate."+k, ref.Append(ast.StringTerm(k)))
		}
	}
	return problems
}

// prepare builds the store and prepares every query once; each evaluation
// only evaluates.
func prepare(ctx context.Context, compiler *ast.Compiler, data map[string]any, idx index, opts Options) (*Policy, error) {
	value, err := ast.InterfaceToValue(data)
	if err != nil {
		return nil, fmt.Errorf("bundle data: %w", err)
	}
	obj, ok := value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("bundle data is %s, not an object", ast.ValueName(value))
	}
	// Data is converted to AST once here; reads then hand out AST values
	// instead of converting again. The identities and the candidate index
	// are served from idx.
	store := &dataStore{
		Store:      inmem.NewFromASTObject(obj),
		identities: idx.identities,
		candidates: idx.candidates,
		cache:      newValueCache(maxCachedIdentities),
	}
	p := &Policy{evalTimeout: opts.EvalTimeout, index: idx}
	for _, q := range []struct {
		query string
		dst   *rego.PreparedEvalQuery
	}{
		{decisionQuery, &p.decision}, {outcomeQuery, &p.outcome}, {explainQuery, &p.explain},
		{accessRequestQuery, &p.accessRequest}, {accessReviewQuery, &p.accessReview},
		{reviewerQuery, &p.reviewer},
	} {
		pq, err := rego.New(
			rego.Query(q.query),
			rego.Compiler(compiler),
			rego.Store(store),
			rego.StrictBuiltinErrors(true),
			// Results stay AST values: decoded strictly, never via
			// encoding/json's lenient rules.
			rego.GenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t.Value, nil }),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", q.query, err)
		}
		*q.dst = pq
	}
	return p, nil
}

// Library parses the embedded library's modules (tests left out), keyed by
// a name such as library/trustgate/decision.rego, for tools such as
// `trustgate test` that compile it with other modules.
func Library() (map[string]*ast.Module, error) {
	return parseLibrary(nil, Capabilities())
}

// parseLibrary parses every .rego file of fsys (nil: policies.FS()) except
// tests.
func parseLibrary(fsys fs.FS, caps *ast.Capabilities) (map[string]*ast.Module, error) {
	if fsys == nil {
		fsys = policies.FS()
	}
	modules := make(map[string]*ast.Module)
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".rego") || strings.HasSuffix(path, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		name := "library/" + path
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{
			RegoVersion:       ast.RegoV1,
			ProcessAnnotation: true,
			Capabilities:      caps,
		})
		if err != nil {
			return err
		}
		modules[name] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("the policy library has no Rego modules")
	}
	return modules, nil
}
