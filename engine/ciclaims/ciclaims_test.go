package ciclaims

import (
	"encoding/json"
	"testing"
)

func TestEachClaimSetDecodesWithIssAudAndThePlatformsTypes(t *testing.T) {
	for name, claims := range map[string]func(string, string) map[string]any{"gitlab": GitLabClaims, "github": GitHubClaims} {
		t.Run(name, func(t *testing.T) {
			c := claims("https://issuer.example", "https://sts.example")
			if c["iss"] != "https://issuer.example" || c["aud"] != "https://sts.example" {
				t.Errorf("iss %v, aud %v", c["iss"], c["aud"])
			}
			if _, ok := c["sub"].(string); !ok {
				t.Errorf("sub is %T", c["sub"])
			}
			if c["ref_protected"] != "true" {
				t.Errorf("ref_protected is %#v, want the string the platforms send", c["ref_protected"])
			}
		})
	}
	if n, ok := GitLabClaims("i", "a")["runner_id"].(json.Number); !ok || n != "1" {
		t.Errorf("GitLab's runner_id is %#v, want the JSON number 1", GitLabClaims("i", "a")["runner_id"])
	}
	if id, ok := GitLabClaims("i", "a")["project_id"].(string); !ok || id != "20" {
		t.Errorf("GitLab's project_id is %#v, want the string GitLab sends", id)
	}
}

func TestEachCallIsAFreshCopy(t *testing.T) {
	first := GitLabClaims("i", "a")
	first["project_path"] = "changed"
	if got := GitLabClaims("i", "a")["project_path"]; got != "demo-group/demo-project" {
		t.Errorf("a caller's change leaked into the next call: %v", got)
	}
}
