package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/filewatch"
	"github.com/trustgate/trustgate/engine/mint"
)

func writeKey(t *testing.T, path string, k mint.Key) {
	t.Helper()
	pem, err := mint.EncodeKey(k)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // as a Secret update or an operator's mv does
		t.Fatal(err)
	}
}

func jwksKids(t *testing.T, base string) map[string]bool {
	t.Helper()
	resp, err := enginetest.Get(t, nil, base+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k.Kid] = true
	}
	return kids
}

func TestSigningKeysRotateWithoutARestart(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	bundle := testBundle(t, iss.URL(), "https://sts.example.com")
	keys := t.TempDir()
	gen := func() mint.Key {
		k, err := mint.Generate(mint.ES256)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	oldest, a, b := gen(), gen(), gen()
	cur, prev := filepath.Join(keys, "current.pem"), filepath.Join(keys, "previous.pem")
	writeKey(t, cur, a)
	writeKey(t, prev, oldest)

	addr := freeAddr(t)
	base := "http://" + addr
	cfg := fmt.Sprintf("issuer: %s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: error}\n"+
		"signing: {algorithm: ES256, key_file: %s, previous_key_files: [%s]}\n", base, addr, bundle, cur, prev)
	url, _ := startServeConfig(t, cfg)

	if kids := jwksKids(t, url); !kids[a.ID] || !kids[oldest.ID] || len(kids) != 2 {
		t.Fatalf("JWKS kids %v, want the current and previous keys", kids)
	}
	good := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com"))
	code, before, errOut := runCLI(t, map[string]string{"T": good}, "exchange", "--url", url, "--token-env", "T")
	if code != 0 {
		t.Fatalf("exchange before rotation: %s", errOut)
	}

	// Rotate: a becomes previous, b current.
	writeKey(t, prev, a)
	writeKey(t, cur, b)
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids := jwksKids(t, url)
		if kids[b.ID] && kids[a.ID] && !kids[oldest.ID] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after rotation the JWKS has %v, want %s and %s only", kids, b.ID, a.ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, after, _ := runCLI(t, map[string]string{"T": good}, "exchange", "--url", url, "--token-env", "T", "--format", "json")
	if code != 0 {
		t.Fatal("exchange after rotation failed")
	}
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(after), &resp)
	if kid := headerKid(t, resp.AccessToken); kid != b.ID {
		t.Fatalf("new tokens carry kid %s, want the new key %s", kid, b.ID)
	}
	// A token signed before the rotation still works until it expires.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+trimNL(before))
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("a token of the previous key: %v %v", r.Status, err)
	}
	r.Body.Close()
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func headerKid(t *testing.T, raw string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	seg := raw
	for i := range seg {
		if seg[i] == '.' {
			seg = seg[:i]
			break
		}
	}
	b, err := base64RawURL(seg)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(b, &h)
	return h.Kid
}

