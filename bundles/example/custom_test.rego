# Tests of this bundle's custom rules and identities, against the library.
package trustgate.custom_test

import data.fixtures
import data.trustgate

gitlab := {"name": "gitlab", "issuer": "https://gitlab.com", "platform": "gitlab"}

gitlab_self := {"name": "gitlab-self", "issuer": "https://gitlab.example.com", "platform": "gitlab"}

decide(claims, provider, identity) := d if {
	d := trustgate.decision with input as {
		"token": claims, "provider": provider, "now": "2026-11-23T10:00:00Z",
		"request": {"identity": identity, "scopes": [], "audiences": [], "client_ip": ""},
	}
}

prod := fixtures.gitlab_production_deploy

test_production_deployer_is_granted_from_protected_main if {
	d := decide(prod, gitlab_self, "production-deployer")
	d.allow == true
	d.scopes == ["deploy"]
}

test_merge_request_pipelines_may_not_deploy_to_production if {
	d := decide(object.union(prod, {"pipeline_source": "merge_request_event"}), gitlab_self, "production-deployer")
	d.allow == false
	d.reasons == ["merge request pipelines may not deploy to production"]
}

test_a_blocked_project_gets_nothing_even_when_a_federation_matches if {
	claims := object.union(fixtures.gitlab_main_protected, {
		"project_path": "my-group/legacy-app",
		"sub": "project_path:my-group/legacy-app:ref_type:branch:ref:main",
	})
	d := decide(claims, gitlab, "gitlab-ci-deploy")
	d.allow == false
	d.reasons == ["project my-group/legacy-app is blocked"]
}

