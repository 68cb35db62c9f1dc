// Package ciclaims holds the claim sets GitLab CI and GitHub Actions put in
// their ID tokens, for the dev issuer and for tests: one place for the
// shapes both mint. The sets are the JSON documents gitlab.json and
// github.json, as a token's payload would decode, without iss and aud.
package ciclaims

import (
	"bytes"
	_ "embed"
	"encoding/json"
)

var (
	//go:embed gitlab.json
	gitlab []byte
	//go:embed github.json
	github []byte
)

// GitLabClaims are the claims of a GitLab CI id_token for a job on the
// protected main branch of demo-group/demo-project.
func GitLabClaims(iss, aud string) map[string]any {
	return decode(gitlab, iss, aud)
}

// GitHubClaims are the claims of a GitHub Actions OIDC token for a workflow
// on main of demo-org/demo-repo.
func GitHubClaims(iss, aud string) map[string]any {
	return decode(github, iss, aud)
}

// decode is a fresh copy of an embedded claim set, numbers kept as
// json.Number, with iss and aud set.
func decode(doc []byte, iss, aud string) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		panic("ciclaims: embedded claim set: " + err.Error()) // a build defect, caught by the package's test
	}
	c["iss"], c["aud"] = iss, aud
	return c
}
