# data.trustgate.explain: for each candidate identity (the named one, or
# every identity when none is named), federation by federation, what matched
# and what did not. `trustgate explain` prints it.
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

identity_granted(name) if {
	identity_matched(known_identities[name])
	count(custom_reasons) == 0
} else := false

is_expired(id) if expired(id)

else := false

federation_explanation(i, fed) := {
	"index": i,
	"provider": fed.provider,
	"matched": count(failures) == 0,
	"failures": sort(failures),
} if {
	failures := federation_failures(fed)
}
