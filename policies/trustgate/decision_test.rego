# Tests of the library's decision: every rule of DESIGN §3, each allow with
# the denies around it. Fixtures are GitLab and GitHub claim sets in the
# shapes those platforms emit (testdata/fixtures/claims.json).
package trustgate_test

import data.fixtures
import data.trustgate

gitlab := {"name": "gitlab", "issuer": "https://gitlab.com", "platform": "gitlab"}

github := {"name": "github", "issuer": "https://token.actions.githubusercontent.com", "platform": "github"}

deploy := {
	"email": "deploy@workload.example.com",
	"roles": ["deployer"],
	"scopes": ["read", "write"],
	"audiences": ["https://api.example.com", "https://other.example.com"],
	"ttl": "15m",
	"federations": [{
		"provider": "gitlab",
		"claims": {"namespace_path": "my-group", "ref_protected": "true"},
		"refs": ["branch:main", "tag:v*"],
	}],
}

request(identity, scopes, audiences) := {"identity": identity, "scopes": scopes, "audiences": audiences, "client_ip": "192.0.2.1"}

# decide evaluates the decision for claims from provider, asking for identity,
# with only the identities given.
decide(claims, provider, identity, identities) := d if {
	d := trustgate.decision with input as {"token": claims, "provider": provider, "request": request(identity, [], []), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as identities
}

decide_req(claims, req, identities) := d if {
	d := trustgate.decision with input as {"token": claims, "provider": gitlab, "request": req, "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as identities
}

with_claims(base, patch) := object.union(base, patch)

one_fed(fed) := {"x": object.union(deploy, {"federations": [fed]})}

main := fixtures.gitlab_main_protected

test_protected_main_is_granted_everything_the_identity_has if {
	d := decide(main, gitlab, "deploy", {"deploy": deploy})
	d.allow == true
	d.identity == "deploy"
	d.subject == "deploy@workload.example.com"
	d.roles == ["deployer"]
	d.scopes == ["read", "write"]
	d.audiences == ["https://api.example.com"]
	d.ttl_seconds == 900
	d.reasons == []
}

test_the_string_false_is_not_true if {
	d := decide(with_claims(main, {"ref_protected": "false"}), gitlab, "deploy", {"deploy": deploy})
	d.allow == false
	"identity deploy, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true" in d.reasons
}

test_an_absent_claim_never_matches if {
	d := decide(object.remove(main, ["ref_protected"]), gitlab, "deploy", {"deploy": deploy})
	d.allow == false
	"identity deploy, federation 0 (provider gitlab): claim `ref_protected` is absent" in d.reasons
}

test_a_boolean_claim_matches_only_its_json_text if {
	decide(with_claims(main, {"ref_protected": true}), gitlab, "deploy", {"deploy": deploy}).allow == true
	decide(with_claims(main, {"ref_protected": false}), gitlab, "deploy", {"deploy": deploy}).allow == false
}

test_a_number_claim_matches_only_its_json_text if {
	ids := one_fed({"provider": "gitlab", "claims": {"runner_id": "1"}})
	decide(main, gitlab, "x", ids).allow == true
	decide(with_claims(main, {"runner_id": 10}), gitlab, "x", ids).allow == false
	ids2 := one_fed({"provider": "gitlab", "claims": {"runner_id": "0*"}})
	decide(main, gitlab, "x", ids2).allow == false
}

test_another_group_is_refused if {
	d := decide(with_claims(main, {"namespace_path": "other-group"}), gitlab, "deploy", {"deploy": deploy})
	d.allow == false
	"identity deploy, federation 0 (provider gitlab): claim `namespace_path` is `other-group`, not my-group" in d.reasons
}

test_a_prefix_look_alike_group_is_refused if {
	decide(with_claims(main, {"namespace_path": "my-group-evil"}), gitlab, "deploy", {"deploy": deploy}).allow == false
	decide(with_claims(main, {"namespace_path": "my-group/sub"}), gitlab, "deploy", {"deploy": deploy}).allow == false
}

test_star_stays_within_one_path_segment if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_path": "my-group/*"}})
	decide(main, gitlab, "x", ids).allow == true
	decide(with_claims(main, {"project_path": "my-group/sub/app"}), gitlab, "x", ids).allow == false
	decide(with_claims(main, {"project_path": "my-group-evil/app"}), gitlab, "x", ids).allow == false
}

test_double_star_crosses_path_segments if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_path": "my-group/**"}})
	decide(with_claims(main, {"project_path": "my-group/sub/app"}), gitlab, "x", ids).allow == true
	decide(with_claims(main, {"project_path": "other/sub/app"}), gitlab, "x", ids).allow == false
}

test_question_mark_is_one_character if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_id": "2?"}})
	decide(main, gitlab, "x", ids).allow == true
	decide(with_claims(main, {"project_id": "200"}), gitlab, "x", ids).allow == false
}

test_a_claim_list_accepts_any_of_its_patterns if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_path": ["my-group/docs", "my-group/app"]}})
	decide(main, gitlab, "x", ids).allow == true
	decide(with_claims(main, {"project_path": "my-group/other"}), gitlab, "x", ids).allow == false
}

test_every_claim_of_a_federation_must_match if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_path": "my-group/app", "pipeline_source": "push"}})
	decide(main, gitlab, "x", ids).allow == true
	decide(with_claims(main, {"pipeline_source": "merge_request_event"}), gitlab, "x", ids).allow == false
}

test_subject_glob if {
	ids := one_fed({"provider": "gitlab", "subject": "project_path:my-group/*:ref_type:branch:ref:main"})
	decide(main, gitlab, "x", ids).allow == true
	d := decide(fixtures.gitlab_feature_branch, gitlab, "x", ids)
	d.allow == false
	"identity x, federation 0 (provider gitlab): sub `project_path:my-group/app:ref_type:branch:ref:feature/login` does not match project_path:my-group/*:ref_type:branch:ref:main" in d.reasons
}

test_gitlab_refs if {
	decide(fixtures.gitlab_release_tag, gitlab, "deploy", {"deploy": deploy}).allow == true
	d := decide(with_claims(fixtures.gitlab_feature_branch, {"ref_protected": "true"}), gitlab, "deploy", {"deploy": deploy})
	d.allow == false
	"identity deploy, federation 0 (provider gitlab): ref `branch:feature/login` is not one of branch:main, tag:v*" in d.reasons
	decide(with_claims(fixtures.gitlab_release_tag, {"ref": "release-1"}), gitlab, "deploy", {"deploy": deploy}).allow == false
	decide(with_claims(main, {"ref_type": "tag"}), gitlab, "deploy", {"deploy": deploy}).allow == false
}

test_a_token_without_a_ref_fails_a_refs_condition if {
	d := decide(object.remove(main, ["ref", "ref_type"]), gitlab, "deploy", {"deploy": deploy})
	d.allow == false
	"identity deploy, federation 0 (provider gitlab): the token has no ref" in d.reasons
}

gh_release := {"x": {"scopes": ["read"], "federations": [{"provider": "github", "claims": {"repository": "acme/service"}, "refs": ["branch:main", "tag:v*"]}]}}

test_github_refs if {
	decide(fixtures.github_push_main, github, "x", gh_release).allow == true
	decide(with_claims(fixtures.github_push_main, {"ref": "refs/tags/v2.0.0"}), github, "x", gh_release).allow == true
	decide(with_claims(fixtures.github_push_main, {"ref": "refs/heads/dev"}), github, "x", gh_release).allow == false
	d := decide(fixtures.github_pull_request, github, "x", gh_release)
	d.allow == false
	"identity x, federation 0 (provider github): ref `pull:42/merge` is not one of branch:main, tag:v*" in d.reasons
}

test_github_pull_request_refs_can_be_allowed_explicitly if {
	ids := {"x": {"federations": [{"provider": "github", "refs": ["pull:*/merge"]}]}}
	decide(fixtures.github_pull_request, github, "x", ids).allow == true
}

prod := one_fed({"provider": "gitlab", "environments": ["production"]})

test_environments if {
	decide(with_claims(main, {"environment": "production"}), gitlab, "x", prod).allow == true
	d := decide(with_claims(main, {"environment": "staging"}), gitlab, "x", prod)
	d.allow == false
	"identity x, federation 0 (provider gitlab): environment `staging` is not one of production" in d.reasons
	e := decide(main, gitlab, "x", prod)
	e.allow == false
	"identity x, federation 0 (provider gitlab): the token has no environment" in e.reasons
}

test_a_federation_of_another_provider_does_not_match if {
	d := decide(fixtures.github_push_main, github, "deploy", {"deploy": deploy})
	d.allow == false
	"identity deploy, federation 0 (provider gitlab): the token is from provider github, not gitlab" in d.reasons
}

test_any_one_matching_federation_is_enough if {
	ids := {"x": {"federations": [
		{"provider": "gitlab", "claims": {"project_path": "nope/nope"}},
		{"provider": "gitlab", "claims": {"project_path": "my-group/app"}},
	]}}
	decide(main, gitlab, "x", ids).allow == true
}

test_an_expired_identity_never_matches if {
	ids := {"x": object.union(deploy, {"expires_at": "2026-11-23T09:59:59Z"})}
	d := decide(main, gitlab, "x", ids)
	d.allow == false
	d.reasons == ["identity x expired at 2026-11-23T09:59:59Z"]
	ids2 := {"x": object.union(deploy, {"expires_at": "2026-11-23T10:00:01Z"})}
	decide(main, gitlab, "x", ids2).allow == true
}

test_an_identity_with_no_federations_never_matches if {
	ids := {"x": object.remove(deploy, ["federations"])}
	d := decide(main, gitlab, "x", ids)
	d.allow == false
	"identity x has no federations" in d.reasons
	decide(main, gitlab, "", ids).allow == false
	decide(main, gitlab, "", {"x": object.union(deploy, {"federations": []})}).allow == false
}

test_the_caller_may_name_the_identity_by_email if {
	d := decide(main, gitlab, "deploy@workload.example.com", {"deploy": deploy})
	d.allow == true
	d.identity == "deploy"
}

test_an_unknown_name_is_refused if {
	d := decide(main, gitlab, "nobody", {"deploy": deploy})
	d.allow == false
	d.reasons == ["no identity is named nobody or has it as email"]
}

test_with_no_name_the_one_match_is_used if {
	d := decide(main, gitlab, "", {"deploy": deploy, "other": object.union(deploy, {"email": "o@x", "federations": [{"provider": "github"}]})})
	d.allow == true
	d.identity == "deploy"
}

test_with_no_name_two_matches_are_ambiguous if {
	d := decide(main, gitlab, "", {"a": deploy, "b": object.union(deploy, {"email": "b@x"})})
	d.allow == false
	d.reasons == ["ambiguous: identities a, b all accept this token; name one"]
}

test_with_no_name_and_no_match_the_reasons_say_why if {
	d := decide(fixtures.gitlab_feature_branch, gitlab, "", {"deploy": deploy})
	d.allow == false
	"no identity accepts this token from provider gitlab" in d.reasons
	"identity deploy, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true" in d.reasons
}

test_requested_scopes_narrow_the_grant if {
	d := decide_req(main, request("deploy", ["read"], []), {"deploy": deploy})
	d.allow == true
	d.scopes == ["read"]
}

test_a_scope_the_identity_lacks_is_invalid_scope if {
	d := decide_req(main, request("deploy", ["read", "admin"], []), {"deploy": deploy})
	d.allow == false
	d.error == "invalid_scope"
	d.reasons == ["scope admin is not granted to identity deploy"]
}

test_requested_audiences_must_be_allowed if {
	d := decide_req(main, request("deploy", [], ["https://other.example.com"]), {"deploy": deploy})
	d.allow == true
	d.audiences == ["https://other.example.com"]
	e := decide_req(main, request("deploy", [], ["https://evil.example.com"]), {"deploy": deploy})
	e.allow == false
	e.error == "invalid_target"
}

test_a_policy_deny_is_not_classified_as_scope_or_target if {
	d := decide_req(fixtures.gitlab_feature_branch, request("deploy", ["admin"], []), {"deploy": deploy})
	d.allow == false
	d.error == ""
}

test_an_identity_without_ttl_or_email_or_audiences if {
	ids := {"x": {"scopes": ["read"], "federations": [{"provider": "gitlab"}]}}
	d := decide(main, gitlab, "x", ids)
	d.allow == true
	d.subject == "x"
	d.ttl_seconds == 0
	d.audiences == []
	d.roles == []
}

test_a_custom_deny_overrides_a_matching_federation if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("deploy", [], []), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as {"deploy": deploy}
		with data.trustgate.custom.deny as {"change freeze"}
	d.allow == false
	d.reasons == ["change freeze"]
	d.error == ""
}

