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
