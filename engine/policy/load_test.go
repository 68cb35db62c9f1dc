package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

func TestLoadReadsDirectoriesAndTarballs(t *testing.T) {
	files := readFiles(t, teamBundle)
	tgz := filepath.Join(t.TempDir(), "team.tar.gz")
	if err := os.WriteFile(tgz, tarball(t, files), 0o600); err != nil {
		t.Fatal(err)
	}
	other := bundleDir(t, map[string]string{"data.yaml": `
trustgate:
  identities:
    ops:
      roles: [operator]
      federations:
        - provider: gitlab
          claims: {namespace_path: ops}
`})
	tests := []struct {
		name       string
		paths      []string
		identities []string
	}{
		{name: "A directory bundle loads.", paths: []string{teamBundle}, identities: []string{"deploy", "docs-reader", "release"}},
		{name: "A .tar.gz bundle loads like the directory it was built from.", paths: []string{tgz}, identities: []string{"deploy", "docs-reader", "release"}},
		{name: "Two bundles merge, and an identity may use another bundle's provider.", paths: []string{teamBundle, other}, identities: []string{"deploy", "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Load(context.Background(), tt.paths, options())
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := p.ProviderByIssuer("https://gitlab.com"); !ok || got.Name != "gitlab" {
				t.Errorf("ProviderByIssuer(gitlab.com) = %+v, %v", got, ok)
			}
			for _, name := range tt.identities {
				in := gitlabInput(t, request{identity: name}, nil)
				d, err := p.Evaluate(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range d.Reasons {
					if strings.Contains(r, "no identity is named") {
						t.Errorf("identity %s is not loaded: %q", name, d.Reasons)
					}
				}
			}
			if len(p.Revisions()) != len(tt.paths) {
				t.Errorf("revisions %v for %d bundles", p.Revisions(), len(tt.paths))
			}
		})
	}
}

func TestLoadDoesNotServeTestFiles(t *testing.T) {
	// custom_test.rego calls time.now_ns, which the server's capabilities
	// leave out: served, it would refuse the bundle.
	if _, err := os.Stat(filepath.Join(teamBundle, "custom_test.rego")); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Load(context.Background(), []string{teamBundle}, options()); err != nil {
		t.Fatalf("a bundle with a _test.rego file: %v", err)
	}
	if ps := policy.Check(context.Background(), []string{teamBundle}, options()); len(ps) != 0 {
		t.Fatalf("Check: %q", problemStrings(ps))
	}
}

func TestLoadRefusesBuiltinsThatDoIOOrAreNonDeterministic(t *testing.T) {
	tests := []struct {
		name    string
		builtin string
		rule    string
	}{
		{name: "http.send is refused.", builtin: "http.send", rule: `resp := http.send({"method": "GET", "url": "https://example.com"})`},
		{name: "net.lookup_ip_addr is refused.", builtin: "net.lookup_ip_addr", rule: `addrs := net.lookup_ip_addr("example.com")`},
		{name: "opa.runtime is refused.", builtin: "opa.runtime", rule: `env := opa.runtime().env`},
		{name: "time.now_ns is refused: rules read input.now.", builtin: "time.now_ns", rule: `late if time.now_ns() > 0`},
		{name: "rand.intn is refused.", builtin: "rand.intn", rule: `n := rand.intn("x", 10)`},
		{name: "uuid.rfc4122 is refused.", builtin: "uuid.rfc4122", rule: `id := uuid.rfc4122("x")`},
		{name: "net.cidr_expand is refused.", builtin: "net.cidr_expand", rule: `hosts := net.cidr_expand("10.0.0.0/8")`},
		{name: "A call nested in a comprehension is refused too.", builtin: "http.send", rule: `codes := [r.status_code | some u in ["https://a.example"]; r := http.send({"method": "GET", "url": u})]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, teamBundle)
			writeFiles(t, dir, map[string]string{"bad.rego": "package trustgate.custom\n\n" + tt.rule + "\n"})
			_, err := policy.Load(context.Background(), []string{dir}, options())
			var pe *policy.ProblemsError
			if !errors.As(err, &pe) || !errors.Is(err, policy.ErrLoad) {
				t.Fatalf("Load: %v, want a *ProblemsError", err)
			}
			file := filepath.Join(dir, "bad.rego") + ":3"
			if !containsProblem(pe.Problems, file, tt.builtin+" is not allowed") {
				t.Fatalf("problems %q do not refuse %s at %s", problemStrings(pe.Problems), tt.builtin, file)
			}
			if containsProblem(pe.Problems, "undefined function") {
				t.Errorf("the compiler's own message is repeated: %q", problemStrings(pe.Problems))
			}
		})
	}
}

func TestCapabilitiesKeepWhatPoliciesNeed(t *testing.T) {
	caps := policy.Capabilities()
	var names []string
	for _, b := range caps.Builtins {
		names = append(names, b.Name)
	}
	for _, keep := range []string{"glob.match", "time.parse_rfc3339_ns", "time.parse_duration_ns", "sprintf", "print", "trace", "json.marshal", "object.get"} {
		if !slices.Contains(names, keep) {
			t.Errorf("%s was removed", keep)
		}
	}
	for _, gone := range []string{"http.send", "net.lookup_ip_addr", "opa.runtime", "time.now_ns", "rand.intn", "uuid.rfc4122",
		"io.jwt.encode_sign", "io.jwt.decode_verify", "json.match_schema", "net.cidr_expand"} {
		if slices.Contains(names, gone) {
			t.Errorf("%s was kept", gone)
		}
	}
	if caps.AllowNet == nil || len(caps.AllowNet) != 0 {
		t.Errorf("AllowNet = %v, want empty (no host)", caps.AllowNet)
	}
	caps.Builtins = nil
	if len(policy.Capabilities().Builtins) == 0 {
		t.Error("Capabilities returned shared state")
	}
}

func TestCheckReportsEveryDataProblemWithItsKey(t *testing.T) {
	dir := "testdata/bundles/broken"
	f := filepath.Join(dir, "data.yaml")
	want := []string{
		f + `: trustgate.providers.gitlab.audience: unknown key (known: issuer, platform, audiences, jwks_url, algorithms, max_token_lifetime, one_time_use, emails_verified)`,
		f + `: trustgate.providers.gitlab.issuer: http is allowed only on a loopback host`,
		f + `: trustgate.providers.gitlab.jwks_url: must not carry a query`,
		f + `: trustgate.providers.gitlab.algorithms[0]: want one of RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA, not "HS256"`,
		f + `: trustgate.providers.gitlab.max_token_lifetime: want a duration such as "15m" or "2h", not a number`,
		f + `: trustgate.providers.gitlab.one_time_use: want true or false, not a string`,
		f + `: trustgate.providers.gitlab.emails_verified: want true or false, not a string`,
		f + `: trustgate.providers.nameless.issuer: is required`,
		f + `: trustgate.providers.nameless.platform: want one of gitlab, github, generic, not "bitbucket"`,
		f + `: trustgate.providers.twin-again.issuer: issuer "https://gitlab.example.com" is also provider twin's (in ` + f + `): routing by issuer must be unambiguous`,
		f + `: trustgate.identities.deploy.email: "not an email" is not a plain email address`,
		f + `: trustgate.identities.deploy.scopes[0]: "read write" is not a scope (RFC 6749: printable ASCII without spaces, quotes or backslashes)`,
		f + `: trustgate.identities.deploy.ttl: want a positive duration such as "15m" or "2h", not "15 minutes"`,
		f + `: trustgate.identities.deploy.expires_at: want an RFC 3339 time such as "2027-06-30T00:00:00Z", not "30 June 2027"`,
		f + `: trustgate.identities.deploy.federations[0].environment: unknown key (known: provider, subject, claims, refs, environments)`,
		f + `: trustgate.identities.deploy.federations[0].provider: unknown provider "gitlb" (known: gitlab, nameless, twin, twin-again)`,
		f + `: trustgate.identities.deploy.federations[0].subject: invalid pattern "project_path:[my-group": glob: syntax error at 22: unexpected end of input`,
		f + `: trustgate.identities.deploy.federations[0].claims.ref_protected: want a string pattern or a list of them, not a boolean (quote true, false and numbers: "true")`,
		f + `: trustgate.identities.deploy.federations[0].refs[0]: "main" never matches: a ref is type:name, such as branch:main or tag:v*`,
		f + `: trustgate.identities.lonely.federations: an identity with no federations never matches: add one, or remove the identity`,
		f + `: trustgate.identities.open-door.federations[0]: matches every token of provider twin, whoever's pipeline it is: give a subject or claims naming the project (subject: "**" accepts them all on purpose)`,
		f + `: trustgate.identities.two.email: "shared@workload.example.com" is also identity one's email (in ` + f + `)`,
	}
	got := problemStrings(policy.Check(context.Background(), []string{dir}, options()))
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing problem:\n  %s", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("unexpected problem:\n  %s", g)
		}
	}
	_, err := policy.Load(context.Background(), []string{dir}, options())
	var pe *policy.ProblemsError
	if !errors.As(err, &pe) || len(pe.Problems) != len(got) {
		t.Fatalf("Load refuses with %v, want the %d problems Check reports", err, len(got))
	}
	if !strings.HasPrefix(err.Error(), "22 problems:\n  ") {
		t.Errorf("error text begins %.40q", err.Error())
	}
}