test_the_decision_is_an_object_even_with_no_identities if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as {}
	d.allow == false
	count(d.reasons) > 0
}

test_explain_names_each_federation if {
	ex := trustgate.explain with input as {"token": fixtures.gitlab_feature_branch, "provider": gitlab, "request": request("deploy", [], []), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as {"deploy": deploy, "other": deploy}
	object.keys(ex.identities) == {"deploy"}
	f := ex.identities.deploy.federations[0]
	f.matched == false
	f.provider == "gitlab"
	f.failures == ["claim `ref_protected` is `false`, not true", "ref `branch:feature/login` is not one of branch:main, tag:v*"]
	ex.identities.deploy.matched == false
	ex.identities.deploy.expired == false
}

test_a_denied_decision_names_no_identity if {
	decide(with_claims(main, {"ref_protected": "false"}), gitlab, "deploy", {"deploy": deploy}).identity == ""
	decide(main, gitlab, "nobody", {"deploy": deploy}).identity == ""

	# Named but not matching, while exactly one other identity matches.
	other := object.union(deploy, {"email": "o@x", "federations": [{"provider": "gitlab"}]})
	d := decide(with_claims(main, {"ref_protected": "false"}), gitlab, "deploy", {"deploy": deploy, "other": other})
	d.allow == false
	d.identity == ""
}

test_a_named_identity_is_used_even_when_others_match_too if {
	d := decide(main, gitlab, "a", {"a": deploy, "b": object.union(deploy, {"email": "b@x"})})
	d.allow == true
	d.identity == "a"
}

test_an_empty_name_or_email_is_not_a_name if {
	ids := {"x": object.union(deploy, {"email": ""})}
	d := decide(main, gitlab, "", ids)
	d.allow == true
	d.identity == "x"
	d.subject == "x"
}

test_an_expired_identity_is_not_chosen_when_none_is_named if {
	ids := {"old": object.union(deploy, {"expires_at": "2026-01-01T00:00:00Z"})}
	d := decide(main, gitlab, "", ids)
	d.allow == false
	d.reasons == ["no identity accepts this token from provider gitlab"]
}

test_an_expired_identity_lists_no_federation_failures if {
	ids := {"x": object.union(deploy, {"expires_at": "2026-01-01T00:00:00Z"})}
	d := decide(fixtures.gitlab_feature_branch, gitlab, "x", ids)
	d.reasons == ["identity x expired at 2026-01-01T00:00:00Z"]
}

test_ambiguity_is_not_explained_with_other_identities_failures if {
	ids := {"a": deploy, "b": object.union(deploy, {"email": "b@x"}), "c": object.union(deploy, {"email": "c@x", "federations": [{"provider": "gitlab", "claims": {"project_path": "nope"}}]})}
	d := decide(main, gitlab, "", ids)
	d.reasons == ["ambiguous: identities a, b all accept this token; name one"]
}

test_unnamed_denials_explain_only_live_identities_of_this_provider if {
	ids := {
		"deploy": deploy,
		"gh": {"federations": [{"provider": "github", "claims": {"repository": "acme/service"}}]},
		"old": object.union(deploy, {"email": "old@x", "expires_at": "2026-01-01T00:00:00Z"}),
	}
	d := decide(fixtures.gitlab_feature_branch, gitlab, "", ids)
	d.allow == false
	every r in d.reasons {
		not startswith(r, "identity gh,")
		not startswith(r, "identity old,")
	}
	"identity deploy, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true" in d.reasons
}

test_a_custom_deny_is_not_classified_as_scope_or_target if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("deploy", ["admin"], ["https://evil.example.com"]), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as {"deploy": deploy}
		with data.trustgate.custom.deny as {"blocked"}
	d.allow == false
	d.error == ""
}

