package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// policyRevisions returns GET /v1/policy's bundle → revision and last error.
func policyRevisions(t *testing.T, base string) (map[string]string, string) {
	t.Helper()
	resp, err := enginetest.Get(t, nil, base+"/v1/policy")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Bundles []struct {
			Bundle, Revision string
		} `json:"bundles"`
		LastError string `json:"last_error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	revs := map[string]string{}
	for _, b := range st.Bundles {
		revs[b.Bundle] = b.Revision
	}
	return revs, st.LastError
}

func metricsText(t *testing.T, base string) string {
	t.Helper()
	resp, err := enginetest.Get(t, nil, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// eventually retries check until it returns "" or the wait is over.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeFollowsARemoteBundleAndReportsItsRevision(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	dir := testBundle(t, iss.URL(), "https://sts.example.com")
	const token = "bundle-server-token"
	srv := enginetest.NewBundleServer(t, enginetest.BundleTarball(t, dir, "r1", nil))
	srv.RequireToken(token)
	bundleURL := srv.URL + "/bundles/team.tar.gz"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: error}\nshutdown_grace: 5s\n"+
		"bundle_polling: {min_delay: 100ms, max_delay: 200ms}\nbundle_credentials: {bearer_token_file: %s}\nbundle_cache_dir: %s\n",
		addr, addr, bundleURL, tokenFile, cache)
	base, stop := startServeConfig(t, cfg)

	if revs, _ := policyRevisions(t, base); revs[bundleURL] != "r1" {
		t.Fatalf("/v1/policy shows %v, want %s at r1", revs, bundleURL)
	}
	for _, want := range []string{
		fmt.Sprintf(`trustgate_policy_revision_info{bundle=%q,policy="live",revision="r1"} 1`, bundleURL),
		fmt.Sprintf(`trustgate_bundle_fetches_total{bundle=%q,outcome="updated"} 1`, bundleURL),
		fmt.Sprintf(`trustgate_bundle_last_fetch_success_timestamp_seconds{bundle=%q}`, bundleURL),
	} {
		if m := metricsText(t, base); !strings.Contains(m, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}

	srv.Set(enginetest.BundleTarball(t, dir, "r2", nil))
	eventually(t, func() string {
		if revs, _ := policyRevisions(t, base); revs[bundleURL] != "r2" {
			return fmt.Sprintf("/v1/policy still shows %v, want r2", revs)
		}
		return ""
	})
	srv.Set([]byte("not a bundle"))
	eventually(t, func() string {
		revs, lastErr := policyRevisions(t, base)
		if revs[bundleURL] != "r2" || !strings.Contains(lastErr, bundleURL) {
			return fmt.Sprintf("/v1/policy shows %v and last error %q, want r2 kept and the refusal", revs, lastErr)
		}
		return ""
	})
	srv.SetDown(true)
	eventually(t, func() string {
		want := fmt.Sprintf(`trustgate_bundle_fetches_total{bundle=%q,outcome="failed"}`, bundleURL)
		if !strings.Contains(metricsText(t, base), want) {
			return "/metrics does not count the failed fetches"
		}
		return ""
	})
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// Restarted while the bundle server is down, it serves the last good download.
	base, _ = startServeConfig(t, cfg)
	if revs, _ := policyRevisions(t, base); revs[bundleURL] != "r2" {
		t.Fatalf("restarted with the server down, /v1/policy shows %v, want the cached r2", revs)
	}
	good := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com"))
	if code, _, errOut := runCLI(t, map[string]string{"T": good}, "exchange", "--url", base, "--token-env", "T"); code != 0 {
		t.Fatalf("an exchange on the cached policy: %s", errOut)
	}
}

func TestServeRefusesToStartWithoutARemoteBundleOrItsCache(t *testing.T) {
	srv := enginetest.NewBundleServer(t, nil)
	srv.SetDown(true)
	addr := freeAddr(t)
	cfg := fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: error}\nstate: {url: \"sqlite:%s\"}\n",
		addr, addr, srv.URL, filepath.Join(t.TempDir(), "state.db"))
	path := filepath.Join(t.TempDir(), "trustgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "serve", "--config", path)
	if code == 0 || !strings.Contains(errOut, "HTTP 503") || !strings.Contains(errOut, "bundle_cache_dir is not set") {
		t.Fatalf("serve exited %d: %s", code, errOut)
	}
}

// bundleSigner is a fresh ES256 bundle signing key and its public key file.
func bundleSigner(t *testing.T) (*enginetest.BundleSigner, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle-signing.pub.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &enginetest.BundleSigner{PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})), Algorithm: "ES256", KeyID: "release"}, path
}

func TestTwoReplicasFollowOneBundleServerAndRefuseTheSameBadBundle(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	dir := testBundle(t, iss.URL(), "https://sts.example.com")
	signer, pubFile := bundleSigner(t)
	srv := enginetest.NewBundleServer(t, enginetest.BundleTarball(t, dir, "r1", signer))
	bundleURL := srv.URL + "/team.tar.gz"
	var replicas []string
	for range 2 {
		addr := freeAddr(t)
		base, _ := startServeConfig(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: error}\n"+
			"bundle_verification: {public_key_file: %s, key_id: release, algorithm: ES256}\n"+
			"bundle_polling: {min_delay: 100ms, max_delay: 200ms}\nbundle_cache_dir: %s\n", addr, addr, bundleURL, pubFile, t.TempDir()))
		replicas = append(replicas, base)
	}
	// everyReplica waits until every replica serves revision want and its
	// last refused reload says refusal ("" for none).
	everyReplica := func(want, refusal string) {
		t.Helper()
		for _, base := range replicas {
			eventually(t, func() string {
				revs, lastErr := policyRevisions(t, base)
				if revs[bundleURL] != want || !strings.Contains(lastErr, refusal) || (refusal == "") != (lastErr == "") {
					return fmt.Sprintf("%s shows %v, last error %q; want %s, refused with %q", base, revs, lastErr, want, refusal)
				}
				return ""
			})
		}
	}
	everyReplica("r1", "")
	srv.Set(enginetest.BundleTarball(t, dir, "r2", signer))
	everyReplica("r2", "")

	other, _ := bundleSigner(t)
	srv.Set(enginetest.BundleTarball(t, dir, "r3", other)) // signed, but not with the trusted key
	everyReplica("r2", "failed to verify JWT signature")
	srv.Set(enginetest.BundleTarball(t, dir, "r4", nil)) // unsigned
	everyReplica("r2", "bundle missing .signatures.json file")
	srv.Set(enginetest.BundleTarball(t, dir, "r5", signer))
	everyReplica("r5", "")
}
