package policy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/trustgate/trustgate/engine/policy"
)

// signingKey is a real key pair, PEM-encoded as `opa sign` and the server
// read them.
type signingKey struct {
	private, public string
	alg             string
}

func newRSAKey(t testing.TB) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return encodeKey(t, k, &k.PublicKey, "RS256")
}

func newECKey(t testing.TB) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return encodeKey(t, k, &k.PublicKey, "ES256")
}

func encodeKey(t testing.TB, priv, pub any, alg string) signingKey {
	t.Helper()
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{
		private: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})),
		public:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pp})),
		alg:     alg,
	}
}

func (k signingKey) options(t testing.TB) policy.Options {
	t.Helper()
	vk, err := policy.ParseVerificationKey([]byte(k.public), "release-key", k.alg)
	if err != nil {
		t.Fatal(err)
	}
	opts := options()
	opts.VerificationKey = vk
	return opts
}

// signDir writes dir/.signatures.json over every file of dir as `opa sign
// --bundle .` run in dir does: structured files hashed as parsed JSON, the
// rest byte for byte.
func signDir(t testing.TB, dir string, k signingKey) {
	t.Helper()
	h, err := bundle.NewSignatureHasher(bundle.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var files []bundle.FileInfo
	for name, content := range readFiles(t, dir) {
		if bundle.IsSignaturesFile(name) {
			continue
		}
		var v any = []byte(content)
		if bundle.IsStructuredDoc(name) {
			if err := util.Unmarshal([]byte(content), &v); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := h.HashFile(v)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, bundle.NewFile(name, hex.EncodeToString(sum), string(bundle.SHA256)))
	}
	token, err := bundle.GenerateSignedToken(files, bundle.NewSigningConfig(k.private, k.alg, ""), "release-key")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"signatures": []string{token}})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{".signatures.json": string(b)})
}

// signedTarball builds dir into a signed .tar.gz with OPA's bundle writer,
// as `opa build -b dir --signing-key` does, and returns its path.
func signedTarball(t testing.TB, dir string, k signingKey) string {
	t.Helper()
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(dir)).WithSkipBundleVerification(true).Read()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.GenerateSignature(bundle.NewSigningConfig(k.private, k.alg, ""), "release-key", true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signed.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // the Write's error is the one that counts
	if err := bundle.NewWriter(f).UseModulePath(true).Write(b); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSignedBundles(t *testing.T) {
	rsaKey, ecKey, otherKey := newRSAKey(t), newECKey(t), newRSAKey(t)
	tests := []struct {
		name   string
		key    signingKey // the server's
		bundle func(t *testing.T) string
		want   string // a problem that refuses it; empty: it loads
	}{
		{
			name: "A directory signed with the key loads.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				dir := copyDir(t, teamBundle)
				signDir(t, dir, rsaKey)
				return dir
			},
		},
		{
			name: "A directory signed with an ES256 key loads.",
			key:  ecKey,
			bundle: func(t *testing.T) string {
				dir := copyDir(t, teamBundle)
				signDir(t, dir, ecKey)
				return dir
			},
		},
		{
			name:   "A tarball built and signed with OPA's bundle writer loads.",
			key:    rsaKey,
			bundle: func(t *testing.T) string { return signedTarball(t, copyDir(t, teamBundle), rsaKey) },
		},
		{
			name:   "An unsigned directory is refused.",
			key:    rsaKey,
			bundle: func(t *testing.T) string { return copyDir(t, teamBundle) },
			want:   "refused: bundle missing .signatures.json file",
		},
		{
			name: "An unsigned tarball is refused.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "unsigned.tar.gz")
				if err := os.WriteFile(path, tarball(t, readFiles(t, teamBundle)), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: "refused: bundle missing .signatures.json file",
		},
		{
			name: "A directory whose data changed after signing is refused.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				dir := copyDir(t, teamBundle)
				signDir(t, dir, rsaKey)
				data := readFiles(t, dir)["data.yaml"]
				writeFiles(t, dir, map[string]string{"data.yaml": strings.Replace(data, "scopes: [read, write]", "scopes: [read, write, admin]", 1)})
				return dir
			},
			want: "data.yaml: digest mismatch",
		},
		{
			name: "A directory with Rego added after signing is refused.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				dir := copyDir(t, teamBundle)
				signDir(t, dir, rsaKey)
				writeFiles(t, dir, map[string]string{"more.rego": "package trustgate.custom\n"})
				return dir
			},
			want: "file more.rego not included in bundle signature",
		},
		{
			name: "A directory with a signed file removed is refused.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				dir := copyDir(t, teamBundle)
				signDir(t, dir, rsaKey)
				if err := os.Remove(filepath.Join(dir, "custom.rego")); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: "specified in bundle signatures but not found",
		},
		{
			name: "A tarball whose data changed after signing is refused.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				signed := signedTarball(t, copyDir(t, teamBundle), rsaKey)
				out := bundleDir(t, nil)
				cmd := exec.CommandContext(t.Context(), "tar", "-xzf", signed, "-C", out)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Skipf("tar: %v: %s", err, b)
				}
				files := readFiles(t, out)
				files["data.json"] = strings.Replace(files["data.json"], `"read"`, `"admin"`, 1)
				path := filepath.Join(t.TempDir(), "tampered.tar.gz")
				if err := os.WriteFile(path, tarball(t, files), 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want: "data.json: digest mismatch",
		},
		{
			name: "A directory signed with another key is refused.",
			key:  rsaKey,
			bundle: func(t *testing.T) string {
				dir := copyDir(t, teamBundle)
				signDir(t, dir, otherKey)
				return dir
			},
			want: "failed to verify JWT signature",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.bundle(t)
			_, err := policy.Load(context.Background(), []string{path}, tt.key.options(t))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *policy.ProblemsError
			if !errors.As(err, &pe) || !containsProblem(pe.Problems, path, tt.want) {
				t.Fatalf("Load: %v\nwant a problem of %s saying %q", err, path, tt.want)
			}
		})
	}
}

