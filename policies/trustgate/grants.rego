# Grants of just-in-time identities (DESIGN §13). An identity marked
# `access: just-in-time` is granted only when the caller names it and an
# approved request covers the token: input.grants holds the identity's
# active grants from the store, each with `binds`, whether its binding
# (subject, project, ref or pipeline) is this token's, as the engine
# computed it. The decision carries the grant's id; the engine ends the
# issued token no later than the grant.
package trustgate

import data.trustgate.identities as known_identities

just_in_time(id) if id.access == "just-in-time"

# access_granted: the named identity is standing, or a grant covers it.
access_granted if not just_in_time(known_identities[named_identity])

access_granted if active_grant

named_grants := [g | some g in object.get(input, "grants", []); g.identity == named_identity]

# usable_grants bind this token, have started and have not ended.
usable_grants contains g if {
	some g in named_grants
	g.binds == true
	started(g)
	now_ns < time.parse_rfc3339_ns(g.ends_at)
}

# started: the grant has no start of its own, or it has come.
started(g) if object.get(g, "starts_at", "") == ""

started(g) if time.parse_rfc3339_ns(g.starts_at) <= now_ns

# active_grant is the usable grant that ends last (ties broken by id).
active_grant := ranked[count(ranked) - 1][1] if {
	ranked := sort([[time.parse_rfc3339_ns(g.ends_at), g.id] | some g in usable_grants])
}

default grant_id := ""

grant_id := active_grant if just_in_time(selected_identity)

# the_grant is the grant a just-in-time identity is granted through: what
# it carries bounds the token (its scopes; its audiences, when the request
# named any).
the_grant := g if {
	just_in_time(selected_identity)
	some g in usable_grants
	g.id == active_grant
}

scope_reasons contains sprintf("scope %s was not approved in grant %s (approved: %s)", [s, the_grant.id, concat(", ", the_grant.scopes)]) if {
	some s in requested_scopes
	not s in the_grant.scopes
}

audience_reasons contains sprintf("audience %s was not approved in grant %s (approved: %s)", [a, the_grant.id, concat(", ", the_grant.audiences)]) if {
	count(the_grant.audiences) > 0
	some a in requested_audiences
	not a in the_grant.audiences
}

# grant_scopes are what a grant gives when no scope is asked for: the
# scopes it carries that the identity still has.
grant_scopes := [s | some s in the_grant.scopes; s in object.get(selected_identity, "scopes", [])]

# grant_audiences is the audience a grant that names audiences gives when
# none is asked for: the first it carries that the identity still allows
# (none left: none, and the engine refuses the token).
grant_audiences := array.slice([a | some a in the_grant.audiences; a in object.get(selected_identity, "audiences", [])], 0, 1)

# grant_failures say why no grant covers the named identity's token.
grant_failures contains sprintf("identity %s is just-in-time and has no approved request: ask for one (trustgate access request)", [named_identity]) if {
	count(named_grants) == 0
}

grant_failures contains sprintf("grant %s is for %s, not this token", [g.id, binding_text(g.binding)]) if {
	some g in named_grants
	g.binds != true
}

grant_failures contains sprintf("grant %s ended at %s", [g.id, g.ends_at]) if {
	some g in named_grants
	not now_ns < time.parse_rfc3339_ns(g.ends_at)
}

grant_failures contains sprintf("grant %s starts at %s", [g.id, g.starts_at]) if {
	some g in named_grants
	not started(g)
}

identity_reasons contains failure if {
	id := known_identities[named_identity]
	just_in_time(id)
	identity_matched(id)
	not active_grant
	some failure in grant_failures
}

# binding_text is a grant's binding in words.
binding_text(b) := sprintf("sub %s", [b.sub]) if {
	b.kind == "subject"
} else := sprintf("project %s", [b.project]) if {
	b.kind == "project"
} else := sprintf("project %s, ref %s", [b.project, b.ref]) if {
	b.kind == "ref"
} else := sprintf("project %s, pipeline %s", [b.project, b.pipeline]) if {
	b.kind == "pipeline"
} else := json.marshal(b)
