package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// claimFixtures reads the claim fixtures the Rego tests use
// (testdata/fixtures/claims.json), by name, and loads the example bundle
// with the embedded library.
func claimFixtures(t *testing.T) (map[string]json.RawMessage, *policy.Policy) {
	t.Helper()
	raw, err := os.ReadFile("../testdata/fixtures/claims.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Fixtures map[string]json.RawMessage `json:"fixtures"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(context.Background(), []string{"../bundles/example"}, policy.Options{ServerIssuer: "https://sts.example.com", AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	return doc.Fixtures, pol
}

// The claim fixtures the Rego tests use (testdata/fixtures/claims.json) run
// here through the Go path: strict claim values, engine.Input, the example
// bundle compiled with the embedded library.
func TestClaimFixturesDecideTheSameInGo(t *testing.T) {
	fixtures, pol := claimFixtures(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		fixture, identity string
		allow             bool
	}{
		{"gitlab_main_protected", "gitlab-ci-deploy", true},
		{"gitlab_release_tag", "gitlab-ci-deploy", true},
		{"gitlab_feature_branch", "gitlab-ci-deploy", false},
		{"gitlab_production_deploy", "production-deployer", true},
		{"github_push_main", "github-release", true},
		{"github_pull_request", "github-release", false},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			// The server's one strict parse, as for a verified payload.
			claims, err := verify.ParseClaims(fixtures[tc.fixture])
			if err != nil {
				t.Fatal(err)
			}
			prov, ok := pol.ProviderByIssuer(claims["iss"].(string))
			if !ok {
				t.Fatalf("no provider for %v", claims["iss"])
			}
			d, err := pol.Evaluate(context.Background(), engine.Input(pol, prov, claims, engine.Request{Identity: tc.identity}, now))
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.allow {
				t.Fatalf("allow = %v (reasons %v), want %v", d.Allow, d.Reasons, tc.allow)
			}
			if tc.allow && d.Identity != tc.identity {
				t.Fatalf("granted identity %q, want %s", d.Identity, tc.identity)
			}
		})
	}
}

// TestAnUnnamedExchangeGrantsWhatNamingTheOneMatchingIdentityGrants holds the
// candidate index to the full match: for every fixture, each identity of
// the example bundle is named in turn; with no name, the decision must
// grant the one identity that matched when named, and deny when none or
// several did. An index that left out an identity that can match fails it.
func TestAnUnnamedExchangeGrantsWhatNamingTheOneMatchingIdentityGrants(t *testing.T) {
	fixtures, pol := claimFixtures(t)
	var data struct {
		Trustgate struct {
			Identities map[string]json.RawMessage `json:"identities"`
		} `json:"trustgate"`
	}
	yml, err := os.ReadFile("../bundles/example/data.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(yml, &data); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	granted := 0
	for name, payload := range fixtures {
		t.Run(name, func(t *testing.T) {
			claims, err := verify.ParseClaims(payload)
			if err != nil {
				t.Fatal(err)
			}
			prov, ok := pol.ProviderByIssuer(claims["iss"].(string))
			if !ok {
				t.Skipf("no provider of the example bundle has iss %v", claims["iss"])
			}
			decide := func(identity string) policy.Decision {
				d, err := pol.Evaluate(context.Background(), engine.Input(pol, prov, claims, engine.Request{Identity: identity}, now))
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			var matched []string
			for id := range data.Trustgate.Identities {
				if decide(id).Allow {
					matched = append(matched, id)
				}
			}
			d := decide("")
			switch {
			case len(matched) == 1 && (!d.Allow || d.Identity != matched[0]):
				t.Fatalf("unnamed: allow=%v identity=%q reasons=%v; named, only %s matched", d.Allow, d.Identity, d.Reasons, matched[0])
			case len(matched) != 1 && d.Allow:
				t.Fatalf("unnamed: granted %s; named, %v matched", d.Identity, matched)
			case len(matched) == 1:
				granted++
			}
		})
	}
	if granted < 4 {
		t.Fatalf("only %d fixtures are granted an identity: the test proves little", granted)
	}
}