func TestLoadRefusesTheSameNameInTwoBundles(t *testing.T) {
	a := copyDir(t, teamBundle)
	b := bundleDir(t, map[string]string{"data.yaml": `
trustgate:
  providers:
    gitlab:
      issuer: https://gitlab.internal.example
      platform: gitlab
  identities:
    deploy:
      federations:
        - provider: gitlab
          claims: {namespace_path: other}
`})
	ps := policy.Check(context.Background(), []string{a, b}, options())
	af, bf := filepath.Join(a, "data.yaml"), filepath.Join(b, "data.yaml")
	for _, want := range []string{
		bf + ": trustgate.providers.gitlab: provider gitlab is defined in both " + af + " and " + bf,
		bf + ": trustgate.identities.deploy: identity deploy is defined in both " + af + " and " + bf,
	} {
		if !slices.Contains(problemStrings(ps), want) {
			t.Errorf("missing %q in %q", want, problemStrings(ps))
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	valid := readFiles(t, teamBundle)
	with := func(extra map[string]string) map[string]string {
		files := map[string]string{}
		for k, v := range valid {
			files[k] = v
		}
		for k, v := range extra {
			files[k] = v
		}
		return files
	}
	tests := []struct {
		name  string
		files map[string]string // nil: no bundle directory at all
		want  []string          // what one problem says
	}{
		{name: "A bundle that does not exist is refused.", files: nil, want: []string{"bundle: does not exist"}},
		{name: "An empty directory is refused, not served as an empty policy.", files: map[string]string{}, want: []string{"the bundle has no data and no Rego"}},
		{name: "A directory of other files only is refused.", files: map[string]string{"README.md": "# bundle"}, want: []string{"the bundle has no data and no Rego"}},
		{name: "A directory of tests only is refused.", files: map[string]string{"x_test.rego": "package trustgate.custom_test\n\ntest_x if true\n"}, want: []string{"the bundle has no data and no Rego"}},
		{name: "YAML that does not parse is refused with its file.", files: map[string]string{"data.yaml": "trustgate: [unclosed"}, want: []string{"data.yaml: cannot parse"}},
		{name: "An identity defined twice in YAML is refused with both lines, not served with the later block.",
			files: map[string]string{"data.yaml": strings.Replace(valid["data.yaml"], "  identities:\n", "  identities:\n    deploy:\n      federations: [{provider: gitlab, claims: {namespace_path: x}}]\n", 1)},
			want:  []string{"data.yaml: key \"deploy\" is given twice in trustgate.identities, on line"}},
		{name: "A claim given twice deep in a YAML federation is refused with both lines.",
			files: map[string]string{"data.yaml": "trustgate:\n  providers: {gl: {issuer: https://gitlab.com, platform: gitlab}}\n  identities:\n    d:\n      federations:\n        - provider: gl\n          claims:\n            ref_protected: \"true\"\n            ref_protected: \"false\"\n"},
			want:  []string{`data.yaml: key "ref_protected" is given twice in trustgate.identities.d.federations[].claims, on line 8 and on line 9`}},
		{name: "A key given twice in a data.json identity is refused with both lines.",
			files: map[string]string{"data.json": "{\"trustgate\": {\"providers\": {\"gl\": {\"issuer\": \"https://gitlab.com\", \"platform\": \"gitlab\"}},\n\"identities\": {\"d\": {\"scopes\": [\"read\"],\n\"scopes\": [\"admin\"], \"federations\": [{\"provider\": \"gl\", \"subject\": \"x\"}]}}}}"},
			want:  []string{`data.json: key "scopes" is given twice in trustgate.identities.d, on line 2 and on line 3`}},
		{name: "An identity given twice in data.json, spelled once with an escape, is refused.",
			files: map[string]string{"data.json": `{"trustgate": {"identities": {"d": {}, "\u0064": {}}}}`},
			want:  []string{`data.json: key "d" is given twice in trustgate.identities, on line 1 and on line 1`}},
		{name: "A data file that is not a mapping is refused.", files: map[string]string{"data.yaml": "- a\n- b\n"}, want: []string{"data.yaml: the file must hold a mapping"}},
		{name: "Data outside the manifest's roots is refused.", files: with(map[string]string{".manifest": `{"roots": ["trustgate/identities", "trustgate/custom", "trustgate/custom_test"]}`}), want: []string{"data.yaml: trustgate.providers: outside the manifest's roots [\"trustgate/identities\" \"trustgate/custom\" \"trustgate/custom_test\"]"}},
		{name: "Data with no provider and no identity is refused, not served as an empty policy.", files: map[string]string{"data.yaml": "trustgate: {providers: {}, identities: {}}\n"}, want: []string{"trustgate.identities: no identity is defined"}},
		{name: "A trustgate key that is not a mapping is refused.", files: map[string]string{"data.yaml": "trustgate: [providers, identities]\n"}, want: []string{"data.yaml: trustgate: want a mapping, not a list"}},
		{name: "Data without providers and identities is refused.", files: map[string]string{"data.json": `{"trustgate": {"freeze": []}}`}, want: []string{"trustgate.providers: is missing"}},
		{name: "A misspelt top-level key is refused.", files: with(map[string]string{"trustgate/data.yaml": "identity: {}\n"}), want: []string{"trustgate.identity: unknown key; did you mean one of providers, identities, risk_levels?"}},
		{name: "Rego outside package trustgate.custom that could widen a grant is refused.", files: with(map[string]string{"widen.rego": "package trustgate\n\nmatching contains \"deploy\"\n"}), want: []string{"widen.rego:1: package trustgate: bundles may add rules only under package trustgate.custom"}},
		{name: "Rego that does not parse is refused with its line.", files: with(map[string]string{"bad.rego": "package trustgate.custom\n\ndeny contains if {\n"}), want: []string{"bad.rego:3", "rego_parse_error"}},
		{name: "Rego that does not compile is refused with its line.", files: with(map[string]string{"bad.rego": "package trustgate.custom\n\ndeny contains x if {\n\ty := 1\n}\n"}), want: []string{"bad.rego:3", "rego_unsafe_var_error"}},
		{name: "Data at trustgate.index, where the server puts its candidate index, is refused.", files: with(map[string]string{"trustgate/index/data.json": `{"providers": {}}`}), want: []string{"trustgate.index: is reserved"}},
		{name: "Data where a rule lives is refused.", files: with(map[string]string{"trustgate/decision/data.json": `{"allow": true}`}), want: []string{"trustgate.decision: data at data.trustgate.decision clashes with rules"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			if tt.files != nil {
				if err := os.Mkdir(dir, 0o750); err != nil {
					t.Fatal(err)
				}
				writeFiles(t, dir, tt.files)
			}
			_, err := policy.Load(context.Background(), []string{dir}, options())
			var pe *policy.ProblemsError
			if !errors.As(err, &pe) {
				t.Fatalf("Load: %v, want a *ProblemsError", err)
			}
			if !containsProblem(pe.Problems, tt.want...) {
				t.Fatalf("problems %q do not say %q", problemStrings(pe.Problems), tt.want)
			}
		})
	}
}

func TestLoadRefusesAFileThatIsNotABundle(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"data.yaml", "broken.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not a bundle"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ps := policy.Check(context.Background(), []string{filepath.Join(dir, "data.yaml"), filepath.Join(dir, "broken.tar.gz")}, options())
	if !containsProblem(ps, "data.yaml: not a bundle") || !containsProblem(ps, "broken.tar.gz:", "gzip") {
		t.Fatalf("problems %q", problemStrings(ps))
	}
}

func TestLoadRefusesNoBundlesAndTheSameBundleTwice(t *testing.T) {
	if ps := policy.Check(context.Background(), nil, options()); !containsProblem(ps, "no bundles given") {
		t.Errorf("no bundles: %q", problemStrings(ps))
	}
	ps := policy.Check(context.Background(), []string{teamBundle, teamBundle + "/"}, options())
	if !containsProblem(ps, "the bundle is given twice") {
		t.Errorf("twice: %q", problemStrings(ps))
	}
}

func TestIssuerURLsMustBeHTTPSOrLoopbackWhenInsecureIsAllowed(t *testing.T) {
	tests := []struct {
		name     string
		issuer   string
		insecure bool
		ok       bool
	}{
		{name: "An https issuer is accepted.", issuer: "https://gitlab.com", ok: true},
		{name: "An https issuer with a path is accepted.", issuer: "https://idp.example.com/tenant/1", ok: true},
		{name: "An http issuer is refused.", issuer: "http://gitlab.com"},
		{name: "An http issuer is refused even when insecure issuers are allowed.", issuer: "http://gitlab.com", insecure: true},
		{name: "An http loopback issuer is refused by default.", issuer: "http://127.0.0.1:8090"},
		{name: "An http loopback issuer is accepted when insecure issuers are allowed.", issuer: "http://127.0.0.1:8090", insecure: true, ok: true},
		{name: "An http localhost issuer is accepted when insecure issuers are allowed.", issuer: "http://localhost:8090", insecure: true, ok: true},
		{name: "An http IPv6 loopback issuer is accepted when insecure issuers are allowed.", issuer: "http://[::1]:8090", insecure: true, ok: true},
		{name: "A name that only starts like localhost is refused.", issuer: "http://localhost.evil.example", insecure: true},
		{name: "A relative issuer is refused.", issuer: "gitlab.com"},
		{name: "An issuer with user info is refused.", issuer: "https://user@gitlab.com"},
		{name: "Another scheme is refused.", issuer: "ftp://gitlab.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundleDir(t, map[string]string{"data.yaml": `
trustgate:
  providers:
    p:
      issuer: "` + tt.issuer + `"
      jwks_url: "` + tt.issuer + `/keys"
      platform: generic
  identities:
    i:
      federations: [{provider: p, subject: "x"}]
`})
			opts := options()
			opts.AllowInsecureIssuers = tt.insecure
			ps := policy.Check(context.Background(), []string{dir}, opts)
			if tt.ok != (len(ps) == 0) {
				t.Fatalf("problems %q, want ok=%v", problemStrings(ps), tt.ok)
			}
			if !tt.ok && (!containsProblem(ps, "trustgate.providers.p.issuer") || !containsProblem(ps, "trustgate.providers.p.jwks_url")) {
				t.Fatalf("problems %q do not name the issuer and jwks_url", problemStrings(ps))
			}
		})
	}
}

func TestProvidersGetTheirDefaults(t *testing.T) {
	p, err := policy.Load(context.Background(), []string{teamBundle}, options())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		get  func() (*verify.Provider, bool)
		want verify.Provider
	}{
		{
			name: "A provider that names nothing optional gets the server issuer as audience, RS256 and 24h.",
			get:  func() (*verify.Provider, bool) { return p.ProviderByName("gitlab") },
			want: verify.Provider{Name: "gitlab", Issuer: "https://gitlab.com", Platform: "gitlab", Audiences: []string{stsIssuer},
				Algorithms: []string{"RS256"}, MaxTokenLifetime: 24 * time.Hour},
		},
		{
			name: "A provider keeps what its bundle says.",
			get: func() (*verify.Provider, bool) {
				return p.ProviderByIssuer("https://token.actions.githubusercontent.com")
			},
			want: verify.Provider{Name: "github", Issuer: "https://token.actions.githubusercontent.com", Platform: "github",
				Audiences: []string{stsIssuer}, Algorithms: []string{"RS256", "ES256"}, MaxTokenLifetime: 2 * time.Hour, OneTimeUse: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.get()
			if !ok {
				t.Fatal("not found")
			}
			if got.Name != tt.want.Name || got.Issuer != tt.want.Issuer || got.Platform != tt.want.Platform ||
				!slices.Equal(got.Audiences, tt.want.Audiences) || !slices.Equal(got.Algorithms, tt.want.Algorithms) ||
				got.MaxTokenLifetime != tt.want.MaxTokenLifetime || got.OneTimeUse != tt.want.OneTimeUse || got.JWKSURL != tt.want.JWKSURL {
				t.Fatalf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
	if _, ok := p.ProviderByIssuer("https://gitlab.com/"); ok {
		t.Error("issuers must match exactly: a trailing slash found a provider")
	}
	var _ verify.Providers = p
}

func TestProviderAudiencesAreRequiredWithoutAServerIssuer(t *testing.T) {
	ps := policy.Check(context.Background(), []string{teamBundle}, policy.Options{})
	if !containsProblem(ps, "trustgate.providers.gitlab.audiences: is required") || containsProblem(ps, "providers.github.audiences") {
		t.Fatalf("problems %q", problemStrings(ps))
	}
}

func TestIdentityByEmailFindsTheIdentityName(t *testing.T) {
	p, err := policy.Load(context.Background(), []string{teamBundle}, options())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, email, want string
		ok                bool
	}{
		{name: "A known email finds its identity.", email: "deploy@workload.example.com", want: "deploy", ok: true},
		{name: "An unknown email finds nothing.", email: "nobody@workload.example.com"},
		{name: "An identity name is not an email.", email: "deploy"},
		{name: "The empty string finds nothing.", email: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.IdentityByEmail(tt.email)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("IdentityByEmail(%q) = %q, %v", tt.email, got, ok)
			}
		})
	}
}

func TestRevisionsComeFromManifestsOrContent(t *testing.T) {
	withManifest := copyDir(t, teamBundle)
	writeFiles(t, withManifest, map[string]string{".manifest": `{"revision": "v42", "roots": ["trustgate"]}`})
	plain := bundleDir(t, map[string]string{"data.yaml": `
trustgate:
  identities:
    ops:
      ttl: 10m
      federations: [{provider: gitlab, claims: {namespace_path: ops}}]
`})

	before := time.Now()
	p, err := policy.Load(context.Background(), []string{withManifest, plain}, options())
	if err != nil {
		t.Fatal(err)
	}
	revs := p.Revisions()
	if len(revs) != 2 || revs[0] != (policy.Revision{Path: withManifest, Revision: "v42"}) || revs[1].Path != plain ||
		!strings.HasPrefix(revs[1].Revision, "sha256:") || len(revs[1].Revision) != len("sha256:")+16 {
		t.Fatalf("revisions %+v", revs)
	}
	if p.LoadedAt().Before(before) || p.LoadedAt().After(time.Now()) {
		t.Errorf("LoadedAt %v", p.LoadedAt())
	}
	revs[0].Revision = "changed"
	if p.Revisions()[0].Revision != "v42" {
		t.Error("Revisions returned shared state")
	}

	writeFiles(t, plain, map[string]string{"data.yaml": strings.Replace(readFiles(t, plain)["data.yaml"], "ttl: 10m", "ttl: 11m", 1)})
	again, err := policy.Load(context.Background(), []string{withManifest, plain}, options())
	if err != nil {
		t.Fatal(err)
	}
	if again.Revisions()[1].Revision == revs[1].Revision {
		t.Error("the content revision did not change with the content")
	}
}

func TestLibraryParsesTheEmbeddedLibraryWithoutTests(t *testing.T) {
	mods, err := policy.Library()
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) == 0 {
		t.Fatal("no modules")
	}
	for name, m := range mods {
		if strings.HasSuffix(name, "_test.rego") || !strings.HasPrefix(name, "library/trustgate/") {
			t.Errorf("module %s", name)
		}
		if !m.Package.Path.HasPrefix(m.Package.Path[:2]) || m.Package.Path[1].String() != `"trustgate"` {
			t.Errorf("module %s is in %s", name, m.Package)
		}
	}
}

// The engine resolves an email before a name and the library a name before
// an email: an email that is another identity's name would let the two
// grant different identities for one request, so it is refused.
func TestAnEmailThatIsAnotherIdentitysNameIsRefused(t *testing.T) {
	dir := copyDir(t, teamBundle)
	data := readFiles(t, teamBundle)["data.yaml"]
	data = strings.Replace(data, "  identities:\n", "  identities:"+opsIdentity+`    ops@workload.example.com:
      federations: [{provider: gitlab, claims: {namespace_path: other}}]
`, 1)
	writeFiles(t, dir, map[string]string{"data.yaml": data})
	want := filepath.Join(dir, "data.yaml") + `: trustgate.identities.ops.email: "ops@workload.example.com" is also the name of an identity: a caller naming it would be ambiguous`
	if got := problemStrings(policy.Check(context.Background(), []string{dir}, options())); !slices.Contains(got, want) {
		t.Fatalf("problems %q lack\n  %s", got, want)
	}
}
