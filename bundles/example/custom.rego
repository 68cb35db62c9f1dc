# Custom rules of this bundle. Rules in package trustgate.custom can only
# narrow what the data grants: every message in `deny` vetoes the decision.
package trustgate.custom

# Merge-request pipelines run code nobody has reviewed yet: never grant
# production from them.
deny contains "merge request pipelines may not deploy to production" if {
	input.token.environment == "production"
	input.token.pipeline_source == "merge_request_event"
}

# A project that must never get tokens, whatever the identities say.
deny contains sprintf("project %s is blocked", [input.token.project_path]) if {
	input.token.project_path in {"my-group/legacy-app"}
}

# Change freezes: no token while now is inside a window of data.trustgate.freeze.
deny contains sprintf("change freeze until %s: %s", [w.until, w.reason]) if {
	some w in data.trustgate.freeze
	now := time.parse_rfc3339_ns(input.now)
	time.parse_rfc3339_ns(w.from) <= now
	now < time.parse_rfc3339_ns(w.until)
}
