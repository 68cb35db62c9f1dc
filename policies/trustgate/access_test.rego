# Tests of just-in-time access (access.rego): each allow with the denies
# around it. Requesters are GitLab and GitHub pipelines (fixtures), reviewers
# people from a company IdP whose groups are a list.
package trustgate.access_test

import data.fixtures
import data.trustgate

gitlab := {"name": "gitlab", "issuer": "https://gitlab.com", "platform": "gitlab"}

github := {"name": "github", "issuer": "https://token.actions.githubusercontent.com", "platform": "github"}

corp := {"name": "corp", "issuer": "https://login.example.com", "platform": "generic"}

now := "2026-11-23T10:00:00Z"

breakglass := {
	"roles": ["db-admin"],
	"scopes": ["read", "write"],
	"audiences": ["https://db.example.com"],
	"ttl": "15m",
	"access": "just-in-time",
	"jit": {
		"max_duration": "4h",
		"default_duration": "1h",
		"bind": "ref",
		"pending_ttl": "24h",
		"approvers": [{"provider": "corp", "claims": {"groups": "prod-approvers"}}],
	},
	"federations": [
		{"provider": "gitlab", "claims": {"project_path": "my-group/app", "ref_protected": "true"}},
		{"provider": "github", "claims": {"repository": "acme/service"}},
	],
}

standing := object.remove(breakglass, ["access", "jit"])

ids := {"breakglass": breakglass, "standing": standing}

main := fixtures.gitlab_main_protected

ask(claims, provider, req) := r if {
	r := trustgate.access.request with input as {"token": claims, "provider": provider, "request": req, "now": now}
		with data.trustgate.identities as ids
}

ask_with(claims, req, data_risk_levels, custom_risk) := r if {
	r := trustgate.access.request with input as {"token": claims, "provider": gitlab, "request": req, "now": now}
		with data.trustgate.identities as ids
		with data.trustgate.risk_levels as data_risk_levels
		with data.trustgate.custom.risk as custom_risk
}

req(identity, seconds) := {"identity": identity, "duration_seconds": seconds, "reason": "incident 42", "scopes": []}

test_a_pipeline_the_identity_federates_with_may_request_it_at_high_risk if {
	r := ask(main, gitlab, req("breakglass", 3600))
	r.allow == true
	r.risk == "high"
	r.approvals_required == 1
	r.duration_seconds == 3600
	r.max_duration_seconds == 14400
	r.reasons == []
}

test_a_request_without_scopes_is_for_all_of_the_identity_s_scopes if {
	r := ask(main, gitlab, req("breakglass", 0))
	r.scopes == ["read", "write"]
	r.audiences == []
	ask(main, gitlab, object.union(req("breakglass", 0), {"scopes": ["read"]})).scopes == ["read"]
}

test_a_request_may_name_audiences_of_the_identity_only if {
	ask(main, gitlab, object.union(req("breakglass", 0), {"audiences": ["https://db.example.com"]})).audiences == ["https://db.example.com"]
	r := ask(main, gitlab, object.union(req("breakglass", 0), {"audiences": ["https://other.example.com"]}))
	r.allow == false
	r.reasons == ["audience https://other.example.com is not allowed for identity breakglass"]
}

test_a_request_may_start_up_to_max_lead_time_ahead if {
	ask(main, gitlab, object.union(req("breakglass", 0), {"starts_at": "2026-11-30T10:00:00Z"})).allow == true
	late := ask(main, gitlab, object.union(req("breakglass", 0), {"starts_at": "2026-11-30T10:00:01Z"}))
	late.reasons == ["starts_at 2026-11-30T10:00:01Z is further ahead than identity breakglass's max_lead_time 168h"]
	past := ask(main, gitlab, object.union(req("breakglass", 0), {"starts_at": "2026-11-23T09:59:59Z"}))
	past.reasons == ["starts_at 2026-11-23T09:59:59Z is in the past"]
	bad := ask(main, gitlab, object.union(req("breakglass", 0), {"starts_at": "tomorrow"}))
	bad.reasons == ["starts_at tomorrow is not an RFC 3339 time"]
}

