package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names of what the generated bundle holds.
const (
	loadProvider  = "gitlab"
	loadAudience  = "https://api.example.com"
	projectFormat = "load-group/project-%d"
	identityFmt   = "project-%d-deploy"
)

// writeBundle writes a bundle of n identities, one per GitLab project, each
// federated on that project's exact project_path (and a protected main
// branch or a v* tag), as a security team with one identity per project
// keeps them. Its one provider is the load's issuer. The bundle is
// generated for each run, never committed.
func writeBundle(dir, issuer, stsIssuer string, n int) error {
	raw, err := bundleData(issuer, stsIssuer, n, 0)
	if err != nil {
		return err
	}
	return replaceData(dir, raw)
}

// bundleData is the data.json of writeBundle, where version changes one
// identity's scopes (the first's: read and write, or read only when
// version is odd), as an operator's edit of one identity does.
func bundleData(issuer, stsIssuer string, n, version int) ([]byte, error) {
	ids := make(map[string]any, n)
	for i := range n {
		scopes := []string{"read", "write"}
		if i == 0 && version%2 == 1 {
			scopes = scopes[:1]
		}
		ids[fmt.Sprintf(identityFmt, i)] = map[string]any{
			"roles":     []string{"deployer"},
			"scopes":    scopes,
			"audiences": []string{loadAudience},
			"ttl":       "15m",
			"federations": []any{map[string]any{
				"provider": loadProvider,
				"claims": map[string]any{
					"project_path":  fmt.Sprintf(projectFormat, i),
					"ref_protected": "true",
				},
				"refs": []string{"branch:main", "tag:v*"},
			}},
		}
	}
	data := map[string]any{"trustgate": map[string]any{
		"providers": map[string]any{loadProvider: map[string]any{
			"issuer":    issuer,
			"platform":  "gitlab",
			"audiences": []string{stsIssuer},
		}},
		"identities": ids,
	}}
	return json.Marshal(data)
}

// replaceData replaces dir's data.json with raw in one rename, as an
// editor or a deployment does, so a running server never reads half a
// file.
func replaceData(dir string, raw []byte) error {
	tmp := filepath.Join(dir, ".data.json.tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "data.json"))
}

// The URLs make run's example bundle names for its dev issuer and server.
const (
	devIssuerURL = "http://127.0.0.1:8090"
	devServerURL = "http://127.0.0.1:8080"
)

// copyBundle copies the files of the bundle directory src (not its tests
// nor subdirectories) to dst, with the dev issuer's and the server's URLs
// of make run rewritten to issuer and server: the example bundle as make
// run serves it, on the load's ports.
func copyBundle(src, dst, issuer, server string) error {
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer func() { _ = from.Close() }() // read only
	to, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer func() { _ = to.Close() }() // each write's error is checked
	entries, err := fs.ReadDir(from.FS(), ".")
	if err != nil {
		return err
	}
	r := strings.NewReplacer(devIssuerURL, issuer, devServerURL, server)
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), "_test.rego") {
			continue
		}
		b, err := from.ReadFile(e.Name())
		if err != nil {
			return err
		}
		if err := to.WriteFile(e.Name(), []byte(r.Replace(string(b))), 0o600); err != nil {
			return err
		}
	}
	return nil
}
