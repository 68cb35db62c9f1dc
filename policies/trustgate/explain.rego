# data.trustgate.explain: for each candidate identity (the named one, or
# every identity when none is named), federation by federation, what matched
# and what did not. `trustgate explain` prints it; a denial's reasons are
# built from it (decision.rego).
package trustgate

explain := {"identities": {name: identity_explanation(name) | some name in explain_candidates}}

explain_candidates contains named_identity

explain_candidates contains name if {
	requested == ""
	some name, _ in known_identities
}

identity_explanation(name) := {
	"matched": identity_granted(name),
	"expired": is_expired(known_identities[name]),
	"federations": [federation_explanation(i, fed) |
		some i, fed in object.get(known_identities[name], "federations", [])
	],
}

# identity_granted: a federation matched, the identity has not expired, and
# nothing denies every identity (a custom rule, an input without a time).
identity_granted(name) if {
	identity_matched(known_identities[name])
	count(global_reasons) == 0
} else := false

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
