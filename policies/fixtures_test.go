package policies_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/trustgate/trustgate/engine/ciclaims"
)

// fixtures reads testdata/fixtures/claims.json, numbers as json.Number.
func fixtures(t *testing.T) map[string]map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "fixtures", "claims.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read only
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var doc struct {
		Fixtures map[string]map[string]any `json:"fixtures"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Fixtures
}

// TestDevDemoFixtureIsTheDevIssuersDefaultToken keeps the fixture the
// example bundle's demo identity is tested with equal to what `trustgate
// dev-issuer` mints by default (apart from the times and jti it adds).
func TestDevDemoFixtureIsTheDevIssuersDefaultToken(t *testing.T) {
	got := fixtures(t)["gitlab_dev_demo"]
	if got == nil {
		t.Fatal("claims.json has no gitlab_dev_demo fixture")
	}
	want := ciclaims.GitLabClaims("http://127.0.0.1:8090", "http://127.0.0.1:8080")
	for k, v := range want {
		if n, ok := v.(int); ok {
			v = json.Number(strconv.Itoa(n))
		}
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("claim %s: fixture %#v, dev issuer %#v", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && k != "iat" && k != "nbf" && k != "exp" && k != "jti" {
			t.Errorf("the fixture has claim %s, which the dev issuer does not mint", k)
		}
	}
}

// TestFixturesHaveTheShapesThePlatformsEmit checks the fields the Rego tests
// rely on: GitLab's ids and ref_protected are strings, times are numbers,
// GitHub refs are full refs.
func TestFixturesHaveTheShapesThePlatformsEmit(t *testing.T) {
	for name, claims := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"iss", "sub", "aud", "iat", "nbf", "exp"} {
				if _, ok := claims[k]; !ok {
					t.Errorf("no %s", k)
				}
			}
			for _, k := range []string{"iat", "nbf", "exp"} {
				if _, ok := claims[k].(json.Number); !ok {
					t.Errorf("%s is %T, want a JSON number", k, claims[k])
				}
			}
			iss, _ := claims["iss"].(string)
			switch iss {
			case "https://token.actions.githubusercontent.com":
				for _, k := range []string{"repository", "repository_owner", "ref", "event_name"} {
					if _, ok := claims[k].(string); !ok {
						t.Errorf("GitHub claim %s is %T, want a string", k, claims[k])
					}
				}
			default:
				for _, k := range []string{"namespace_id", "namespace_path", "project_id", "project_path", "pipeline_id", "pipeline_source", "job_id", "ref", "ref_type", "ref_protected"} {
					if _, ok := claims[k].(string); !ok {
						t.Errorf("GitLab claim %s is %T, want a string", k, claims[k])
					}
				}
			}
		})
	}
}
