package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/mint"
	"github.com/trustgate/trustgate/engine/state/pgtest"
)

// replicaBundle has two providers: `once`, whose tokens are one-time use
// (needs the state store), and `plain`, whose tokens are not (needs none).
func replicaBundle(t *testing.T, once, plain string) string {
	t.Helper()
	dir := t.TempDir()
	data := fmt.Sprintf(`trustgate:
  providers:
    once: {issuer: %s, platform: gitlab, audiences: [https://sts.example.com], algorithms: [RS256, ES256], one_time_use: true}
    plain: {issuer: %s, platform: gitlab, audiences: [https://sts.example.com], algorithms: [RS256, ES256]}
  identities:
    deploy:
      roles: [deployer]
      scopes: [read]
      audiences: [https://api.example.com]
      federations:
        - {provider: once, claims: {ref_protected: "true"}, refs: ["branch:main"]}
        - {provider: plain, claims: {ref_protected: "true"}, refs: ["branch:main"]}
`, once, plain)
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ownCluster starts a PostgreSQL cluster for this test alone, one it may
// stop and start, until the test ends.
func ownCluster(t *testing.T) *pgtest.Cluster {
	t.Helper()
	pg.Require(t)
	db, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// replicaSecrets writes what replicas share and keep secret: a signing key
// file and db's password file.
func replicaSecrets(t *testing.T, db *pgtest.Cluster) (keyFile, pwFile string) {
	t.Helper()
	key, err := mint.Generate("ES256")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "signing.pem")
	writeKey(t, keyFile, key)
	pwFile = filepath.Join(t.TempDir(), "db-password")
	if err := os.WriteFile(pwFile, []byte(db.Password()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, pwFile
}

// replica is one `trustgate serve` process.
type replica struct {
	base   string
	stderr *lockedWriter
}

// buildTrustgate builds this package's binary once per test.
func buildTrustgate(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trustgate")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startReplica runs bin serve with cfg until the test ends (SIGTERM, then
// a wait) and waits until it is ready.
func startReplica(t *testing.T, bin, addr, cfg string) *replica {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trustgate.yaml")
	if err := os.WriteFile(path, []byte(withoutShutdownDelay(cfg)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &replica{base: "http://" + addr, stderr: &lockedWriter{w: &bytes.Buffer{}}}
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Dir = t.TempDir()
	cmd.Stderr, cmd.Stdout = r.stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v on SIGTERM", r.base, err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%s did not stop on SIGTERM", r.base)
		}
	})
	waitReady(t, r.base)
	return r
}

// lockedWriter lets the process's output be read while it is written.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// exchangeStatus posts an RFC 8693 exchange of token to base and returns
// the status and, on 200, the access token.
func exchangeStatus(t *testing.T, base, token string) (int, string) {
	t.Helper()
	resp, err := httpPostForm(t, base+"/oauth2/token", url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
		"subject_token":      {token},
		"identity":           {"deploy"},
	})
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.AccessToken
}

// introspectStatus returns the status of an introspection of token at base and
// whether it said active.
func introspectStatus(t *testing.T, base, token string) (int, bool) {
	t.Helper()
	resp, err := httpPostForm(t, base+"/oauth2/introspect", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Active bool `json:"active"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Active
}

// TestTwoServeProcessesShareOneDatabaseOneBundleServerAndOneKey runs two
// real `trustgate serve` binaries on one PostgreSQL, one bundle server and
// one signing key file (DESIGN §12), and checks what only shared state can
// make true: one-time use across replicas, revocation across replicas
// within a second, the same policy revision everywhere, and a database
// outage that refuses only what needs state.
func TestTwoServeProcessesShareOneDatabaseOneBundleServerAndOneKey(t *testing.T) {
	db := ownCluster(t) // this test stops it
	bin := buildTrustgate(t)
	once, plain := enginetest.NewIssuer(t), enginetest.NewIssuer(t)
	dir := replicaBundle(t, once.URL(), plain.URL())
	signer, pubFile := bundleSigner(t)
	srv := enginetest.NewBundleServer(t, enginetest.BundleTarball(t, dir, "r1", signer))
	bundleURL := srv.URL + "/team.tar.gz"
	keyFile, pwFile := replicaSecrets(t, db)
	var a, b *replica
	for _, r := range []**replica{&a, &b} {
		addr := freeAddr(t)
		*r = startReplica(t, bin, addr, fmt.Sprintf(`issuer: https://sts.example.com
listen: %s
bundles: [%s]
allow_insecure_issuers: true
bundle_verification: {public_key_file: %s, key_id: release, algorithm: ES256}
bundle_polling: {min_delay: 100ms, max_delay: 200ms}
bundle_cache_dir: %s
signing: {algorithm: ES256, key_file: %s}
state: {url: %q, password_file: %s}
log: {level: warn}
shutdown_grace: 2s
`, addr, bundleURL, pubFile, t.TempDir(), keyFile, db.URLWithoutPassword(pgtest.Database), pwFile))
	}
	replicas := []*replica{a, b}
	oneTime := func() string {
		return once.Mint(t, enginetest.GitLabClaims(once.URL(), "https://sts.example.com"))
	}

	t.Run("A one-time token used on A is refused on B", func(t *testing.T) {
		tok := oneTime()
		if got, _ := exchangeStatus(t, a.base, tok); got != http.StatusOK {
			t.Fatalf("first use on A: %d, want 200", got)
		}
		if got, _ := exchangeStatus(t, b.base, tok); got != http.StatusBadRequest {
			t.Fatalf("second use on B: %d, want 400", got)
		}
	})

	t.Run("Fifty concurrent uses of one one-time token across both replicas issue exactly one token", func(t *testing.T) {
		tok := oneTime()
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, _ := exchangeStatus(t, replicas[i%2].base, tok)
				mu.Lock()
				counts[got]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if counts[http.StatusOK] != 1 || counts[http.StatusBadRequest] != 49 {
			t.Fatalf("statuses %v, want exactly one 200 and 49 400s", counts)
		}
	})

	t.Run("A token issued by A and revoked on B is inactive on A within one second", func(t *testing.T) {
		_, issued := exchangeStatus(t, a.base, plain.Mint(t, enginetest.GitLabClaims(plain.URL(), "https://sts.example.com")))
		if _, active := introspectStatus(t, a.base, issued); !active {
			t.Fatal("the issued token is not active on A")
		}
		if _, active := introspectStatus(t, b.base, issued); !active {
			t.Fatal("A's token is not active on B: the replicas do not share the key")
		}
		resp, err := httpPostForm(t, b.base+"/oauth2/revoke", url.Values{"token": {issued}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke on B: %d", resp.StatusCode)
		}
		revokedAt := time.Now()
		for {
			if _, active := introspectStatus(t, a.base, issued); !active {
				break
			}
			if time.Since(revokedAt) > time.Second {
				t.Fatal("the token is still active on A one second after B revoked it")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("A bundle change reaches both replicas and a tampered bundle is refused by both", func(t *testing.T) {
		srv.Set(enginetest.BundleTarball(t, dir, "r2", signer))
		everyReplicaServes(t, replicas, bundleURL, "r2", "")
		other, _ := bundleSigner(t)
		srv.Set(enginetest.BundleTarball(t, dir, "r3", other))
		everyReplicaServes(t, replicas, bundleURL, "r2", "failed to verify JWT signature")
		if got, _ := exchangeStatus(t, a.base, oneTime()); got != http.StatusOK {
			t.Fatalf("after the refused bundle A answers %d, want 200 from the last good policy", got)
		}
	})

	t.Run("With PostgreSQL stopped what needs state answers 503 and the rest 200, and both recover", func(t *testing.T) {
		_, issued := exchangeStatus(t, b.base, plain.Mint(t, enginetest.GitLabClaims(plain.URL(), "https://sts.example.com")))
		if err := db.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, r := range replicas {
			if got, tok := exchangeStatus(t, r.base, oneTime()); got != http.StatusServiceUnavailable || tok != "" {
				t.Errorf("%s: one-time exchange with the database down: %d, want 503 and no token", r.base, got)
			}
			if got, active := introspectStatus(t, r.base, issued); got != http.StatusServiceUnavailable || active {
				t.Errorf("%s: introspection with the database down: %d active=%v, want 503, never active", r.base, got, active)
			}
			if got, _ := exchangeStatus(t, r.base, plain.Mint(t, enginetest.GitLabClaims(plain.URL(), "https://sts.example.com"))); got != http.StatusOK {
				t.Errorf("%s: plain exchange with the database down: %d, want 200", r.base, got)
			}
			if got := status(t, r.base+"/readyz"); got != http.StatusOK {
				t.Errorf("%s: /readyz with the database down: %d, want 200", r.base, got)
			}
		}
		if err := db.Start(); err != nil {
			t.Fatal(err)
		}
		for _, r := range replicas {
			eventually(t, func() string {
				if got, _ := exchangeStatus(t, r.base, oneTime()); got != http.StatusOK {
					return fmt.Sprintf("%s: one-time exchange after the database came back: %d", r.base, got)
				}
				if got, active := introspectStatus(t, r.base, issued); got != http.StatusOK || !active {
					return fmt.Sprintf("%s: introspection after the database came back: %d active=%v", r.base, got, active)
				}
				return ""
			})
		}
	})
	for _, r := range replicas {
		checkNoTokenLogged(t, r.stderr.String())
	}
}

// everyReplicaServes waits until every replica serves revision want of
// bundleURL with a last refused reload saying refusal ("" for none).
func everyReplicaServes(t *testing.T, replicas []*replica, bundleURL, want, refusal string) {
	t.Helper()
	for _, r := range replicas {
		eventually(t, func() string {
			revs, lastErr := policyRevisions(t, r.base)
			if revs[bundleURL] != want || !strings.Contains(lastErr, refusal) || (refusal == "") != (lastErr == "") {
				return fmt.Sprintf("%s shows %v, last error %q; want %s, refused with %q", r.base, revs, lastErr, want, refusal)
			}
			return ""
		})
	}
}

func status(t *testing.T, u string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkNoTokenLogged fails when a log holds something shaped like a
// compact JWS (three base64url segments, the first a JSON header).
func checkNoTokenLogged(t *testing.T, logs string) {
	t.Helper()
	if strings.Contains(logs, "eyJ") {
		t.Errorf("a replica logged a token-shaped string:\n%s", logs)
	}
}
