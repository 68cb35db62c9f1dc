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

# Risk of just-in-time requests (data.trustgate.access.request): a request
# that touches production is high risk and needs one approval from
# prod-approvers; outside working hours it is critical and needs two
# (data.trustgate.risk_levels). Every request starts at the library's
# "high"; the highest risk wins.
risk contains "critical" if {
	production
	not working_hours
}

# production: the identity asked for is a production one, or the requesting
# job deploys to production.
production if input.request.identity in data.trustgate.production_identities

production if input.token.environment == "production"

# working_hours: input.now (UTC) falls on a working day, inside the hours of
# data.trustgate.working_hours.
working_hours if {
	hours := data.trustgate.working_hours
	now := time.parse_rfc3339_ns(input.now)
	time.weekday(now) in hours.days
	[hour, _, _] := time.clock(now)
	hours.start_hour <= hour
	hour < hours.end_hour
}
