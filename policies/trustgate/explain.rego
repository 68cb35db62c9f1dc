# data.trustgate.explain: for each candidate identity (the named one, or
# every identity when none is named), federation by federation, what matched
# and what did not. `trustgate explain` prints it; a denial's reasons are
# built from it (decision.rego).
package trustgate

import data.trustgate.identities as known_identities

explain := {"identities": {name: identity_explanation(name) | some name in explain_candidates}}

explain_candidates contains named_identity

explain_candidates contains name if {
	requested == ""
	some name, _ in known_identities
}

identity_explanation(name) := {
	"matched": identity_granted(name),
	"expired": is_expired(known_identities[name]),
	"just_in_time": is_just_in_time(known_identities[name]),
	"grant_failures": explained_grant_failures(name),
	"federations": [federation_explanation(i, fed) |
		some i, fed in object.get(known_identities[name], "federations", [])
	],
}

# identity_granted: a federation matched, the identity has not expired, and
# nothing denies every identity (a custom rule, an input without a time).
identity_granted(name) if {
	identity_matched(known_identities[name])
	granted_access(name)
	count(global_reasons) == 0
} else := false

# granted_access: a standing identity, or a just-in-time one with an active
# grant. Grants are only ever the named identity's (active_grant), and a
# named identity is the only one explained.
granted_access(name) if not just_in_time(known_identities[name])

granted_access(_) if active_grant

is_just_in_time(id) if just_in_time(id)

else := false

# explained_grant_failures: why no grant covers a just-in-time identity.
explained_grant_failures(name) := [] if {
	granted_access(name)
} else := sort(grant_failures) if {
	name == named_identity
} else := ["name the identity to use an approved request"]

is_expired(id) if expired(id)

else := false

federation_explanation(i, fed) := {
	"index": i,
	"provider": federation_provider(fed),
	"matched": count(failures) == 0,
	"failures": sort(failures),
} if {
	failures := federation_failures(fed)
}