test_max_lead_time_comes_from_the_identity if {
	short := object.union(breakglass, {"jit": object.union(breakglass.jit, {"max_lead_time": "1h"})})
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": object.union(req("breakglass", 0), {"starts_at": "2026-11-23T11:00:01Z"}), "now": now}
		with data.trustgate.identities as {"breakglass": short}
	r.reasons == ["starts_at 2026-11-23T11:00:01Z is further ahead than identity breakglass's max_lead_time 1h"]
}

test_without_default_duration_the_default_is_the_lesser_of_1h_and_max_duration if {
	long := object.union(object.remove(breakglass, ["jit"]), {"jit": object.remove(breakglass.jit, ["default_duration"])})
	short := object.union(long, {"jit": object.union(long.jit, {"max_duration": "30m"})})
	a := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 0), "now": now}
		with data.trustgate.identities as {"breakglass": long}
	a.duration_seconds == 3600
	b := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 0), "now": now}
		with data.trustgate.identities as {"breakglass": short}
	b.duration_seconds == 1800
}

test_a_request_names_the_persons_behind_it if {
	r := ask(object.union(main, {"user_email": "Dev@Example.com", "user_id": "42"}), gitlab, req("breakglass", 0))
	r.requester_persons == sort([
		"email:dev@example.com",
		concat("", ["sub:", json.marshal(["https://gitlab.com", main.sub])]),
		concat("", ["sub:", json.marshal(["https://gitlab.com", "42"])]),
	])
}

test_no_duration_is_the_default_duration if {
	r := ask(main, gitlab, req("breakglass", 0))
	r.allow == true
	r.duration_seconds == 3600
}

test_a_github_workflow_of_the_repository_may_request_it if {
	ask(fixtures.github_release_tag, github, req("breakglass", 600)).allow == true
}

test_a_duration_of_exactly_max_duration_is_allowed if {
	ask(main, gitlab, req("breakglass", 14400)).allow == true
}

test_a_duration_over_max_duration_is_refused if {
	r := ask(main, gitlab, req("breakglass", 14401))
	r.allow == false
	r.reasons == ["duration 14401s is longer than identity breakglass's max_duration 4h"]
}

test_a_negative_duration_is_refused if {
	r := ask(main, gitlab, req("breakglass", -5))
	r.allow == false
	r.reasons == ["duration -5 is not a positive number of seconds"]
}

test_a_duration_that_is_not_a_number_is_refused if {
	r := ask(main, gitlab, req("breakglass", "1h"))
	r.allow == false
	r.reasons == ["duration 1h is not a positive number of seconds"]
}

test_a_project_the_identity_does_not_federate_with_may_not_request_it if {
	r := ask(object.union(main, {"project_path": "my-group/other"}), gitlab, req("breakglass", 600))
	r.allow == false
	r.reasons == ["identity breakglass, federation 0 (provider gitlab): claim `project_path` is `my-group/other`, not my-group/app"]
}

test_an_unprotected_ref_may_not_request_it if {
	r := ask(fixtures.gitlab_feature_branch, gitlab, req("breakglass", 600))
	r.allow == false
	"identity breakglass, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true" in r.reasons
}

test_a_standing_identity_is_not_requested if {
	r := ask(main, gitlab, req("standing", 600))
	r.allow == false
	r.reasons == ["identity standing is not just-in-time: exchange a token for it instead"]
}

test_an_unknown_identity_is_refused if {
	r := ask(main, gitlab, req("nope", 600))
	r.allow == false
	"no identity is named nope" in r.reasons
}

test_an_expired_identity_may_not_be_requested if {
	old := object.union(breakglass, {"expires_at": "2026-01-01T00:00:00Z"})
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 600), "now": now}
		with data.trustgate.identities as {"breakglass": old}
	r.allow == false
	"identity breakglass expired at 2026-01-01T00:00:00Z" in r.reasons
}

