# Tests of data.trustgate.explain (engine/policy/explain.go's shape), and
# that a denial's reasons are the explanation's failures.
# Helpers (deploy, main, request, ...) are decision_test.rego's.
package trustgate_test

import data.fixtures
import data.trustgate

explain_with(claims, identity, identities) := ex if {
	ex := trustgate.explain with input as {"token": claims, "provider": gitlab, "request": request(identity, [], []), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as identities
}

two_feds := {"x": object.union(deploy, {"federations": [
	{"provider": "github", "claims": {"repository": "acme/service"}},
	{"provider": "gitlab", "claims": {"project_path": "my-group/*"}, "refs": ["branch:main"]},
]})}

test_explain_is_exactly_the_explanation_shape if {
	explain_with(fixtures.gitlab_feature_branch, "x", two_feds) == {"identities": {"x": {
		"matched": false,
		"expired": false,
		"just_in_time": false,
		"grant_failures": [],
		"federations": [
			{"index": 0, "provider": "github", "matched": false, "failures": ["the token is from provider gitlab, not github"]},
			{"index": 1, "provider": "gitlab", "matched": false, "failures": ["ref `branch:feature/login` is not one of branch:main"]},
		],
	}}}
}

test_explain_marks_the_matching_federation if {
	ex := explain_with(main, "x", two_feds)
	ex.identities.x.matched == true
	ex.identities.x.federations[0].matched == false
	ex.identities.x.federations[1] == {"index": 1, "provider": "gitlab", "matched": true, "failures": []}
}

test_explain_with_no_name_covers_every_identity if {
	ids := {
		"deploy": deploy,
		"gh": {"federations": [{"provider": "github", "claims": {"repository": "acme/service"}}]},
		"old": object.union(deploy, {"email": "old@x", "expires_at": "2026-01-01T00:00:00Z"}),
	}
	ex := explain_with(main, "", ids)
	object.keys(ex.identities) == {"deploy", "gh", "old"}
	ex.identities.deploy.matched == true
	ex.identities.gh.matched == false
	ex.identities.old == {"matched": false, "expired": true, "just_in_time": false, "grant_failures": [], "federations": [{"index": 0, "provider": "gitlab", "matched": true, "failures": []}]}
}

test_explain_of_an_email_is_keyed_by_the_identity_name if {
	ex := explain_with(main, "deploy@workload.example.com", {"deploy": deploy, "other": object.union(deploy, {"email": "o@x"})})
	object.keys(ex.identities) == {"deploy"}
	ex.identities.deploy.matched == true
}

test_explain_of_an_unknown_name_is_empty if {
	explain_with(main, "nobody", {"deploy": deploy}) == {"identities": {}}
}

test_explain_of_an_identity_without_federations if {
	explain_with(main, "x", {"x": object.remove(deploy, ["federations"])}) == {"identities": {"x": {"matched": false, "expired": false, "just_in_time": false, "grant_failures": [], "federations": []}}}
}

test_the_reasons_of_a_denial_are_the_explanations_failures if {
	ex := explain_with(fixtures.gitlab_feature_branch, "x", two_feds)
	d := decide(fixtures.gitlab_feature_branch, gitlab, "x", two_feds)
	d.reasons == sort([sprintf("identity x, federation %d (provider %s): %s", [f.index, f.provider, failure]) |
		some f in ex.identities.x.federations
		some failure in f.failures
	])
}

test_with_no_name_only_this_providers_federations_are_reasons if {
	d := decide(fixtures.gitlab_feature_branch, gitlab, "", two_feds)
	d.reasons == [
		"identity x, federation 1 (provider gitlab): ref `branch:feature/login` is not one of branch:main",
		"no identity accepts this token from provider gitlab",
	]
}
