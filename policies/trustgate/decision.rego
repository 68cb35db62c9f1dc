# The decision of DESIGN §4: which identity, roles, scopes, audiences and
# lifetime a verified token is granted, or why not. data.trustgate.decision
# is always one object: a grant, or a denial with at least one reason.
package trustgate

# known_identities is data.trustgate.identities, imported rather than
# assigned to a rule: a rule's value would be every identity, and the
# server serves the identities one at a time (known_identities[name] with
# name bound reads that identity only).
import data.trustgate.identities as known_identities

now_ns := time.parse_rfc3339_ns(input.now)

requested := object.get(input, ["request", "identity"], "")

# The request's lists; absent or null is an empty list.
default requested_scopes := []

requested_scopes := input.request.scopes if input.request.scopes != null

default requested_audiences := []

requested_audiences := input.request.audiences if input.request.audiences != null

# input_reasons refuse an input the engine would never build: without a
# time, expiry and change freezes could not be decided.
input_reasons contains "the input has no valid `now` (an RFC 3339 time)" if not now_ns

input_reasons contains "the request's scopes are not a list" if not is_array(requested_scopes)

input_reasons contains "the request's audiences are not a list" if not is_array(requested_audiences)

# named_identity is the identity the caller asked for: by name, else by
# email. Only that identity is looked up; an email is found in the
# server's index (a scan without one).
named_identity := requested if {
	requested != ""
	known_identities[requested]
} else := name if {
	count(email_owners) == 1
	some name in email_owners
}

# email_owners are the identities whose email the caller gave. The engine
# refuses bundles where two identities share one; here it is a denial.
email_owners := {name | some name in data.trustgate.index.emails[requested]} if {
	indexed
} else := {name |
	requested != ""
	some name, id in known_identities
	id.email == requested
}

# expired holds for an identity past its expires_at, and fails closed: an
# expiry that cannot be compared with now counts as passed.
expired(id) if {
	id.expires_at != ""
	not before_expiry(id)
}

before_expiry(id) if now_ns < time.parse_rfc3339_ns(id.expires_at)

# identity_matched: not expired, and some federation of the token's provider
# has no failure. An identity with no federations never matches. Other
# providers' federations are skipped before any condition is evaluated.
identity_matched(id) if {
	not expired(id)
	some fed in id.federations
	federation_matches(fed)
}

# accepting is every candidate that accepts the token; only candidates can.
accepting contains name if {
	some name in candidates
	identity_matched(known_identities[name])
}

# matching is every identity used when none is named: an accepting one,
# never a just-in-time identity, which is used only when named.
matching contains name if {
	some name in accepting
	not just_in_time(known_identities[name])
}

# selected is the identity a grant is for.
selected := named_identity if {
	identity_matched(known_identities[named_identity])
	access_granted
}

selected := name if {
	requested == ""
	count(matching) == 1
	some name in matching
}

selected_identity := known_identities[selected]

identity_reasons contains sprintf("no identity is named %s or has it as email", [requested]) if {
	requested != ""
	not known_identities[requested]
	count(email_owners) == 0
}

identity_reasons contains sprintf("ambiguous: identities %s all have the email %s; name one", [concat(", ", sort(email_owners)), requested]) if {
	not known_identities[requested]
	count(email_owners) > 1
}

identity_reasons contains sprintf("identity %s expired at %s", [named_identity, id.expires_at]) if {
	id := known_identities[named_identity]
	expired(id)
}

identity_reasons contains sprintf("identity %s has no federations", [named_identity]) if {
	id := known_identities[named_identity]
	count(object.get(id, "federations", [])) == 0
}

# The named identity's failures are its explanation's, federation by
# federation.
identity_reasons contains federation_reason(named_identity, f, failure) if {
	not identity_matched(known_identities[named_identity])
	ex := identity_explanation(named_identity)
	not ex.expired
	some f in ex.federations
	some failure in f.failures
}

identity_reasons contains sprintf("no identity accepts this token from provider %s", [token_provider]) if {
	requested == ""
	count(matching) == 0
}

# With no identity named and none matching, say why for each live
# candidate that federates with this provider (at most max_explained), and
# how many more there are.
identity_reasons contains federation_reason(name, f, failure) if {
	requested == ""
	count(matching) == 0
	some name in explained
	id := known_identities[name]
	not expired(id)
	some f in identity_explanation(name).federations
	f.provider == input.provider.name
	some failure in f.failures
}

