# federation_matches alone decides; federation_failures only words a miss.
# These tests hold the two to each other over every fixture and federations
# of every shape, so the words can never say "matched" for a federation that
# did not match, nor list no failure for one that did not.
package trustgate_test

import data.fixtures
import data.trustgate

# shapes are federations of every condition kind, matching some fixtures
# and not others, well-formed and not (the engine refuses the malformed
# ones at load; the library must still agree with itself on them).
shapes := [
	{"provider": "gitlab"},
	{"provider": "github"},
	{"claims": {"project_path": "my-group/app"}},
	{"provider": "gitlab", "subject": "project_path:my-group/*:ref_type:*:ref:*"},
	{"provider": "gitlab", "subject": "repo:acme/*"},
	{"provider": "github", "subject": "repo:acme/service:*"},
	{"provider": "gitlab", "claims": {"namespace_path": "my-group", "ref_protected": "true"}},
	{"provider": "gitlab", "claims": {"project_path": ["my-group/docs", "my-group/app"]}},
	{"provider": "gitlab", "claims": {"project_path": [1, "my-group/*"]}},
	{"provider": "gitlab", "claims": {"runner_id": "1"}},
	{"provider": "gitlab", "claims": {"runner_id": 1}},
	{"provider": "gitlab", "claims": {"environment": "production"}},
	{"provider": "gitlab", "claims": "my-group"},
	{"provider": "gitlab", "refs": ["branch:main", "tag:v*"]},
	{"provider": "github", "refs": ["branch:main", "tag:v*", "pull:*"]},
	{"provider": "gitlab", "refs": ["branch:feature/*"]},
	{"provider": "gitlab", "environments": ["production"]},
	{"provider": "github", "environments": ["prod*"]},
	{
		"provider": "gitlab", "subject": "project_path:platform/**",
		"claims": {"ref_protected": "true"}, "refs": ["branch:main"], "environments": ["production"],
	},
]

providers := {"gitlab": {"name": "gitlab", "issuer": "https://gitlab.com", "platform": "gitlab"}, "github": {
	"name": "github",
	"issuer": "https://token.actions.githubusercontent.com", "platform": "github",
}}

# verdicts are, per fixture and shape, whether the federation matches and
# whether its failures are empty, from both providers' point of view.
verdicts contains [name, i, p, matches, no_failures] if {
	some name, claims in fixtures
	some i, fed in shapes
	some p, provider in providers
	matches := trustgate.federation_matches(fed) with input as {"token": claims, "provider": provider}
	no_failures := count(trustgate.federation_failures(fed)) == 0 with input as {"token": claims, "provider": provider}
}

verdicts contains [name, i, p, false, no_failures] if {
	some name, claims in fixtures
	some i, fed in shapes
	some p, provider in providers
	not trustgate.federation_matches(fed) with input as {"token": claims, "provider": provider}
	no_failures := count(trustgate.federation_failures(fed)) == 0 with input as {"token": claims, "provider": provider}
}

test_a_federation_matches_exactly_when_it_has_no_failures if {
	disagreements := {v | some v in verdicts; v[3] != v[4]}
	disagreements == set()
}

test_the_agreement_is_over_matches_and_misses_alike if {
	# Neither side is vacuous: some pairs match and some do not.
	count({v | some v in verdicts; v[3] == true}) > 5
	count({v | some v in verdicts; v[3] == false}) > 5
	count(verdicts) == (count(fixtures) * count(shapes)) * count(providers)
}
