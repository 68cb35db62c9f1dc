# Tests that the library fails closed: data the engine would refuse at load,
# inputs it would never build and custom rules of the wrong shape all deny,
# with a reason, and never make data.trustgate.decision undefined or a
# conflict. Helpers (decide, deploy, main, ...) are decision_test.rego's.
package trustgate_test

import data.fixtures
import data.trustgate

now := "2026-11-23T10:00:00Z"

# never is a stand-in for a builtin that gives no value.
never(_) := 0 if false

test_a_federation_without_a_provider_never_matches if {
	ids := {"x": {"federations": [{"claims": {"project_path": "my-group/app"}}]}}
	d := decide(main, gitlab, "x", ids)
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider (none)): the token is from provider gitlab, not (none)"]
}

test_an_input_without_a_provider_never_matches if {
	d := trustgate.decision with input as {"token": main, "request": request("deploy", [], []), "now": now}
		with data.trustgate.identities as {"deploy": deploy}
	d.allow == false
	d.reasons == ["identity deploy, federation 0 (provider gitlab): the token is from provider (none), not gitlab"]
}

test_a_claim_pattern_that_is_not_a_string_never_matches if {
	d := decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"runner_id": 1}}))
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider gitlab): claim `runner_id` has no pattern: patterns are strings, quote true, false and numbers"]
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"runner_id": [1]}})).allow == false
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"ref_protected": true}})).allow == false
}

test_only_the_string_patterns_of_a_list_count if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_path": [20, "my-group/app"]}})
	decide(main, gitlab, "x", ids).allow == true
	d := decide(with_claims(main, {"project_path": "my-group/other"}), gitlab, "x", ids)
	d.reasons == ["identity x, federation 0 (provider gitlab): claim `project_path` is `my-group/other`, not my-group/app"]
}

test_an_absent_claim_is_reported_absent_whatever_its_pattern if {
	d := decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"environment": 1}}))
	d.reasons == ["identity x, federation 0 (provider gitlab): claim `environment` is absent"]
}

test_claims_that_are_not_a_mapping_never_match if {
	d := decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": "my-group"}))
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider gitlab): claims is not a mapping of claim names to patterns"]
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": ["namespace_path"]})).allow == false
}

test_an_input_without_now_is_refused_and_expiry_fails_closed if {
	ids := {"x": object.union(deploy, {"expires_at": "2099-01-01T00:00:00Z"}), "y": deploy}
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("y", [], [])}
		with data.trustgate.identities as ids
	d.allow == false
	d.reasons == ["the input has no valid `now` (an RFC 3339 time)"]
	d.error == ""
	ex := trustgate.explain with input as {"token": main, "provider": gitlab, "request": request("", [], [])}
		with data.trustgate.identities as ids
	ex.identities.x.expired == true
	ex.identities.x.matched == false
	ex.identities.y.expired == false
	ex.identities.y.matched == false
	ex.identities.y.federations[0].matched == true
}

test_an_input_without_now_is_not_classified_as_scope_or_target if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("deploy", ["admin"], ["https://evil.example.com"])}
		with data.trustgate.identities as {"deploy": deploy}
	d.error == ""
}

test_an_empty_expires_at_never_expires if {
	decide(main, gitlab, "x", {"x": object.union(deploy, {"expires_at": ""})}).allow == true
}

test_an_identity_has_expired_at_its_expires_at_instant if {
	d := decide(main, gitlab, "x", {"x": object.union(deploy, {"expires_at": now})})
	d.allow == false
	d.reasons == [sprintf("identity x expired at %s", [now])]
}

test_absent_or_null_request_lists_ask_for_nothing if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": {"identity": "deploy"}, "now": now}
		with data.trustgate.identities as {"deploy": deploy}
	d.allow == true
	d.scopes == ["read", "write"]
	d.audiences == ["https://api.example.com"]
	e := decide_req(main, {"identity": "deploy", "scopes": null, "audiences": null}, {"deploy": deploy})
	e.allow == true
	e.scopes == ["read", "write"]
}

test_request_lists_that_are_not_lists_are_refused if {
	d := decide_req(main, {"identity": "deploy", "scopes": "read", "audiences": []}, {"deploy": deploy})
	d.allow == false
	d.reasons == ["the request's scopes are not a list"]
	e := decide_req(main, {"identity": "deploy", "scopes": [], "audiences": "https://api.example.com"}, {"deploy": deploy})
	e.allow == false
	e.reasons == ["the request's audiences are not a list"]
}

test_an_input_without_a_request_names_no_identity if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "now": now}
		with data.trustgate.identities as {"deploy": deploy}
	d.allow == true
	d.identity == "deploy"
}

test_the_decision_is_an_object_for_any_input if {
	every inp in [{}, {"now": now}, {"token": {}, "now": now}, {"token": main, "provider": gitlab}] {
		d := trustgate.decision with input as inp with data.trustgate.identities as {"deploy": deploy}
		d.allow == false
		count(d.reasons) > 0
		is_string(d.error)
	}
}

custom(deny) := d if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("deploy", [], []), "now": now}
		with data.trustgate.identities as {"deploy": deploy}
		with data.trustgate.custom.deny as deny
}

test_custom_deny_as_a_set_array_or_string_lists_its_messages if {
	custom({"frozen", "blocked"}).reasons == ["blocked", "frozen"]
	custom(["frozen"]).reasons == ["frozen"]
	custom("frozen").reasons == ["frozen"]
	custom({{"msg": "frozen"}}).reasons == ["{\"msg\":\"frozen\"}"]
}

test_an_empty_or_false_custom_deny_allows if {
	custom(set()).allow == true
	custom([]).allow == true
	custom(false).allow == true
}