identity_reasons contains sprintf("%d more candidate identities are not explained; name one to see its reasons", [n]) if {
	requested == ""
	count(matching) == 0
	n := count(candidates) - count(explained)
	n > 0
}

identity_reasons contains sprintf("ambiguous: identities %s all accept this token; name one", [concat(", ", sort(matching))]) if {
	requested == ""
	count(matching) > 1
}

# With none matching, every accepting candidate is just-in-time.
identity_reasons contains sprintf("identity %s is just-in-time: name it to use an approved request", [name]) if {
	requested == ""
	count(matching) == 0
	some name in accepting
	name in explained
}

federation_reason(name, f, failure) := sprintf("identity %s, federation %d (provider %s): %s", [name, f.index, f.provider, failure])

scope_reasons contains sprintf("scope %s is not granted to identity %s", [s, selected]) if {
	some s in requested_scopes
	not s in object.get(selected_identity, "scopes", [])
}

audience_reasons contains sprintf("audience %s is not allowed for identity %s", [a, selected]) if {
	some a in requested_audiences
	not a in object.get(selected_identity, "audiences", [])
}

# custom_deny is the veto of bundles' `package trustgate.custom`: a set of
# messages (`deny contains msg if ...`); none when no bundle has one.
default custom_deny := set()

custom_deny := data.trustgate.custom.deny

# custom_messages reads custom_deny whatever its shape, failing closed: a
# `deny if ...` rule is true, and anything unreadable is a veto too.
custom_messages := custom_deny if {
	is_set(custom_deny)
} else := custom_deny if {
	is_array(custom_deny)
} else := set() if {
	not custom_deny
} else := {"a custom rule denied this token"} if {
	type_name(custom_deny) == "boolean"
} else := {custom_deny} if {
	is_string(custom_deny)
} else := {sprintf("data.trustgate.custom.deny is %s, not a set of messages: denied", [type_name(custom_deny)])}

custom_reasons := {message_text(m) | some m in custom_messages}

# message_text is a custom message as a string.
message_text(m) := m if {
	is_string(m)
} else := json.marshal(m)

# global_reasons deny whichever identity would match.
global_reasons := custom_reasons | input_reasons

deny_reasons := ((identity_reasons | scope_reasons) | audience_reasons) | global_reasons

granted_scopes := requested_scopes if {
	count(requested_scopes) > 0
} else := grant_scopes if {
	the_grant
} else := object.get(selected_identity, "scopes", [])

granted_audiences := requested_audiences if {
	count(requested_audiences) > 0
} else := grant_audiences if {
	count(the_grant.audiences) > 0
} else := [selected_identity.audiences[0]] if {
	count(object.get(selected_identity, "audiences", [])) > 0
} else := []

ttl_seconds := round(time.parse_duration_ns(object.get(selected_identity, "ttl", "0s")) / 1000000000)

subject := selected_identity.email if {
	selected_identity.email != ""
} else := selected

grant := {
	"allow": true,
	"grant": grant_id,
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
	count(global_reasons) == 0
	count(scope_reasons) > 0
} else := "invalid_target" if {
	count(global_reasons) == 0
	count(audience_reasons) > 0
} else := ""

# denial_reasons is never empty: a denial always says something.
denial_reasons := sort(deny_reasons) if {
	count(deny_reasons) > 0
} else := [sprintf("identity %s does not accept this token", [named_identity])] if {
	named_identity
} else := ["no identity accepts this token"]

denied := {
	"allow": false,
	"grant": "",
	"identity": selected_name,
	"subject": "",
	"roles": [],
	"scopes": [],
	"audiences": [],
	"ttl_seconds": 0,
	"reasons": denial_reasons,
	"error": deny_error,
}

default selected_name := ""

selected_name := selected

# decision is always one object: the grant when nothing refuses it, else
# the denial. grant is built from the selected identity, so without one it
# is undefined and the denial is given. Only a denial computes the reasons
# of identity_reasons: a grant needs none of them.
decision := grant if {
	count(input_reasons) == 0
	count(custom_messages) == 0
	count(scope_reasons) == 0
	count(audience_reasons) == 0
} else := denied
