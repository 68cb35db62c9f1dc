package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	ids := make(map[string]any, n)
	for i := range n {
		ids[fmt.Sprintf(identityFmt, i)] = map[string]any{
			"roles":     []string{"deployer"},
			"scopes":    []string{"read", "write"},
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
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "data.json"), raw, 0o600)
}