func TestSignaturesAreNotCheckedWithoutAKey(t *testing.T) {
	dir := copyDir(t, teamBundle)
	signDir(t, dir, newRSAKey(t))
	if _, err := policy.Load(context.Background(), []string{dir}, options()); err != nil {
		t.Fatal(err)
	}
}

// opaBinary is the opa CLI the Makefile builds into .bin, or one on PATH.
func opaBinary(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("../../.bin/opa"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("opa")
	if err != nil {
		t.Skip("no opa binary: run make .bin/opa")
	}
	return p
}

func TestBundlesSignedByTheOPACommandLoad(t *testing.T) {
	opa := opaBinary(t)
	k := newRSAKey(t)
	keys := t.TempDir()
	writeFiles(t, keys, map[string]string{"private.pem": k.private, "public.pem": k.public})
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), opa, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("opa %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// A directory is signed from inside it, so that the signed names are
	// relative to the bundle wherever it is mounted.
	dir := copyDir(t, teamBundle)
	run(dir, "sign", "--signing-key", filepath.Join(keys, "private.pem"), "--bundle", ".")

	// A tarball: sign the directory, then build it, as the docs describe.
	parent := t.TempDir()
	src := filepath.Join(parent, "team")
	if err := os.CopyFS(src, os.DirFS(teamBundle)); err != nil {
		t.Fatal(err)
	}
	run(parent, "sign", "--signing-key", filepath.Join(keys, "private.pem"), "--bundle", "team", "--output-file-path", "team")
	tgz := filepath.Join(t.TempDir(), "bundle.tar.gz")
	run(parent, "build", "--bundle", "team", "--signing-key", filepath.Join(keys, "private.pem"),
		"--verification-key", filepath.Join(keys, "public.pem"), "--output", tgz)

	// A tarball built and signed in one step from an unsigned directory,
	// as docs/policy-guide.md shows.
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.CopyFS(plain, os.DirFS(teamBundle)); err != nil {
		t.Fatal(err)
	}
	oneStep := filepath.Join(t.TempDir(), "one-step.tar.gz")
	run(filepath.Dir(plain), "build", "-b", "plain/", "--signing-key", filepath.Join(keys, "private.pem"), "--signing-alg", "RS256", "-o", oneStep)

	opts := k.options(t)
	for _, path := range []string{dir, tgz, oneStep} {
		if _, err := policy.Load(context.Background(), []string{path}, opts); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	// Signed from its parent, a directory's names carry the path: refused,
	// with a hint.
	if _, err := policy.Load(context.Background(), []string{src}, opts); err == nil || !strings.Contains(err.Error(), "sign a directory from inside it") {
		t.Errorf("a directory signed from its parent: %v", err)
	}
	writeFiles(t, dir, map[string]string{"custom.rego": "package trustgate.custom\n"})
	if _, err := policy.Load(context.Background(), []string{dir}, opts); !errors.Is(err, policy.ErrLoad) {
		t.Errorf("a tampered directory: %v", err)
	}
}

func TestParseVerificationKey(t *testing.T) {
	rsaKey, ecKey := newRSAKey(t), newECKey(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pem  string
		alg  string
		ok   bool
	}{
		{name: "An RSA public key verifies RS256.", pem: rsaKey.public, alg: "RS256", ok: true},
		{name: "An RSA public key verifies PS256.", pem: rsaKey.public, alg: "PS256", ok: true},
		{name: "An EC P-256 public key verifies ES256.", pem: ecKey.public, alg: "ES256", ok: true},
		{name: "The algorithm defaults to RS256.", pem: rsaKey.public, alg: "", ok: true},
		{name: "A P-384 key does not verify ES256.", pem: encodeKey(t, p384, &p384.PublicKey, "ES384").public, alg: "ES256"},
		{name: "An RSA key does not verify ES256.", pem: rsaKey.public, alg: "ES256"},
		{name: "An EC key does not verify RS256.", pem: ecKey.public, alg: "RS256"},
		{name: "HS256 is refused: a public key is no shared secret.", pem: rsaKey.public, alg: "HS256"},
		{name: "A private key is refused.", pem: rsaKey.private, alg: "RS256"},
		{name: "An RSA key under 2048 bits is refused.", pem: encodeKey(t, small, &small.PublicKey, "RS256").public, alg: "RS256"},
		{name: "Text that is not PEM is refused.", pem: "not a key", alg: "RS256"},
		{name: "Two PEM blocks are refused.", pem: rsaKey.public + ecKey.public, alg: "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := policy.ParseVerificationKey([]byte(tt.pem), "", tt.alg)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseVerificationKey: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (k.KeyID != "default" || !slices.Contains([]string{"RS256", "PS256", "ES256"}, k.Algorithm)) {
				t.Fatalf("key %+v", k)
			}
		})
	}
}

func TestLoadRefusesAnHMACVerificationKeyBuiltByHand(t *testing.T) {
	k := newRSAKey(t)
	dir := copyDir(t, teamBundle)
	signDir(t, dir, k)
	opts := options()
	opts.VerificationKey = &policy.VerificationKey{KeyID: "release-key", Algorithm: "HS256", PEM: k.public}
	var pe *policy.ProblemsError
	if _, err := policy.Load(context.Background(), []string{dir}, opts); !errors.As(err, &pe) || !containsProblem(pe.Problems, "HS256") {
		t.Fatalf("Load: %v", err)
	}
}

func TestLoadVerificationKeyReadsAFile(t *testing.T) {
	k := newECKey(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"public.pem": k.public})
	vk, err := policy.LoadVerificationKey(filepath.Join(dir, "public.pem"), "kid", "ES256")
	if err != nil || vk.KeyID != "kid" || vk.Algorithm != "ES256" || vk.PEM != k.public {
		t.Fatalf("LoadVerificationKey = %+v, %v", vk, err)
	}
	if _, err := policy.LoadVerificationKey(filepath.Join(dir, "missing.pem"), "kid", "ES256"); err == nil {
		t.Fatal("a missing file loaded")
	}
}