test_a_provider_the_identity_does_not_federate_with_may_not_request_it if {
	other := {"name": "other", "issuer": "https://ci.other.com", "platform": "generic"}
	r := ask(main, other, req("breakglass", 600))
	r.allow == false
	r.reasons == ["identity breakglass does not federate with provider other"]
}

test_an_identity_without_federations_may_not_be_requested if {
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 600), "now": now}
		with data.trustgate.identities as {"breakglass": object.remove(breakglass, ["federations"])}
	r.allow == false
	r.reasons == ["identity breakglass has no federations"]
}

test_scopes_beyond_the_identity_are_refused if {
	r := ask(main, gitlab, object.union(req("breakglass", 600), {"scopes": ["read", "admin"]}))
	r.allow == false
	r.reasons == ["scope admin is not granted to identity breakglass"]
	ask(main, gitlab, object.union(req("breakglass", 600), {"scopes": ["read"]})).allow == true
}

test_a_custom_rule_raises_the_risk_and_the_highest_wins if {
	r := ask_with(main, req("breakglass", 600), {"low": {"approvals": 0}, "high": {"approvals": 1}, "critical": {"approvals": 2}}, {"critical", "low"})
	r.allow == true
	r.risk == "critical"
	r.approvals_required == 2
}

test_a_custom_low_risk_cannot_lower_the_default if {
	r := ask_with(main, req("breakglass", 600), {"low": {"approvals": 0}, "high": {"approvals": 1}}, {"low"})
	r.risk == "high"
	r.approvals_required == 1
}

test_risk_levels_from_data_replace_the_library_s if {
	r := ask_with(main, req("breakglass", 600), {"high": {"approvals": 0}}, set())
	r.allow == true
	r.approvals_required == 0
}

test_a_custom_risk_given_as_one_string_counts if {
	r := ask_with(main, req("breakglass", 600), {"high": {"approvals": 1}, "critical": {"approvals": 3}}, "critical")
	r.risk == "critical"
	r.approvals_required == 3
}

test_a_custom_risk_given_as_a_list_counts if {
	r := ask_with(main, req("breakglass", 600), {"high": {"approvals": 1}, "critical": {"approvals": 3}}, ["critical"])
	r.risk == "critical"
}

test_an_unknown_risk_level_refuses_the_request if {
	r := ask_with(main, req("breakglass", 600), {"high": {"approvals": 1}}, {"extreme"})
	r.allow == false
	r.reasons == ["risk level extreme is not one of data.trustgate.risk_levels (each needs a whole number of approvals)"]
}

test_an_unreadable_custom_risk_refuses_the_request if {
	r := ask_with(main, req("breakglass", 600), {"high": {"approvals": 1}}, 7)
	r.allow == false
	r.reasons == ["risk level (unreadable) is not one of data.trustgate.risk_levels (each needs a whole number of approvals)"]
}

test_a_risk_level_with_a_bad_approval_count_refuses_the_request if {
	ask_with(main, req("breakglass", 600), {"high": {"approvals": -1}}, set()).allow == false
	ask_with(main, req("breakglass", 600), {"high": {"approvals": 1.5}}, set()).allow == false
	ask_with(main, req("breakglass", 600), {"high": {"approvals": "1"}}, set()).allow == false
}

test_equal_approvals_pick_one_risk_by_name if {
	r := ask_with(main, req("breakglass", 600), {"high": {"approvals": 1}, "elevated": {"approvals": 1}}, {"elevated"})
	r.risk == "high"
}

test_a_custom_deny_refuses_requests_too if {
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 600), "now": now}
		with data.trustgate.identities as ids
		with data.trustgate.custom.deny as {"frozen"}
	r.allow == false
	r.reasons == ["frozen"]
}

test_a_request_without_a_time_is_refused if {
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 600)}
		with data.trustgate.identities as ids
	r.allow == false
	"the input has no valid `now` (an RFC 3339 time)" in r.reasons
}

# Reviews.

