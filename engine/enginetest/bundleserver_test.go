package enginetest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/policy"
)

func get(t *testing.T, url, ifNoneMatch, auth string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestBundleServerSpeaksTheBundleProtocol(t *testing.T) {
	s := enginetest.NewBundleServer(t, []byte("v1"))
	s.RequireToken("tok")
	if r := get(t, s.URL, "", ""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %d, want 401", r.StatusCode)
	}
	first := get(t, s.URL, "", "Bearer tok")
	etag := first.Header.Get("ETag")
	if first.StatusCode != http.StatusOK || etag == "" {
		t.Fatalf("first GET: %d with ETag %q, want 200 with an ETag", first.StatusCode, etag)
	}
	if r := get(t, s.URL, etag, "Bearer tok"); r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match of the current ETag: %d, want 304", r.StatusCode)
	}
	s.Set([]byte("v2"))
	if r := get(t, s.URL, etag, "Bearer tok"); r.StatusCode != http.StatusOK || r.Header.Get("ETag") == etag {
		t.Fatalf("after Set: %d with ETag %q, want 200 with a new ETag", r.StatusCode, r.Header.Get("ETag"))
	}
	s.SetDown(true)
	if r := get(t, s.URL, "", "Bearer tok"); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("down: %d, want 503", r.StatusCode)
	}
	if n := len(s.Requests()); n != 5 || s.Count(http.StatusNotModified) != 1 {
		t.Fatalf("recorded %d requests and %d 304s, want 5 and 1", n, s.Count(http.StatusNotModified))
	}
}

func TestBundleTarballIsSignedAsTheServerVerifies(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	dir := t.TempDir()
	data := "trustgate:\n  providers:\n    ci: {issuer: https://ci.example.com, platform: gitlab, audiences: [https://sts.test]}\n" +
		"  identities:\n    deploy: {federations: [{provider: ci, claims: {project_path: team/app}}]}\n"
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	body := enginetest.BundleTarball(t, dir, "r7", &enginetest.BundleSigner{
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})), Algorithm: "ES256", KeyID: "release",
	})
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	vk, err := policy.ParseVerificationKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), "release", "ES256")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(context.Background(), []string{path}, policy.Options{ServerIssuer: "https://sts.test", VerificationKey: vk})
	if err != nil {
		t.Fatal(err)
	}
	if revs := p.Revisions(); len(revs) != 1 || revs[0].Revision != "r7" {
		t.Fatalf("revisions %v, want r7", revs)
	}
}
