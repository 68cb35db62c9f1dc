package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// widened is testBundle's data with the ref restriction dropped.
func widened(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "data.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(b), `          refs: ["branch:main"]`+"\n", "", 1)
}

// tarGz writes files as a .tar.gz bundle and returns its path.
func tarGz(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "head.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDiffCommand(t *testing.T) {
	base := testBundle(t, "https://gitlab.com", "https://sts.example.com")
	head := tarGz(t, map[string]string{"data.yaml": widened(t, base)})
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "data.yaml"), []byte("trustgate: [unclosed"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The example bundle has loopback http issuers: serve loads it only
	// with allow_insecure_issuers, and so does diff given serve's config.
	devConfig := filepath.Join(t.TempDir(), "trustgate.yaml")
	if err := os.WriteFile(devConfig, []byte("issuer: http://127.0.0.1:8080\nallow_insecure_issuers: true\nbundles: [../../bundles/example]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example := "../../bundles/example"
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // each must appear
		stderr   string
		noStdout bool
	}{
		{name: "The same bundle on both sides is no new access and exits 0.",
			args: []string{"--base", base, "--head", base}, code: 0, stdout: []string{"no new access: 0 changes"}},
		{name: "A dropped ref restriction in a tarball head is new access, exits 1 and names the example.",
			args: []string{"--base", base, "--head", head}, code: 1,
			stdout: []string{"NEW ACCESS", "identity deploy", "refs removed: widens", "any ref"}},
		{name: "--fail-on none prints the new access and exits 0.",
			args: []string{"--base", base, "--head", head, "--fail-on", "none"}, code: 0, stdout: []string{"NEW ACCESS"}},
		{name: "The markdown format is a summary line, then a table per identity.",
			args: []string{"--base", base, "--head", head, "--format", "markdown"}, code: 1,
			stdout: []string{"### ⚠️ trustgate diff: NEW ACCESS", "#### Identity `deploy` (changed): widens", "| change | before | after | effect |", "| ↳ refs removed |"}},
		{name: "A head that does not load is an error: exit 2, nothing on stdout.",
			args: []string{"--base", base, "--head", broken}, code: 2, stderr: "head does not load", noStdout: true},
		{name: "A base that does not exist is an error.",
			args: []string{"--base", filepath.Join(base, "missing"), "--head", base}, code: 2, stderr: "base does not load", noStdout: true},
		{name: "Bundles serve loads only with its config's allow_insecure_issuers load with --config.",
			args: []string{"--config", devConfig, "--base", example, "--head", example}, code: 0, stdout: []string{"no new access"}},
		{name: "Without that config they do not load, as serve would not load them.",
			args: []string{"--base", example, "--head", example}, code: 2, stderr: "http on a loopback host is allowed only with allow_insecure_issuers", noStdout: true},
		{name: "--config with --issuer is a usage error.", args: []string{"--config", devConfig, "--issuer", "https://x", "--base", base, "--head", base},
			code: 2, stderr: "give --config or --issuer", noStdout: true},
		{name: "Both sides given this binary's library as --base-library and --head-library load as by default.",
			args: []string{"--base", base, "--head", base, "--base-library", "../../policies", "--head-library", "../../policies"}, code: 0, stdout: []string{"no new access"}},
		{name: "A head run with an empty library does not load: --head-library is the library head runs with.",
			args: []string{"--base", base, "--head", base, "--head-library", t.TempDir()}, code: 2, stderr: "head does not load", noStdout: true},
		{name: "A --base-library that is no directory is an error.",
			args: []string{"--base", base, "--head", base, "--base-library", "diff_test.go"}, code: 2, stderr: "--base-library diff_test.go: not a directory", noStdout: true},
		{name: "No head is a usage error, exit 2.", args: []string{"--base", base}, code: 2, stderr: "give at least one --base and one --head", noStdout: true},
		{name: "An unknown format is a usage error, exit 2.", args: []string{"--base", base, "--head", base, "--format", "xml"}, code: 2, stderr: "--format", noStdout: true},
		{name: "An unknown --fail-on is a usage error, exit 2.", args: []string{"--base", base, "--head", base, "--fail-on", "sometimes"}, code: 2, stderr: "--fail-on", noStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"diff"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.code, out, errOut)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out, want) {
					t.Fatalf("stdout does not say %q:\n%s", want, out)
				}
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("stderr %q does not say %q", errOut, tt.stderr)
			}
			if tt.noStdout && out != "" {
				t.Fatalf("stdout %q, want nothing", out)
			}
		})
	}
}

func TestDiffCommandWritesJSON(t *testing.T) {
	base := testBundle(t, "https://gitlab.com", "https://sts.example.com")
	head := tarGz(t, map[string]string{"data.yaml": widened(t, base)})
	code, out, errOut := runCLI(t, nil, "diff", "--base", base, "--head", head, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var r struct {
		NewAccess  bool   `json:"new_access"`
		Effect     string `json:"effect"`
		Identities []struct {
			Name    string `json:"name"`
			Changes []struct {
				Conditions []struct {
					What, Effect, Example string
				} `json:"conditions"`
			} `json:"changes"`
		} `json:"identities"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !r.NewAccess || r.Effect != "widens" || len(r.Identities) != 1 || r.Identities[0].Name != "deploy" {
		t.Fatalf("report %+v", r)
	}
	c := r.Identities[0].Changes[0].Conditions[0]
	if c.What != "refs" || c.Effect != "widens" || c.Example != "any ref" {
		t.Fatalf("condition %+v, want refs widening with example \"any ref\"", c)
	}
}