test_a_scope_error_wins_over_an_audience_error if {
	d := decide_req(main, request("deploy", ["admin"], ["https://evil.example.com"]), {"deploy": deploy})
	d.error == "invalid_scope"
}

test_a_gitlab_ref_is_never_read_as_a_github_ref if {
	ids := one_fed({"provider": "gitlab", "refs": ["branch:main"]})
	d := decide(with_claims(main, {"ref": "refs/heads/main"}), gitlab, "x", ids)
	d.allow == false
	"identity x, federation 0 (provider gitlab): ref `branch:refs/heads/main` is not one of branch:main" in d.reasons
}

test_a_quoted_pattern_does_not_match_a_string_claim if {
	ids := one_fed({"provider": "gitlab", "claims": {"ref": "\"main\""}})
	decide(main, gitlab, "x", ids).allow == false
}

test_a_non_string_claim_is_shown_as_its_json_text if {
	ids := one_fed({"provider": "gitlab", "claims": {"groups_direct": "other"}})
	d := decide(main, gitlab, "x", ids)
	"identity x, federation 0 (provider gitlab): claim `groups_direct` is `[\"my-group\"]`, not other" in d.reasons
}

test_a_non_string_sub_matches_only_its_json_text if {
	ids := one_fed({"provider": "gitlab", "subject": "4*"})
	decide(with_claims(main, {"sub": 42}), gitlab, "x", ids).allow == false
	ids2 := one_fed({"provider": "gitlab", "subject": "42"})
	decide(with_claims(main, {"sub": 42}), gitlab, "x", ids2).allow == true
	d := decide(object.remove(main, ["sub"]), gitlab, "x", ids2)
	"identity x, federation 0 (provider gitlab): the token has no sub" in d.reasons
}