approver := {"iss": "https://login.example.com", "sub": "u-alice", "email": "alice@example.com", "preferred_username": "alice", "groups": ["sre", "prod-approvers"]}

stored := {
	"id": "r1",
	"identity": "breakglass",
	"state": "pending",
	"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": main.sub, "claims": main},
	"reviews": [],
}

review(request, claims, provider, verdict) := r if {
	r := trustgate.access.review with input as {"request": request, "token": claims, "provider": provider, "verdict": verdict, "now": now}
		with data.trustgate.identities as ids
}

test_an_approver_may_approve_deny_revoke_and_read if {
	every v in ["approve", "deny", "revoke", "read"] {
		r := review(stored, approver, corp, v)
		r.allow == true
		r.reasons == []
	}
}

test_a_person_outside_the_approver_group_may_not_review if {
	r := review(stored, object.union(approver, {"groups": ["sre"]}), corp, "approve")
	r.allow == false
	r.reasons == ["reviewer is not an approver of identity breakglass: approver 0: claim `groups` is `[\"sre\"]`, not prod-approvers"]
}

test_a_person_without_groups_may_not_review if {
	r := review(stored, object.remove(approver, ["groups"]), corp, "read")
	r.allow == false
}

test_an_approver_from_another_provider_may_not_review if {
	other := {"name": "other", "issuer": "https://login.other.com", "platform": "generic"}
	r := review(stored, approver, other, "approve")
	r.allow == false
	r.reasons == ["reviewer is not an approver of identity breakglass: approver 0: the token is from provider other, not corp"]
}

test_the_requester_may_not_approve_their_own_request_by_sub if {
	self := object.union(stored, {"requester": {"provider": "corp", "issuer": "https://login.example.com", "sub": "u-alice", "claims": approver}})
	r := review(self, approver, corp, "approve")
	r.allow == false
	r.reasons == ["a requester may not review their own request"]
	review(self, approver, corp, "deny").allow == false
}

test_the_same_sub_at_another_issuer_is_another_person if {
	other := object.union(stored, {"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": "u-alice", "claims": {}}})
	review(other, approver, corp, "approve").allow == true
}

test_the_person_behind_a_gitlab_pipeline_may_not_approve_it_by_login if {
	pipeline := object.union(stored, {"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": main.sub, "claims": object.union(main, {"user_login": "Alice", "user_email": "x@example.com"})}})
	r := review(pipeline, approver, corp, "approve")
	r.allow == false
	r.reasons == ["a requester may not review their own request"]
}

# filed is stored as the request policy files it for a pipeline of claims:
# with the persons behind it.
filed(claims) := object.union(stored, {"requester": {
	"provider": "gitlab", "issuer": "https://gitlab.com", "sub": claims.sub,
	"persons": ask(claims, gitlab, req("breakglass", 0)).requester_persons, "claims": claims,
}})

test_the_person_behind_a_gitlab_pipeline_may_not_approve_it_by_verified_email if {
	pipeline := filed(object.union(main, {"user_login": "x", "user_email": "ALICE@example.com"}))
	r := review(pipeline, approver, corp, "approve")
	r.allow == false
	r.reasons == ["a requester may not review their own request"]
}

test_the_person_behind_a_gitlab_pipeline_may_not_approve_it_as_the_gitlab_user if {
	pipeline := filed(object.union(main, {"user_login": "x", "user_email": "x@example.com", "user_id": "42"}))
	gitlab_people := {"name": "gitlab-people", "issuer": "https://gitlab.com", "platform": "generic"}
	r := trustgate.access.review with input as {"request": pipeline, "token": object.union(approver, {"sub": "42", "email": "other@example.com"}), "provider": gitlab_people, "verdict": "approve", "now": now}
		with data.trustgate.identities as object.union(ids, {"breakglass": object.union(breakglass, {"jit": object.union(breakglass.jit, {"approvers": [{"provider": "gitlab-people"}]})})})
	r.allow == false
	r.reasons == ["a requester may not review their own request"]
}

