# Tests of how refs and environments are read per platform: GitLab and
# generic tokens carry ref_type and ref, GitHub tokens the full ref.
# Helpers (decide, deploy, main, ...) are decision_test.rego's.
package trustgate_test

import data.fixtures

generic := {"name": "ci", "issuer": "https://ci.example.com", "platform": "generic"}

generic_refs := {"x": {"federations": [{"provider": "ci", "subject": "job:*", "refs": ["branch:main", "tag:v*"]}]}}

test_generic_refs_are_ref_type_and_ref if {
	claims := {"sub": "job:42", "ref": "main", "ref_type": "branch"}
	decide(claims, generic, "x", generic_refs).allow == true
	decide(with_claims(claims, {"ref": "v3", "ref_type": "tag"}), generic, "x", generic_refs).allow == true
	d := decide(with_claims(claims, {"ref": "dev"}), generic, "x", generic_refs)
	d.reasons == ["identity x, federation 0 (provider ci): ref `branch:dev` is not one of branch:main, tag:v*"]
}

test_a_ref_without_ref_type_cannot_be_read if {
	d := decide({"sub": "job:42", "ref": "main"}, generic, "x", generic_refs)
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider ci): ref `main` is not a branch, tag or pull request ref"]
	e := decide({"sub": "job:42", "ref_type": "branch"}, generic, "x", generic_refs)
	e.reasons == ["identity x, federation 0 (provider ci): the token has no ref"]
}

test_a_github_ref_of_another_kind_cannot_be_read if {
	ids := {"x": {"federations": [{"provider": "github", "claims": {"repository": "acme/service"}, "refs": ["branch:*", "tag:*", "pull:*"]}]}}
	d := decide(with_claims(fixtures.github_push_main, {"ref": "refs/remotes/origin/main"}), github, "x", ids)
	d.allow == false
	d.reasons == ["identity x, federation 0 (provider github): ref `refs/remotes/origin/main` is not a branch, tag or pull request ref"]
	decide(with_claims(fixtures.github_push_main, {"ref": "main"}), github, "x", ids).allow == false
}

test_a_github_branch_glob_stays_within_one_segment if {
	ids := {"x": {"federations": [{"provider": "github", "claims": {"repository": "acme/service"}, "refs": ["branch:release/*"]}]}}
	decide(with_claims(fixtures.github_push_main, {"ref": "refs/heads/release/1.x"}), github, "x", ids).allow == true
	decide(with_claims(fixtures.github_push_main, {"ref": "refs/heads/release/1.x/hotfix"}), github, "x", ids).allow == false
}

test_github_release_tags if {
	decide(fixtures.github_release_tag, github, "x", gh_release).allow == true
	decide(with_claims(fixtures.github_release_tag, {"ref": "refs/tags/nightly"}), github, "x", gh_release).allow == false
}

gh_prod := {"x": {"federations": [{
	"provider": "github",
	"subject": "repo:acme/service:environment:production",
	"refs": ["branch:main"],
	"environments": ["production"],
}]}}

test_github_environments if {
	decide(fixtures.github_environment_production, github, "x", gh_prod).allow == true
	d := decide(with_claims(fixtures.github_environment_production, {"environment": "staging", "sub": "repo:acme/service:environment:staging"}), github, "x", gh_prod)
	d.allow == false
	d.reasons == [
		"identity x, federation 0 (provider github): environment `staging` is not one of production",
		"identity x, federation 0 (provider github): sub `repo:acme/service:environment:staging` does not match repo:acme/service:environment:production",
	]
	e := decide(fixtures.github_push_main, github, "x", gh_prod)
	e.allow == false
	"identity x, federation 0 (provider github): environment `prod` is not one of production" in e.reasons
}

test_an_environment_glob if {
	ids := one_fed({"provider": "gitlab", "environments": ["review/*"]})
	decide(fixtures.gitlab_merge_request, gitlab, "x", ids).allow == true
	decide(with_claims(fixtures.gitlab_merge_request, {"environment": "review/a/b"}), gitlab, "x", ids).allow == false
	decide(with_claims(fixtures.gitlab_merge_request, {"environment": "production"}), gitlab, "x", ids).allow == false
}

test_a_non_string_environment_matches_only_its_json_text if {
	ids := one_fed({"provider": "gitlab", "environments": ["1"]})
	decide(with_claims(main, {"environment": 1}), gitlab, "x", ids).allow == true
	d := decide(with_claims(main, {"environment": 10}), gitlab, "x", ids)
	d.reasons == ["identity x, federation 0 (provider gitlab): environment `10` is not one of 1"]
}

test_a_merge_request_pipeline_is_not_protected_main if {
	d := decide(fixtures.gitlab_merge_request, gitlab, "deploy", {"deploy": deploy})
	d.allow == false
	d.reasons == [
		"identity deploy, federation 0 (provider gitlab): claim `ref_protected` is `false`, not true",
		"identity deploy, federation 0 (provider gitlab): ref `branch:feature/login` is not one of branch:main, tag:v*",
	]
}

test_a_pipeline_source_condition if {
	ids := one_fed({"provider": "gitlab", "claims": {"project_path": "my-group/app", "pipeline_source": ["push", "web", "schedule"]}})
	decide(main, gitlab, "x", ids).allow == true
	d := decide(fixtures.gitlab_merge_request, gitlab, "x", ids)
	d.reasons == ["identity x, federation 0 (provider gitlab): claim `pipeline_source` is `merge_request_event`, not push, web, schedule"]
}
