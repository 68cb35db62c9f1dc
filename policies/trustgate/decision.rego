# The decision of DESIGN §4: which identity, roles, scopes, audiences and
# lifetime a verified token is granted, or why not.
package trustgate

known_identities := data.trustgate.identities

now_ns := time.parse_rfc3339_ns(input.now)

requested := input.request.identity

# named_identity is the identity the caller asked for, by name or by email.
named_identity := requested if {
	known_identities[requested]
} else := name if {
	requested != ""
	some name, id in known_identities
	id.email == requested
}

# expired holds for an identity past its expires_at.
expired(id) if now_ns >= time.parse_rfc3339_ns(id.expires_at)

# identity_matched: not expired, and some federation has no failure. An
# identity with no federations never matches.
identity_matched(id) if {
	not expired(id)
	some fed in id.federations
	count(federation_failures(fed)) == 0
}

# matching is every identity that accepts the token, when none is named.
matching contains name if {
	some name, id in known_identities
	identity_matched(id)
}

# selected is the identity a grant is for.
selected := named_identity if {
	identity_matched(known_identities[named_identity])
}

selected := name if {
	requested == ""
	count(matching) == 1
	some name in matching
}

selected_identity := known_identities[selected]

identity_reasons contains sprintf("no identity is named %s or has it as email", [requested]) if {
	requested != ""
	not named_identity
}

identity_reasons contains sprintf("identity %s expired at %s", [named_identity, id.expires_at]) if {
	id := known_identities[named_identity]
	expired(id)
}

identity_reasons contains sprintf("identity %s has no federations", [named_identity]) if {
	id := known_identities[named_identity]
	count(object.get(id, "federations", [])) == 0
}

identity_reasons contains msg if {
	id := known_identities[named_identity]
	not expired(id)
	not identity_matched(id)
	some i, fed in id.federations
	some failure in federation_failures(fed)
	msg := sprintf("identity %s, federation %d (provider %s): %s", [named_identity, i, fed.provider, failure])
}

identity_reasons contains sprintf("no identity accepts this token from provider %s", [input.provider.name]) if {
	requested == ""
	count(matching) == 0
}

# With no identity named and none matching, say why for each identity that
# federates with this provider.
identity_reasons contains msg if {
	requested == ""
	count(matching) == 0
	some name, id in known_identities
	not expired(id)
	some i, fed in id.federations
	fed.provider == input.provider.name
	some failure in federation_failures(fed)
	msg := sprintf("identity %s, federation %d (provider %s): %s", [name, i, fed.provider, failure])
}

identity_reasons contains sprintf("ambiguous: identities %s all accept this token; name one", [concat(", ", sort(matching))]) if {
	requested == ""
	count(matching) > 1
}

scope_reasons contains sprintf("scope %s is not granted to identity %s", [s, selected]) if {
	some s in input.request.scopes
	not s in object.get(selected_identity, "scopes", [])
}

audience_reasons contains sprintf("audience %s is not allowed for identity %s", [a, selected]) if {
	some a in input.request.audiences
	not a in object.get(selected_identity, "audiences", [])
}

# custom_reasons are the vetoes of bundles' `package trustgate.custom`.
custom_reasons := {msg | some msg in data.trustgate.custom.deny}

deny_reasons := ((identity_reasons | scope_reasons) | audience_reasons) | custom_reasons

granted_scopes := input.request.scopes if {
	count(input.request.scopes) > 0
} else := object.get(selected_identity, "scopes", [])

granted_audiences := input.request.audiences if {
	count(input.request.audiences) > 0
} else := [selected_identity.audiences[0]] if {
	count(object.get(selected_identity, "audiences", [])) > 0
} else := []

ttl_seconds := round(time.parse_duration_ns(object.get(selected_identity, "ttl", "0s")) / 1000000000)

subject := selected_identity.email if {
	selected_identity.email != ""
} else := selected

grant := {
	"allow": true,
	"identity": selected,
	"subject": subject,
	"roles": object.get(selected_identity, "roles", []),
	"scopes": granted_scopes,
	"audiences": granted_audiences,
	"ttl_seconds": ttl_seconds,
	"reasons": [],
}

# deny_error classifies a deny that is only about scopes or audiences.
deny_error := "invalid_scope" if {
	count(custom_reasons) == 0
	count(scope_reasons) > 0
} else := "invalid_target" if {
	count(custom_reasons) == 0
	count(audience_reasons) > 0
} else := ""

denied := {
	"allow": false,
	"identity": selected_name,
	"subject": "",
	"roles": [],
	"scopes": [],
	"audiences": [],
	"ttl_seconds": 0,
	"reasons": sort(deny_reasons),
	"error": deny_error,
}

default selected_name := ""

selected_name := selected

# decision is always one object: the grant when nothing denies, else the denial.
decision := grant if {
	count(deny_reasons) == 0
} else := denied