test_an_unverified_email_does_not_make_a_reviewer_the_person_behind_a_pipeline if {
	pipeline := filed(object.union(main, {"user_login": "x", "user_email": "alice@example.com"}))
	review(pipeline, object.union(approver, {"email_verified": false}), corp, "approve").allow == true
	review(pipeline, object.union(approver, {"email_verified": "false"}), corp, "approve").allow == true
	review(pipeline, approver, corp, "approve").allow == false
}

test_a_provider_configured_not_to_vouch_for_emails_matches_nobody_by_email if {
	pipeline := filed(object.union(main, {"user_login": "x", "user_email": "alice@example.com"}))
	r := trustgate.access.review with input as {"request": pipeline, "token": approver, "provider": corp, "verdict": "approve", "now": now}
		with data.trustgate.identities as ids
		with data.trustgate.providers as {"corp": {"emails_verified": false}}
	r.allow == true
	r.person == concat("", ["sub:", json.marshal(["https://login.example.com", "u-alice"])])
}

test_a_gitlab_provider_configured_not_to_vouch_leaves_only_the_user_id if {
	persons := trustgate.access.request.requester_persons with input as {"token": object.union(main, {"user_email": "a@example.com", "user_id": 7}), "provider": gitlab, "request": req("breakglass", 0), "now": now}
		with data.trustgate.identities as ids
		with data.trustgate.providers as {"gitlab": {"emails_verified": false}}
	persons == sort([
		concat("", ["sub:", json.marshal(["https://gitlab.com", main.sub])]),
		concat("", ["sub:", json.marshal(["https://gitlab.com", "7"])]),
	])
}

test_logins_that_are_not_strings_match_nobody if {
	number_login := object.union(stored, {"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": main.sub, "claims": {"user_login": 42}}})
	review(number_login, object.union(approver, {"preferred_username": "42"}), corp, "approve").allow == true
	string_login := object.union(stored, {"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": main.sub, "claims": {"user_login": "42"}}})
	review(string_login, object.union(approver, {"preferred_username": 42}), corp, "approve").allow == true
}

test_the_actor_of_a_github_workflow_may_not_approve_it if {
	run := object.union(stored, {"requester": {"provider": "github", "issuer": github.issuer, "sub": "repo:octo-org/octo-repo:ref:refs/tags/v1", "claims": {"actor": "alice"}}})
	review(run, approver, corp, "approve").allow == false
}

test_another_person_may_approve_a_pipeline_s_request if {
	pipeline := object.union(stored, {"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": main.sub, "claims": main}})
	review(pipeline, approver, corp, "approve").allow == true
}

test_the_requester_may_still_read_and_revoke_their_own_grant_if_an_approver if {
	self := object.union(stored, {"requester": {"provider": "corp", "issuer": "https://login.example.com", "sub": "u-alice", "claims": approver}})
	review(self, approver, corp, "read").allow == true
	review(self, approver, corp, "revoke").allow == true
}

test_a_second_review_by_the_same_person_is_refused if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.example.com", "sub": "u-alice"}, "verdict": "approve"}]})
	r := review(again, approver, corp, "approve")
	r.allow == false
	r.reasons == ["this person has already reviewed the request"]
	review(again, approver, corp, "deny").allow == false
}

test_one_person_through_two_providers_reviews_once if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.other.com", "sub": "a-9", "person": "email:alice@example.com"}, "verdict": "approve"}]})
	r := review(again, object.union(approver, {"email": "Alice@Example.com"}), corp, "approve")
	r.allow == false
	r.reasons == ["this person has already reviewed the request"]
}

test_an_unverified_email_does_not_make_two_accounts_one_person if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.other.com", "sub": "a-9", "person": "email:alice@example.com"}, "verdict": "approve"}]})
	r := review(again, object.union(approver, {"email_verified": false}), corp, "approve")
	r.allow == true
	r.person == concat("", ["sub:", json.marshal(["https://login.example.com", "u-alice"])])
}

