# Tests of grants in the decision (grants.rego): a just-in-time identity
# is granted only when named and covered by an active grant that binds the
# token; each allow with the denies around it.
package trustgate_test

import data.fixtures
import data.trustgate

jit_deploy := object.union(deploy, {
	"access": "just-in-time",
	"jit": {"max_duration": "4h", "default_duration": "1h", "bind": "ref", "approvers": [{"provider": "corp", "subject": "u-*"}]},
})

jit_ids := {"jit": jit_deploy, "deploy": deploy}

active := {"id": "g1", "identity": "jit", "ends_at": "2026-11-23T11:00:00Z", "binds": true, "binding": {"kind": "ref", "project": "my-group/app", "ref": "branch:main"}}

unbound := object.union(object.remove(active, ["binding"]), {"binds": false})

# binding is a binding as the engine hands it over: every field, "" where
# its kind has none.
binding(b) := object.union({"kind": "", "provider": "gitlab", "issuer": "https://gitlab.com", "sub": "", "project": "", "ref": "", "pipeline": ""}, b)

decide_grants(identity, grants) := d if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request(identity, [], []), "grants": grants, "now": now}
		with data.trustgate.identities as jit_ids
}

explain_grants(identity, grants) := ex if {
	ex := trustgate.explain with input as {"token": main, "provider": gitlab, "request": request(identity, [], []), "grants": grants, "now": now}
		with data.trustgate.identities as jit_ids
}

test_a_named_just_in_time_identity_with_an_active_grant_is_granted_through_it if {
	d := decide_grants("jit", [active])
	d.allow == true
	d.identity == "jit"
	d.grant == "g1"
	d.reasons == []
}

test_a_standing_identity_carries_no_grant if {
	d := decide_grants("deploy", [active])
	d.allow == true
	d.grant == ""
}

test_a_just_in_time_identity_without_a_grant_is_refused if {
	d := decide_grants("jit", [])
	d.allow == false
	d.grant == ""
	d.reasons == ["identity jit is just-in-time and has no approved request: ask for one (trustgate access request)"]
}

test_a_just_in_time_identity_without_grants_in_the_input_is_refused if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("jit", [], []), "now": now}
		with data.trustgate.identities as jit_ids
	d.allow == false
}

test_a_grant_bound_to_another_ref_does_not_cover_the_token if {
	other := object.union(active, {"binds": false, "binding": {"kind": "ref", "project": "my-group/app", "ref": "branch:release"}})
	d := decide_grants("jit", [other])
	d.allow == false
	d.reasons == ["grant g1 is for project my-group/app, ref branch:release, not this token"]
}

test_a_grant_bound_to_another_project_or_pipeline_or_subject_is_named_in_words if {
	d := decide_grants("jit", [
		object.union(unbound, {"id": "a", "binding": binding({"kind": "project", "project": "other/app"})}),
		object.union(unbound, {"id": "b", "binding": binding({"kind": "pipeline", "project": "my-group/app", "pipeline": "99"})}),
		object.union(unbound, {"id": "c", "binding": binding({"kind": "subject", "sub": "someone"})}),
		object.union(unbound, {"id": "d", "binding": {"kind": "odd"}}),
	])
	d.allow == false
	d.reasons == [
		"grant a is for project other/app, not this token",
		"grant b is for project my-group/app, pipeline 99, not this token",
		"grant c is for sub someone, not this token",
		"grant d is for {\"kind\":\"odd\"}, not this token",
	]
}

test_a_grant_whose_binds_is_not_true_never_covers if {
	decide_grants("jit", [object.union(active, {"binds": "true"})]).allow == false
	decide_grants("jit", [object.remove(active, ["binds"])]).allow == false
}

test_an_ended_grant_does_not_cover_the_token if {
	d := decide_grants("jit", [object.union(active, {"ends_at": "2026-11-23T10:00:00Z"})])
	d.allow == false
	d.reasons == ["grant g1 ended at 2026-11-23T10:00:00Z"]
}

test_a_grant_of_another_identity_does_not_cover_the_token if {
	d := decide_grants("jit", [object.union(active, {"identity": "deploy"})])
	d.allow == false
	d.reasons == ["identity jit is just-in-time and has no approved request: ask for one (trustgate access request)"]
}

test_of_several_grants_the_one_that_ends_last_is_used if {
	d := decide_grants("jit", [
		object.union(active, {"id": "early", "ends_at": "2026-11-23T10:30:00Z"}),
		object.union(active, {"id": "late", "ends_at": "2026-11-23T12:00:00Z"}),
		object.union(active, {"id": "unbound", "ends_at": "2026-11-23T13:00:00Z", "binds": false}),
	])
	d.allow == true
	d.grant == "late"
}

test_a_grant_does_not_lift_the_federation if {
	d := trustgate.decision with input as {"token": fixtures.gitlab_feature_branch, "provider": gitlab, "request": request("jit", [], []), "grants": [active], "now": now}
		with data.trustgate.identities as jit_ids
	d.allow == false
	"identity jit, federation 0 (provider gitlab): ref `branch:feature/login` is not one of branch:main, tag:v*" in d.reasons
}

test_a_grant_does_not_lift_a_custom_deny if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("jit", [], []), "grants": [active], "now": now}
		with data.trustgate.identities as jit_ids
		with data.trustgate.custom.deny as {"frozen"}
	d.allow == false
}

test_an_unnamed_token_never_selects_a_just_in_time_identity if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "grants": [active], "now": now}
		with data.trustgate.identities as {"jit": jit_deploy}
	d.allow == false
	"identity jit is just-in-time: name it to use an approved request" in d.reasons
}