// keyFiles writes cur and prev as key files and returns a keySource over
// them and the paths.
func keyFiles(t *testing.T, cur mint.Key, prev ...mint.Key) (*keySource, string, []string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Signing{Algorithm: cur.Algorithm, KeyFile: filepath.Join(dir, "current.pem")}
	writeKey(t, cfg.KeyFile, cur)
	for i, k := range prev {
		path := filepath.Join(dir, fmt.Sprintf("previous-%d.pem", i))
		writeKey(t, path, k)
		cfg.PreviousKeyFiles = append(cfg.PreviousKeyFiles, path)
	}
	ks, err := newKeySource(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	return ks, cfg.KeyFile, cfg.PreviousKeyFiles
}

func newKey(t *testing.T) mint.Key {
	t.Helper()
	k, err := mint.Generate(mint.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func kidsOf(r *mint.KeyRing) []string {
	var kids []string
	for _, k := range r.JWKS().Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestKeyReloadPicksUpAReplacedPreviousKeyWithTheSameCount(t *testing.T) {
	cur, old, replacement := newKey(t), newKey(t), newKey(t)
	ks, _, prev := keyFiles(t, cur, old)
	var got []*mint.KeyRing
	writeKey(t, prev[0], replacement)
	ks.reload(func(r *mint.KeyRing) { got = append(got, r) })
	if len(got) != 1 {
		t.Fatalf("the ring was handed out %d times, want once", len(got))
	}
	if kids := kidsOf(got[0]); !slices.Equal(kids, []string{cur.ID, replacement.ID}) {
		t.Fatalf("published kids %v, want the current key and the replacement previous key", kids)
	}
}

func TestKeyReloadLeavesTheSameKeysAlone(t *testing.T) {
	cur, prev := newKey(t), newKey(t)
	ks, curFile, _ := keyFiles(t, cur, prev)
	writeKey(t, curFile, cur) // rewritten, same key
	ks.reload(func(r *mint.KeyRing) { t.Fatalf("an unchanged ring was handed out: %v", kidsOf(r)) })
}

func TestKeyReloadKeepsTheCurrentRingWhenAFileIsBroken(t *testing.T) {
	cur, prev := newKey(t), newKey(t)
	ks, _, prevFiles := keyFiles(t, cur, prev)
	if err := os.WriteFile(prevFiles[0], []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	ks.reload(func(r *mint.KeyRing) { t.Fatalf("a ring was handed out from a broken file: %v", kidsOf(r)) })
	if kids := kidsOf(ks.ring()); !slices.Equal(kids, []string{cur.ID, prev.ID}) {
		t.Fatalf("the ring now publishes %v, want the last good keys", kids)
	}
}

func TestTheKeyWatcherEndsWhenItsFileWatcherStops(t *testing.T) {
	ks, curFile, _ := keyFiles(t, newKey(t))
	fw, err := filewatch.New(filewatch.Config{Paths: []string{curFile}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ks.follow(context.Background(), fw, func(*mint.KeyRing) {}) }()
	if err := fw.Close(); err != nil { // closes the event and error channels
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, filewatch.ErrStopped) {
			t.Fatalf("the key watcher returned %v, want ErrStopped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the key watcher kept going after its event channel closed")
	}
}

func TestServePublishesAReplacedPreviousKeyWithoutARestart(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	bundle := testBundle(t, iss.URL(), "https://sts.example.com")
	cur, old, replacement := newKey(t), newKey(t), newKey(t)
	_, curFile, prev := keyFiles(t, cur, old)
	addr := freeAddr(t)
	url, _ := startServeConfig(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: error}\n"+
		"signing: {algorithm: ES256, key_file: %s, previous_key_files: [%s]}\n", addr, addr, bundle, curFile, prev[0]))
	writeKey(t, prev[0], replacement)
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids := jwksKids(t, url)
		if kids[cur.ID] && kids[replacement.ID] && !kids[old.ID] && len(kids) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the JWKS still has %v, want %s and %s only", kids, cur.ID, replacement.ID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// whoamiStatus is GET /v1/whoami's status for token on base.
func whoamiStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReplicasOnTheSameKeyFilesTrustEachOthersTokensThroughARotation(t *testing.T) {
	iss := enginetest.NewIssuer(t)
	bundle := testBundle(t, iss.URL(), "https://sts.example.com")
	a, b := newKey(t), newKey(t)
	_, cur, prev := keyFiles(t, a, newKey(t))
	// One issuer for both, as behind a load balancer: replica A's URL. Each
	// listens on its own port.
	addrs := []string{freeAddr(t), freeAddr(t)}
	issuer := "http://" + addrs[0]
	var replicas []string
	for _, addr := range addrs {
		startServeConfig(t, fmt.Sprintf("issuer: %s\nlisten: %s\nbundles: [%s]\nallow_insecure_issuers: true\nlog: {level: error}\n"+
			"signing: {algorithm: ES256, key_file: %s, previous_key_files: [%s]}\n", issuer, addr, bundle, cur, prev[0]))
		replicas = append(replicas, "http://"+addr)
	}
	waitReady(t, replicas[1]) // startServeConfig waited for the issuer's address: replica A
	exchange := func(on string) string {
		t.Helper()
		good := iss.Mint(t, enginetest.GitLabClaims(iss.URL(), "https://sts.example.com"))
		code, out, errOut := runCLI(t, map[string]string{"T": good}, "exchange", "--url", on, "--token-env", "T")
		if code != 0 {
			t.Fatalf("exchange on %s: %s", on, errOut)
		}
		return trimNL(out)
	}
	fromA := exchange(replicas[0])
	if code := whoamiStatus(t, replicas[1], fromA); code != http.StatusOK {
		t.Fatalf("a token issued by replica A gets %d on replica B", code)
	}

	writeKey(t, prev[0], a) // rotate on the shared files: a becomes previous, b current
	writeKey(t, cur, b)
	for _, base := range replicas {
		deadline := time.Now().Add(10 * time.Second)
		for kids := jwksKids(t, base); !kids[a.ID] || !kids[b.ID] || len(kids) != 2; kids = jwksKids(t, base) {
			if time.Now().After(deadline) {
				t.Fatalf("%s publishes %v after the rotation, want %s and %s", base, kids, b.ID, a.ID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fromB := exchange(replicas[1])
	if kid := headerKid(t, fromB); kid != b.ID {
		t.Fatalf("replica B signs with %s after the rotation, want %s", kid, b.ID)
	}
	for _, tok := range []string{fromA, fromB} {
		for _, base := range replicas {
			if code := whoamiStatus(t, base, tok); code != http.StatusOK {
				t.Fatalf("after the rotation a token of kid %s gets %d on %s", headerKid(t, tok), code, base)
			}
		}
	}
}

// waitReady waits until base answers /readyz with 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := enginetest.Get(t, nil, base+"/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready", base)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