test_an_approval_names_the_reviewer_as_a_person if {
	review(stored, approver, corp, "approve").person == "email:alice@example.com"
	review(stored, object.union(approver, {"groups": []}), corp, "approve").person == ""
}

test_an_approver_matched_by_email_needs_a_verified_email if {
	by_email := object.union(ids, {"breakglass": object.union(breakglass, {"jit": object.union(breakglass.jit, {"approvers": [{"provider": "corp", "claims": {"email": "alice@example.com"}}]})})})
	ok := trustgate.access.review with input as {"request": stored, "token": approver, "provider": corp, "verdict": "approve", "now": now}
		with data.trustgate.identities as by_email
	ok.allow == true
	r := trustgate.access.review with input as {"request": stored, "token": object.union(approver, {"email_verified": false}), "provider": corp, "verdict": "approve", "now": now}
		with data.trustgate.identities as by_email
	r.allow == false
	r.reasons == ["reviewer is not an approver of identity breakglass: approver 0: the token's email is not verified"]
}

test_a_review_by_another_person_after_one_is_allowed if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.example.com", "sub": "u-bob"}, "verdict": "approve"}]})
	review(again, approver, corp, "approve").allow == true
}

test_the_same_sub_from_another_issuer_has_not_reviewed if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.other.com", "sub": "u-alice"}, "verdict": "approve"}]})
	review(again, approver, corp, "approve").allow == true
}

test_an_unknown_verdict_is_refused if {
	r := review(stored, approver, corp, "approve!")
	r.allow == false
	r.reasons == ["verdict approve! is not one of approve, deny, revoke, read"]
}

test_a_request_for_an_identity_no_longer_in_the_bundle_cannot_be_reviewed if {
	r := review(object.union(stored, {"identity": "gone"}), approver, corp, "approve")
	r.allow == false
	"no identity is named gone" in r.reasons
}

test_a_request_for_an_identity_no_longer_just_in_time_cannot_be_reviewed if {
	r := review(object.union(stored, {"identity": "standing"}), approver, corp, "approve")
	r.allow == false
	r.reasons == ["identity standing is not just-in-time", "reviewer is not an approver of identity standing: the identity has no approvers"]
}

test_a_review_without_a_time_is_refused if {
	r := trustgate.access.review with input as {"request": stored, "token": approver, "provider": corp, "verdict": "approve"}
		with data.trustgate.identities as ids
	r.allow == false
	r.reasons == ["the input has no valid `now` (an RFC 3339 time)"]
}

test_approvers_are_matched_like_federations_with_subject_and_globs if {
	by_sub := object.union(breakglass, {"jit": object.union(breakglass.jit, {"approvers": [{"provider": "corp", "subject": "u-a*"}]})})
	r := trustgate.access.review with input as {"request": stored, "token": approver, "provider": corp, "verdict": "approve", "now": now}
		with data.trustgate.identities as {"breakglass": by_sub}
	r.allow == true
	r2 := trustgate.access.review with input as {"request": stored, "token": object.union(approver, {"sub": "u-bob"}), "provider": corp, "verdict": "approve", "now": now}
		with data.trustgate.identities as {"breakglass": by_sub}
	r2.allow == false
}

test_a_person_who_reviewed_may_still_read_and_revoke if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.example.com", "sub": "u-alice"}, "verdict": "approve"}]})
	review(again, approver, corp, "read").allow == true
	review(again, approver, corp, "revoke").allow == true
}

test_another_person_of_the_same_idp_may_approve if {
	bobs := object.union(stored, {"requester": {"provider": "corp", "issuer": "https://login.example.com", "sub": "u-bob", "claims": {"sub": "u-bob", "email": "bob@example.com"}}})
	review(bobs, approver, corp, "approve").allow == true
}

test_names_that_are_not_strings_never_make_two_people_one if {
	odd := object.union(stored, {"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": main.sub, "claims": object.union(main, {"user_login": 7})}})
	review(odd, object.union(approver, {"preferred_username": 7}), corp, "approve").allow == true
}

