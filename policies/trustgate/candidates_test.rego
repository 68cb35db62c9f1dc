# Tests of candidates.rego: with the server's index, an exchange that names
# no identity is matched against its candidates only, and a denial explains
# a bounded number of them. Helpers (main, gitlab, deploy, ...) are
# decision_test.rego's.
package trustgate_test

import data.trustgate

project(path) := {"scopes": ["read"], "federations": [{"provider": "gitlab", "claims": {"project_path": path}}]}

projects := {"app": project("my-group/app"), "docs": project("my-group/docs"), "any": {
	"scopes": ["read"],
	"federations": [{"provider": "gitlab", "claims": {"project_path": "other/*"}}],
}}

index := {"built": true, "providers": {"gitlab": {
	"claim": "project_path",
	"by": {"my-group/app": ["app"], "my-group/docs": ["docs"]},
	"rest": ["any"],
}}}

decide_indexed(claims, ids, ix) := d if {
	d := trustgate.decision with input as {"token": claims, "provider": gitlab, "request": request("", [], []), "now": now}
		with data.trustgate.identities as ids
		with data.trustgate.index as ix
}

test_an_unnamed_token_is_granted_the_identity_its_indexed_claim_leads_to if {
	d := decide_indexed(main, projects, index)
	d.allow == true
	d.identity == "app"
	trustgate.candidates == {"app", "any"} with input as {"token": main, "provider": gitlab}
		with data.trustgate.identities as projects
		with data.trustgate.index as index
}

test_an_identity_the_index_does_not_lead_to_is_not_matched if {
	# The index says only docs could match my-group/app: app is not tried.
	ix := {"built": true, "providers": {"gitlab": {"claim": "project_path", "by": {"my-group/app": ["docs"]}, "rest": []}}}
	d := decide_indexed(main, projects, ix)
	d.allow == false
	d.reasons == [
		"identity docs, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not my-group/docs",
		"no identity accepts this token from provider gitlab",
	]
}

test_an_identity_in_rest_is_always_a_candidate if {
	d := decide_indexed(with_claims(main, {"project_path": "other/x"}), projects, index)
	d.allow == true
	d.identity == "any"
}

test_a_provider_the_index_does_not_have_has_no_candidates if {
	d := decide_indexed(main, projects, {"built": true, "providers": {"github": index.providers.gitlab}})
	d.allow == false
	d.reasons == ["no identity accepts this token from provider gitlab"]
}

test_a_claim_that_is_not_a_string_is_looked_up_by_its_json_text if {
	ids := {"runner": {"federations": [{"provider": "gitlab", "claims": {"runner_id": "1"}}]}}
	ix := {"built": true, "providers": {"gitlab": {"claim": "runner_id", "by": {"1": ["runner"]}, "rest": []}}}
	decide_indexed(main, ids, ix).identity == "runner"
	trustgate.indexed_values("groups_direct") == {"my-group", "[\"my-group\"]"} with input.token as main
	not trustgate.indexed_values("absent") with input.token as main
}

many := {sprintf("id-%02d", [i]): project(sprintf("other/%d", [i])) | some i in numbers.range(1, 12)}

test_a_denial_explains_at_most_ten_candidates_and_counts_the_others if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "now": now}
		with data.trustgate.identities as many
	d.allow == false
	count(d.reasons) == 12
	"identity id-01, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not other/1" in d.reasons
	"identity id-10, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not other/10" in d.reasons
	not "identity id-11, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not other/11" in d.reasons
	"2 more candidate identities are not explained; name one to see its reasons" in d.reasons
}

test_an_ambiguous_token_counts_no_unexplained_candidates if {
	two := {"a": project("my-group/app"), "b": project("my-group/*")}
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "now": now}
		with data.trustgate.identities as object.union(many, two)
	d.allow == false
	d.reasons == ["ambiguous: identities a, b all accept this token; name one"]
}

jit_app := object.union(project("my-group/app"), {"access": "just-in-time"})

decide_unnamed(ids) := d if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("", [], []), "now": now}
		with data.trustgate.identities as ids
}

test_an_unnamed_token_only_a_just_in_time_identity_accepts_says_to_name_it if {
	d := decide_unnamed({"jit": jit_app, "docs": project("my-group/docs")})
	d.allow == false
	d.reasons == [
		"identity docs, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not my-group/docs",
		"identity jit is just-in-time: name it to use an approved request",
		"no identity accepts this token from provider gitlab",
	]
}

test_a_just_in_time_identity_that_does_not_accept_the_token_is_not_said_to_be_named if {
	d := decide_unnamed({"jit": object.union(jit_app, {"federations": [{"provider": "gitlab", "claims": {"project_path": "other/x"}}]})})
	d.reasons == [
		"identity jit, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not other/x",
		"no identity accepts this token from provider gitlab",
	]
}

test_an_ambiguous_token_does_not_also_point_at_a_just_in_time_identity if {
	d := decide_unnamed({"a": project("my-group/app"), "b": project("my-group/*"), "jit": jit_app})
	d.reasons == ["ambiguous: identities a, b all accept this token; name one"]
}

test_a_just_in_time_identity_beyond_the_explained_candidates_is_counted_not_named if {
	d := decide_unnamed(object.union(many, {"zz-jit": jit_app}))
	d.allow == false
	not "identity zz-jit is just-in-time: name it to use an approved request" in d.reasons
	"3 more candidate identities are not explained; name one to see its reasons" in d.reasons
}

test_a_named_denial_does_not_point_at_an_accepting_just_in_time_identity if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request("docs", [], []), "now": now}
		with data.trustgate.identities as {"jit": jit_app, "docs": project("my-group/docs")}
	d.reasons == ["identity docs, federation 0 (provider gitlab): claim `project_path` is `my-group/app`, not my-group/docs"]
}

decide_named_indexed(name, ids, ix) := d if {
	d := trustgate.decision with input as {"token": main, "provider": gitlab, "request": request(name, [], []), "now": now}
		with data.trustgate.identities as ids
		with data.trustgate.index as ix
}

test_with_an_index_an_email_names_the_identity_the_index_lists_for_it if {
	ix := object.union(index, {"emails": {"ops@workload.example.com": ["deploy"]}})
	d := decide_named_indexed("ops@workload.example.com", {"deploy": deploy}, ix)
	d.allow == true
	d.identity == "deploy"
}

test_with_an_index_an_email_it_does_not_list_names_no_identity if {
	# The identities are not scanned: the index is the server's, built
	# from them.
	d := decide_named_indexed("deploy@workload.example.com", {"deploy": deploy}, index)
	d.allow == false
	d.reasons == ["no identity is named deploy@workload.example.com or has it as email"]
}

test_with_an_index_an_email_it_lists_twice_is_ambiguous if {
	ix := object.union(index, {"emails": {"ops@workload.example.com": ["a", "b"]}})
	d := decide_named_indexed("ops@workload.example.com", {"a": deploy, "b": deploy}, ix)
	d.allow == false
	d.reasons == ["ambiguous: identities a, b all have the email ops@workload.example.com; name one"]
}