test_an_unnamed_token_selects_the_standing_identity_beside_a_just_in_time_one if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "grants": [active], "now": now}
		with data.trustgate.identities as jit_ids
	d.allow == true
	d.identity == "deploy"
}

test_explain_says_why_no_grant_covers_the_token if {
	ex := explain_grants("jit", [object.union(active, {"binds": false})])
	ex.identities.jit.matched == false
	ex.identities.jit.just_in_time == true
	ex.identities.jit.grant_failures == ["grant g1 is for project my-group/app, ref branch:main, not this token"]
}

test_explain_shows_a_covered_just_in_time_identity_as_matched if {
	ex := explain_grants("jit", [active])
	ex.identities.jit.matched == true
	ex.identities.jit.grant_failures == []
}

test_explain_without_a_name_asks_for_one if {
	ex := explain_grants("", [active])
	ex.identities.jit.matched == false
	ex.identities.jit.grant_failures == ["name the identity to use an approved request"]
	ex.identities.deploy.just_in_time == false
	ex.identities.deploy.grant_failures == []
}

test_a_standing_identity_never_carries_a_grant_even_one_for_its_name if {
	d := decide_grants("deploy", [object.union(active, {"identity": "deploy"})])
	d.allow == true
	d.grant == ""
}

test_a_federation_miss_is_the_only_reason_even_without_a_grant if {
	d := trustgate.decision with input as {"token": fixtures.gitlab_feature_branch, "provider": gitlab, "request": request("jit", [], []), "grants": [], "now": now}
		with data.trustgate.identities as jit_ids
	d.allow == false
	d.reasons == [
		"identity jit, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true",
		"identity jit, federation 0 (provider gitlab): ref `branch:feature/login` is not one of branch:main, tag:v*",
	]
}

test_a_covered_identity_refused_for_its_scope_gives_only_the_scope_reason if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("jit", ["admin"], []), "grants": [active, object.union(active, {"id": "g2", "binds": false})], "now": now}
		with data.trustgate.identities as jit_ids
	d.allow == false
	d.reasons == ["scope admin is not granted to identity jit"]
}

# Grants keep their promises: what a grant carries bounds the token.

read_only := object.union(active, {"scopes": ["read"], "audiences": [], "starts_at": ""})

decide_asking(grants, scopes, audiences) := d if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("jit", scopes, audiences), "grants": grants, "now": now}
		with data.trustgate.identities as jit_ids
}

test_a_grant_gives_the_scopes_it_carries_when_none_are_asked_for if {
	d := decide_asking([read_only], [], [])
	d.allow == true
	d.scopes == ["read"]
}

test_a_scope_the_grant_does_not_carry_is_refused_as_invalid_scope if {
	d := decide_asking([read_only], ["read", "write"], [])
	d.allow == false
	d.error == "invalid_scope"
	d.reasons == ["scope write was not approved in grant g1 (approved: read)"]
}

test_a_grant_with_no_scopes_gives_none if {
	d := decide_asking([object.union(read_only, {"scopes": []})], [], [])
	d.allow == true
	d.scopes == []
}

test_a_grant_gives_no_scope_the_identity_lost_since if {
	d := decide_asking([object.union(read_only, {"scopes": ["read", "admin"]})], [], [])
	d.scopes == ["read"]
}

test_a_grant_that_names_audiences_bounds_them if {
	narrow := object.union(read_only, {"audiences": ["https://other.example.com"]})
	d := decide_asking([narrow], [], [])
	d.allow == true
	d.audiences == ["https://other.example.com"]
	refused := decide_asking([narrow], [], ["https://api.example.com"])
	refused.allow == false
	refused.error == "invalid_target"
	refused.reasons == ["audience https://api.example.com was not approved in grant g1 (approved: https://other.example.com)"]
}

test_a_grant_naming_only_audiences_the_identity_lost_gives_none if {
	d := decide_asking([object.union(read_only, {"audiences": ["https://gone.example.com"]})], [], [])
	d.audiences == []
}

test_a_grant_without_audiences_gives_the_identity_s_first if {
	decide_asking([read_only], [], []).audiences == ["https://api.example.com"]
}

test_a_grant_that_has_not_started_grants_nothing if {
	later := object.union(read_only, {"starts_at": "2026-11-23T10:00:01Z"})
	d := decide_asking([later], [], [])
	d.allow == false
	d.reasons == ["grant g1 starts at 2026-11-23T10:00:01Z"]
	decide_asking([object.union(read_only, {"starts_at": now})], [], []).allow == true
}

test_an_approved_audience_is_granted_when_asked_for if {
	narrow := object.union(read_only, {"audiences": ["https://other.example.com", "https://api.example.com"]})
	d := decide_asking([narrow], [], ["https://api.example.com"])
	d.allow == true
	d.audiences == ["https://api.example.com"]
}

test_a_started_grant_is_not_said_to_start if {
	started := object.union(unbound, {"binding": binding({"kind": "project", "project": "other/app"}), "scopes": ["read"], "audiences": [], "starts_at": "2026-11-23T09:00:00Z"})
	d := decide_asking([started], [], [])
	d.allow == false
	d.reasons == ["grant g1 is for project other/app, not this token"]
}

test_a_grant_without_audiences_leaves_the_identity_s_to_ask_for if {
	d := decide_asking([read_only], [], ["https://other.example.com"])
	d.allow == true
	d.audiences == ["https://other.example.com"]
}

test_a_grant_handed_over_for_a_standing_identity_bounds_nothing if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("deploy", [], []), "grants": [object.union(read_only, {"identity": "deploy"})], "now": now}
		with data.trustgate.identities as jit_ids
	d.allow == true
	d.grant == ""
	d.scopes == ["read", "write"]
}