test_an_identity_that_expires_later_may_be_requested if {
	later := object.union(breakglass, {"expires_at": "2027-01-01T00:00:00Z"})
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 600), "now": now}
		with data.trustgate.identities as {"breakglass": later}
	r.allow == true
}

test_one_matching_federation_is_enough_and_others_are_not_reported if {
	two := object.union(breakglass, {"federations": [{"provider": "gitlab", "claims": {"project_path": "my-group/other"}}, {"provider": "gitlab", "claims": {"project_path": "my-group/app"}}]})
	r := trustgate.access.request with input as {"token": main, "provider": gitlab, "request": req("breakglass", 600), "now": now}
		with data.trustgate.identities as {"breakglass": two}
	r.allow == true
	r.reasons == []
}

# The reviewer: approver of anything, and the claims a non-approver lacks.
reviewer(claims, provider) := r if {
	r := trustgate.access.reviewer with input as {"token": claims, "provider": provider, "identities": ["breakglass"]}
		with data.trustgate.identities as ids
}

test_an_approver_is_an_approver_of_something if {
	reviewer(approver, corp) == {"approver": true, "missing_claims": []}
}

test_a_person_whose_token_has_no_groups_is_told_the_claim_approvers_match_on if {
	reviewer(object.remove(approver, ["groups"]), corp) == {"approver": false, "missing_claims": ["groups"]}
}

test_a_person_with_groups_but_not_the_approver_group_lacks_no_claim if {
	reviewer(object.union(approver, {"groups": ["sre"]}), corp) == {"approver": false, "missing_claims": []}
}

test_approvers_of_another_provider_name_no_claim if {
	other := {"name": "other", "issuer": "https://login.other.com", "platform": "generic"}
	reviewer(object.remove(approver, ["groups"]), other) == {"approver": false, "missing_claims": []}
}

test_identities_not_named_in_the_input_are_not_read if {
	r := trustgate.access.reviewer with input as {"token": approver, "provider": corp, "identities": []}
		with data.trustgate.identities as ids
	r == {"approver": false, "missing_claims": []}
}

test_an_email_that_is_empty_or_no_string_names_no_person if {
	again := object.union(stored, {"reviews": [{"reviewer": {"issuer": "https://login.other.com", "sub": "a-9", "person": "email:"}, "verdict": "approve"}]})
	empty := review(again, object.union(approver, {"email": ""}), corp, "approve")
	empty.allow == true
	empty.person == concat("", ["sub:", json.marshal(["https://login.example.com", "u-alice"])])
	review(stored, object.union(approver, {"email": 42}), corp, "approve").person == concat("", ["sub:", json.marshal(["https://login.example.com", "u-alice"])])
}

test_only_a_gitlab_pipeline_names_the_user_behind_it if {
	run := object.union(fixtures.github_release_tag, {"user_id": "42", "user_email": "dev@example.com"})
	ask(run, github, req("breakglass", 0)).requester_persons == [concat("", ["sub:", json.marshal([github.issuer, run.sub])])]
}

test_an_empty_gitlab_user_id_names_no_person if {
	r := ask(object.union(object.remove(main, ["user_email"]), {"user_id": ""}), gitlab, req("breakglass", 0))
	r.requester_persons == [concat("", ["sub:", json.marshal(["https://gitlab.com", main.sub])])]
}

test_an_unverified_email_makes_nobody_an_approver_of_anything if {
	by_email := object.union(ids, {"breakglass": object.union(breakglass, {"jit": object.union(breakglass.jit, {"approvers": [{"provider": "corp", "claims": {"email": "alice@example.com"}}]})})})
	r := trustgate.access.reviewer with input as {"token": object.union(approver, {"email_verified": false}), "provider": corp, "identities": ["breakglass"]}
		with data.trustgate.identities as by_email
	r.approver == false
	ok := trustgate.access.reviewer with input as {"token": approver, "provider": corp, "identities": ["breakglass"]}
		with data.trustgate.identities as by_email
	ok.approver == true
}