test_a_true_custom_deny_vetoes if {
	d := custom(true)
	d.allow == false
	d.reasons == ["a custom rule denied this token"]
}

test_a_custom_deny_of_another_shape_vetoes if {
	d := custom({"frozen": true})
	d.allow == false
	d.reasons == ["data.trustgate.custom.deny is object, not a set of messages: denied"]
	custom(1).allow == false
}

test_a_shared_email_is_refused_as_ambiguous if {
	ids := {"a": deploy, "b": deploy}
	d := decide(main, gitlab, "deploy@workload.example.com", ids)
	d.allow == false
	d.reasons == ["ambiguous: identities a, b all have the email deploy@workload.example.com; name one"]
	decide(main, gitlab, "a", ids).allow == true
}

test_a_name_wins_over_emails_it_equals if {
	ids := {"deploy@workload.example.com": deploy, "a": deploy, "b": deploy}
	d := decide(main, gitlab, "deploy@workload.example.com", ids)
	d.allow == true
	d.identity == "deploy@workload.example.com"
}

test_an_identity_named_empty_is_never_named if {
	ids := {"": {"federations": [{"provider": "github"}]}, "y": deploy}
	d := decide(main, gitlab, "", ids)
	d.allow == true
	d.identity == "y"
}

test_a_denial_without_a_reason_still_says_one if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "now": now}
		with data.trustgate.identities as {"deploy": deploy}
		with time.parse_duration_ns as never
	d.allow == false
	d.reasons == ["no identity accepts this token"]
	e := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("deploy", [], []), "now": now}
		with data.trustgate.identities as {"deploy": deploy}
		with time.parse_duration_ns as never
	e.allow == false
	e.reasons == ["identity deploy does not accept this token"]
}

test_an_identity_whose_federations_are_no_list_says_it_does_not_accept if {
	d := decide(main, gitlab, "x", {"x": object.union(deploy, {"federations": "gitlab"})})
	d.allow == false
	d.reasons == ["identity x does not accept this token"]
}

# A named identity is the only one looked at: another identity whose
# expires_at cannot be parsed would be an evaluation error under the
# server's strict builtin errors (trustgate test, policies/embed_test.go).
test_a_named_identity_is_the_only_one_evaluated if {
	ids := {"deploy": deploy, "broken": object.union(deploy, {"email": "b@x", "expires_at": "not a time"})}
	d := decide(main, gitlab, "deploy", ids)
	d.allow == true
	ex := trustgate.explain with input as {"token": main, "provider": gitlab, "request": request("deploy", [], []), "now": now}
		with data.trustgate.identities as ids
	object.keys(ex.identities) == {"deploy"}
	e := decide(fixtures.gitlab_feature_branch, gitlab, "deploy", ids)
	e.allow == false
}

test_a_list_of_strings_matches_when_any_element_does if {
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "my-group"}})).allow == true
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "my-*"}})).allow == true
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": ["other", "my-group"]}})).allow == true
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "other"}})).allow == false
}

test_a_list_of_strings_no_longer_matches_its_json_text if {
	d := decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "[\"my-group\"]"}}))
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider gitlab): claim `groups_direct` is `[\"my-group\"]`, not [\"my-group\"]"]
}

test_an_empty_list_claim_matches_nothing if {
	claims := with_claims(main, {"groups_direct": []})
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "*"}})).allow == false
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "[]"}})).allow == false
}

test_a_list_that_is_not_all_strings_matches_only_its_json_text if {
	claims := with_claims(main, {"groups_direct": ["my-group", 1]})
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "my-group"}})).allow == false
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "[\"my-group\",1]"}})).allow == true
}

test_an_empty_list_of_claims_is_not_a_mapping_and_never_matches if {
	d := decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": []}))
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider gitlab): claims is not a mapping of claim names to patterns"]
}

test_a_claim_pattern_that_is_a_mapping_is_no_pattern if {
	d := decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"namespace_path": {"any": "my-group"}}}))
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider gitlab): claim `namespace_path` has no pattern: patterns are strings, quote true, false and numbers"]
}

# An identity named "" or with the email "" is refused by the engine at
# load; in the library, asking for no identity never picks one by that name
# or email: with two matching identities it stays ambiguous.
test_asking_for_no_identity_never_selects_one_named_the_empty_string if {
	d := decide(main, gitlab, "", {"": deploy, "deploy": deploy})
	d.allow == false
	d.reasons == ["ambiguous: identities , deploy all accept this token; name one"]
}

test_asking_for_no_identity_never_selects_one_with_an_empty_email if {
	d := decide(main, gitlab, "", {"x": object.union(deploy, {"email": ""}), "deploy": deploy})
	d.allow == false
	d.reasons == ["ambiguous: identities deploy, x all accept this token; name one"]
}

# A string claim matches only as a glob, never as its JSON text: a pattern
# in quotes is a glob with quote characters in it.
test_a_string_claim_never_matches_its_quoted_json_text if {
	quoted := "\"my-group\""
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"namespace_path": quoted}})).allow == false
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"namespace_path": [quoted]}})).allow == false
	quoted_sub := concat("", ["\"", main.sub, "\""])
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "subject": quoted_sub})).allow == false
	decide(main, gitlab, "x", one_fed({"provider": "gitlab", "subject": main.sub})).allow == true
}

test_a_star_in_a_list_element_stays_within_one_segment if {
	claims := with_claims(main, {"groups_direct": ["my-group/sub/team"]})
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "my-group/*"}})).allow == false
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "my-group/**"}})).allow == true
}

test_an_object_claim_is_no_list_of_strings if {
	claims := with_claims(main, {"groups_direct": {"a": "my-group"}})
	decide(claims, gitlab, "x", one_fed({"provider": "gitlab", "claims": {"groups_direct": "my-group"}})).allow == false
}