test_explain_reports_a_custom_deny_as_not_granted if {
	ex := trustgate.explain with input as {"token": main, "provider": gitlab, "request": request("deploy", [], []), "now": "2026-11-23T10:00:00Z"}
		with data.trustgate.identities as {"deploy": deploy}
		with data.trustgate.custom.deny as {"blocked"}
	ex.identities.deploy.matched == false
	ex.identities.deploy.federations[0].matched == true
}

test_an_empty_email_never_names_an_identity if {
	ids := {
		"x": object.union(deploy, {"email": "", "federations": [{"provider": "github"}]}),
		"y": deploy,
	}
	d := decide(main, gitlab, "", ids)
	d.allow == true
	d.identity == "y"
}

test_a_false_sub_is_shown_as_its_json_text if {
	ids := one_fed({"provider": "gitlab", "subject": "project_path:*"})
	d := decide(with_claims(main, {"sub": false}), gitlab, "x", ids)
	"identity x, federation 0 (provider gitlab): sub `false` does not match project_path:*" in d.reasons
}

test_gitlab_tags_and_pull_refs_are_never_read_as_github_refs if {
	tag_ids := one_fed({"provider": "gitlab", "refs": ["tag:v1"]})
	decide(with_claims(main, {"ref": "refs/tags/v1", "ref_type": "tag"}), gitlab, "x", tag_ids).allow == false
	pull_ids := one_fed({"provider": "gitlab", "refs": ["pull:1/merge"]})
	decide(with_claims(main, {"ref": "refs/pull/1/merge", "ref_type": "branch"}), gitlab, "x", pull_ids).allow == false
}

test_a_live_identity_with_an_expiry_is_denied_for_its_failures_only if {
	ids := {"deploy": object.union(deploy, {"expires_at": "2099-01-01T00:00:00Z"})}
	d := decide(with_claims(main, {"ref_protected": "false"}), gitlab, "deploy", ids)
	d.allow == false
	d.reasons == ["identity deploy, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true"]
}

test_a_scope_denial_of_a_matched_identity_lists_no_federation_failures if {
	github_fed := {"provider": "github", "claims": {"repository": "acme/service"}}
	ids := {"deploy": object.union(deploy, {"federations": array.concat(deploy.federations, [github_fed])})}
	d := decide_req(main, request("deploy", ["admin"], []), ids)
	d.allow == false
	d.reasons == ["scope admin is not granted to identity deploy"]
	d.error == "invalid_scope"
}