test_a_change_freeze_denies_inside_its_window_only if {
	freeze := [{"from": "2026-11-23T00:00:00Z", "until": "2026-11-24T00:00:00Z", "reason": "release"}]
	d := decide(prod, gitlab_self, "production-deployer") with data.trustgate.freeze as freeze
	d.allow == false
	d.reasons == ["change freeze until 2026-11-24T00:00:00Z: release"]
	later := [{"from": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z", "reason": "release"}]
	e := decide(prod, gitlab_self, "production-deployer") with data.trustgate.freeze as later
	e.allow == true
	ended := [{"from": "2026-11-01T00:00:00Z", "until": "2026-11-23T10:00:00Z", "reason": "release"}]
	f := decide(prod, gitlab_self, "production-deployer") with data.trustgate.freeze as ended
	f.allow == true
}

test_the_example_group_identity_accepts_protected_main_and_release_tags if {
	decide(fixtures.gitlab_main_protected, gitlab, "gitlab-ci-deploy").allow == true
	decide(fixtures.gitlab_release_tag, gitlab, "gitlab-ci-deploy").allow == true
	decide(fixtures.gitlab_feature_branch, gitlab, "gitlab-ci-deploy").allow == false
}

test_the_expired_contractor_identity_never_matches if {
	claims := object.union(fixtures.gitlab_main_protected, {"namespace_path": "contractor"})
	d := decide(claims, gitlab, "contractor-2025")
	d.allow == false
	d.reasons == ["identity contractor-2025 expired at 2025-12-31T23:59:59Z"]
}

test_the_github_release_identity if {
	github := {"name": "github", "issuer": "https://token.actions.githubusercontent.com", "platform": "github"}
	decide(fixtures.github_push_main, github, "github-release").allow == true
	decide(fixtures.github_pull_request, github, "github-release").allow == false
}

github := {"name": "github", "issuer": "https://token.actions.githubusercontent.com", "platform": "github"}

dev := {"name": "dev", "issuer": "http://127.0.0.1:8090", "platform": "gitlab"}

test_the_dev_issuers_default_token_gets_demo if {
	d := decide(fixtures.gitlab_dev_demo, dev, "")
	d.allow == true
	d.identity == "demo"
	d.subject == "demo@workload.example.com"
	d.roles == ["demo"]
	d.scopes == ["read", "write"]
	d.audiences == ["http://127.0.0.1:8080/demo-api"]
	d.ttl_seconds == 300
}

# make demo's second token: a feature branch of the demo project.
test_the_dev_issuers_feature_branch_token_is_refused if {
	claims := object.union(fixtures.gitlab_dev_demo, {
		"ref": "feature", "ref_protected": "false",
		"sub": "project_path:demo-group/demo-project:ref_type:branch:ref:feature",
	})
	d := decide(claims, dev, "demo")
	d.allow == false
	d.reasons == [
		"identity demo, federation 0 (provider dev): claim `ref_protected` is `false`, not true",
		"identity demo, federation 0 (provider dev): ref `branch:feature` is not one of branch:main",
	]
}

test_the_demo_identity_trusts_only_the_dev_provider if {
	d := decide(fixtures.gitlab_dev_demo, gitlab, "demo")
	d.allow == false
	d.reasons == ["identity demo, federation 0 (provider dev): the token is from provider gitlab, not dev"]
}

test_a_subgroup_project_does_not_get_the_group_identity if {
	claims := object.union(fixtures.gitlab_main_protected, {
		"project_path": "my-group/sub/app", "namespace_path": "my-group/sub",
		"sub": "project_path:my-group/sub/app:ref_type:branch:ref:main",
	})
	d := decide(claims, gitlab, "gitlab-ci-deploy")
	d.allow == false
	d.reasons == [
		"identity gitlab-ci-deploy, federation 0 (provider gitlab): claim `namespace_path` is `my-group/sub`, not my-group",
		"identity gitlab-ci-deploy, federation 0 (provider gitlab): sub `project_path:my-group/sub/app:ref_type:branch:ref:main` does not match project_path:my-group/*:ref_type:*:ref:*",
	]
}

test_a_look_alike_group_does_not_get_the_group_identity if {
	claims := object.union(fixtures.gitlab_main_protected, {
		"project_path": "my-group-evil/app", "namespace_path": "my-group-evil",
		"sub": "project_path:my-group-evil/app:ref_type:branch:ref:main",
	})
	decide(claims, gitlab, "gitlab-ci-deploy").allow == false
	decide(claims, gitlab, "").allow == false
}

test_production_deployer_accepts_subgroups_of_platform_only_in_production if {
	deep := object.union(prod, {"project_path": "platform/infra/team/api"})
	decide(deep, gitlab_self, "production-deployer").allow == true
	staging := decide(object.union(prod, {"environment": "staging"}), gitlab_self, "production-deployer")
	staging.reasons == ["identity production-deployer, federation 0 (provider gitlab-self): environment `staging` is not one of production"]
	unprotected := decide(object.union(prod, {"environment_protected": "false"}), gitlab_self, "production-deployer")
	unprotected.reasons == ["identity production-deployer, federation 0 (provider gitlab-self): claim `environment_protected` is `false`, not true"]
	other := decide(object.union(prod, {"project_path": "platform-evil/api"}), gitlab_self, "production-deployer")
	other.reasons == ["identity production-deployer, federation 0 (provider gitlab-self): claim `project_path` is `platform-evil/api`, not platform/**"]
	decide(prod, gitlab, "production-deployer").allow == false
}

test_docs_reader_accepts_any_branch_of_its_projects if {
	handbook := object.union(fixtures.gitlab_feature_branch, {"project_path": "my-group/handbook"})
	d := decide(handbook, gitlab, "")
	d.allow == true
	d.identity == "docs-reader"
	d.subject == "docs-reader"
	decide(fixtures.gitlab_feature_branch, gitlab, "docs-reader").allow == false
}

test_two_example_identities_matching_is_ambiguous if {
	docs := object.union(fixtures.gitlab_main_protected, {
		"project_path": "my-group/docs",
		"sub": "project_path:my-group/docs:ref_type:branch:ref:main",
	})
	d := decide(docs, gitlab, "")
	d.allow == false
	d.reasons == ["ambiguous: identities docs-reader, gitlab-ci-deploy all accept this token; name one"]
	decide(docs, gitlab, "docs-reader").identity == "docs-reader"
	decide(docs, gitlab, "gitlab-ci-deploy@workload.example.com").identity == "gitlab-ci-deploy"
}

test_github_production_needs_the_production_environment if {
	d := decide(fixtures.github_environment_production, github, "github-production")
	d.allow == true
	d.scopes == ["deploy"]
	d.ttl_seconds == 600
	decide(fixtures.github_push_main, github, "github-production").allow == false
	pr := decide(object.union(fixtures.github_environment_production, {"ref": "refs/pull/42/merge"}), github, "github-production")
	pr.reasons == ["identity github-production, federation 0 (provider github): ref `pull:42/merge` is not one of branch:main"]
}

test_a_github_production_token_matches_two_identities_unless_named if {
	d := decide(fixtures.github_environment_production, github, "")
	d.allow == false
	d.reasons == ["ambiguous: identities github-production, github-release all accept this token; name one"]
}

test_a_merge_request_pipeline_gets_nothing_from_the_example if {
	d := decide(fixtures.gitlab_merge_request, gitlab, "")
	d.allow == false
	"no identity accepts this token from provider gitlab" in d.reasons
}

test_scopes_and_audiences_of_an_example_identity if {
	d := trustgate.decision with input as {
		"token": fixtures.gitlab_main_protected, "provider": gitlab, "now": "2026-11-23T10:00:00Z",
		"request": {"identity": "gitlab-ci-deploy", "scopes": ["read"], "audiences": ["https://api.example.com"], "client_ip": ""},
	}
	d.scopes == ["read"]
	d.audiences == ["https://api.example.com"]
	e := trustgate.decision with input as {
		"token": fixtures.gitlab_main_protected, "provider": gitlab, "now": "2026-11-23T10:00:00Z",
		"request": {"identity": "gitlab-ci-deploy", "scopes": ["deploy"], "audiences": [], "client_ip": ""},
	}
	e.allow == false
	e.error == "invalid_scope"
	e.identity == "gitlab-ci-deploy"
	e.reasons == ["scope deploy is not granted to identity gitlab-ci-deploy"]
}

# The explanation docs/policy-guide.md shows for a feature branch.
test_the_explanation_of_a_feature_branch if {
	ex := trustgate.explain with input as {
		"token": fixtures.gitlab_feature_branch, "provider": gitlab, "now": "2026-11-23T10:00:00Z",
		"request": {"identity": "gitlab-ci-deploy", "scopes": [], "audiences": [], "client_ip": "192.0.2.1"},
	}
	ex == {"identities": {"gitlab-ci-deploy": {
		"matched": false,
		"expired": false,
		"just_in_time": false,
		"grant_failures": [],
		"federations": [{
			"index": 0,
			"provider": "gitlab",
			"matched": false,
			"failures": [
				"claim `ref_protected` is `false`, not true",
				"ref `branch:feature/login` is not one of branch:main, tag:v*",
				"sub `project_path:my-group/app:ref_type:branch:ref:feature/login` does not match project_path:my-group/*:ref_type:*:ref:*",
			],
		}],
	}}}
}

test_the_custom_rules_deny_nothing_for_an_ordinary_token if {
	count(data.trustgate.custom.deny) == 0 with input as {
		"token": fixtures.gitlab_main_protected, "provider": gitlab, "now": "2026-11-23T10:00:00Z",
		"request": {"identity": "", "scopes": [], "audiences": [], "client_ip": ""},
	}
}

test_merge_request_pipelines_may_deploy_to_other_environments if {
	count(data.trustgate.custom.deny) == 0 with input as {
		"token": fixtures.gitlab_merge_request, "provider": gitlab, "now": "2026-11-23T10:00:00Z",
		"request": {"identity": "", "scopes": [], "audiences": [], "client_ip": ""},
	}
}

test_only_the_named_project_is_blocked if {
	claims := object.union(fixtures.gitlab_main_protected, {
		"project_path": "my-group/legacy-app2",
		"sub": "project_path:my-group/legacy-app2:ref_type:branch:ref:main",
	})
	decide(claims, gitlab, "gitlab-ci-deploy").allow == true
}

# Just-in-time access to prod-db-breakglass: the custom risk rule, the
# requesters and approvers the data names, and grants in the exchange.
monday_10 := "2026-11-23T10:00:00Z"

request_at(claims, provider, req, now) := r if {
	r := trustgate.access.request with input as {"token": claims, "provider": provider, "request": req, "now": now}
}

breakglass(seconds) := {"identity": "prod-db-breakglass", "duration_seconds": seconds, "reason": "incident 42", "scopes": []}

test_a_breakglass_request_in_working_hours_is_high_risk_with_one_approval if {
	r := request_at(fixtures.gitlab_main_protected, gitlab, breakglass(3600), monday_10)
	r.allow == true
	r.risk == "high"
	r.approvals_required == 1
	r.duration_seconds == 3600
}

test_a_breakglass_request_outside_working_hours_is_critical_with_two_approvals if {
	every now in ["2026-11-23T18:00:00Z", "2026-11-23T07:59:59Z", "2026-11-28T10:00:00Z", "2026-11-29T12:00:00Z"] {
		r := request_at(fixtures.gitlab_main_protected, gitlab, breakglass(3600), now)
		r.allow == true
		r.risk == "critical"
		r.approvals_required == 2
	}
}

test_working_hours_start_at_eight_and_end_before_six if {
	request_at(fixtures.gitlab_main_protected, gitlab, breakglass(3600), "2026-11-23T08:00:00Z").risk == "high"
	request_at(fixtures.gitlab_main_protected, gitlab, breakglass(3600), "2026-11-27T17:59:59Z").risk == "high"
}

test_no_duration_asks_for_the_default_hour if {
	request_at(fixtures.gitlab_main_protected, gitlab, breakglass(0), monday_10).duration_seconds == 3600
}

test_a_breakglass_request_longer_than_four_hours_is_refused if {
	r := request_at(fixtures.gitlab_main_protected, gitlab, breakglass(14401), monday_10)
	r.allow == false
	r.reasons == ["duration 14401s is longer than identity prod-db-breakglass's max_duration 4h"]
}

test_a_breakglass_request_from_a_feature_branch_is_refused if {
	r := request_at(fixtures.gitlab_feature_branch, gitlab, breakglass(3600), monday_10)
	r.allow == false
	count(r.reasons) > 0
}

test_a_breakglass_request_from_another_project_is_refused if {
	claims := object.union(fixtures.gitlab_main_protected, {"project_path": "my-group/other"})
	r := request_at(claims, gitlab, breakglass(3600), monday_10)
	r.allow == false
	count(r.reasons) > 0
}

test_a_standing_identity_cannot_be_requested if {
	req := object.union(breakglass(3600), {"identity": "gitlab-ci-deploy"})
	r := request_at(fixtures.gitlab_main_protected, gitlab, req, monday_10)
	r.allow == false
	r.reasons == ["identity gitlab-ci-deploy is not just-in-time: exchange a token for it instead"]
}

test_outside_working_hours_only_production_is_critical if {
	r := trustgate.custom.risk with input as {"token": {"environment": "staging"}, "request": {"identity": "x"}, "now": "2026-11-28T10:00:00Z"}
	not "critical" in r
}

test_a_production_job_raises_the_risk_of_any_just_in_time_request if {
	trustgate.custom.production with input as {"token": {"environment": "production"}, "request": {"identity": "x"}}
	not trustgate.custom.production with input as {"token": {"environment": "staging"}, "request": {"identity": "x"}}
}

corp := {"name": "corp", "issuer": "https://login.example.com", "platform": "generic"}

alice := {"iss": "https://login.example.com", "sub": "u-alice", "email": "alice@example.com", "groups": ["sre", "prod-approvers"]}

stored := {
	"id": "r1", "identity": "prod-db-breakglass", "state": "pending", "reviews": [],
	"requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": fixtures.gitlab_main_protected.sub, "claims": {"user_login": "sample-user"}},
}

review_by(claims, provider) := r if {
	r := trustgate.access.review with input as {"request": stored, "token": claims, "provider": provider, "verdict": "approve", "now": monday_10}
}

test_a_prod_approver_of_the_company_idp_may_approve if {
	review_by(alice, corp).allow == true
}

test_a_person_outside_prod_approvers_may_not_approve if {
	r := review_by(object.union(alice, {"groups": ["sre"]}), corp)
	r.allow == false
}

test_the_person_behind_the_pipeline_may_not_approve_it if {
	r := review_by(object.union(alice, {"preferred_username": "sample-user"}), corp)
	r.allow == false
	"a requester may not review their own request" in r.reasons
}

grant(binds, ends_at) := {
	"id": "r1", "identity": "prod-db-breakglass", "ends_at": ends_at, "binds": binds,
	"binding": {"kind": "ref", "provider": "gitlab", "issuer": "https://gitlab.com", "project": "my-group/app", "ref": "branch:main"},
}

decide_grants(grants) := d if {
	d := trustgate.decision with input as {
		"token": fixtures.gitlab_main_protected, "provider": gitlab, "now": monday_10, "grants": grants,
		"request": {"identity": "prod-db-breakglass", "scopes": [], "audiences": [], "client_ip": ""},
	}
}

test_breakglass_is_granted_only_through_an_active_grant_for_the_token if {
	d := decide_grants([grant(true, "2026-11-23T11:00:00Z")])
	d.allow == true
	d.grant == "r1"
	d.roles == ["db-admin"]
	decide_grants([]).allow == false
	decide_grants([grant(false, "2026-11-23T11:00:00Z")]).allow == false
	decide_grants([grant(true, "2026-11-23T10:00:00Z")]).allow == false
}
