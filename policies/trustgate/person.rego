# Who a person is (DESIGN §13, docs/just-in-time.md), defined once: one
# person is one person whatever provider their token comes through. A
# token names a person by its email, lower-cased, when the provider vouches
# for it (the token's email_verified is not false and the bundle does not
# configure the provider `emails_verified: false`); otherwise by its issuer
# and sub. Two reviews by one person count once, and the person behind a
# request may not review it.
package trustgate

# vouched_email is claims[name], lower-cased, when the token of provider
# (a provider's name in the bundles) vouches for it; undefined otherwise.
vouched_email(provider, claims, name) := lower(e) if {
	e := claims[name]
	is_string(e)
	e != ""
	not email_unverified(claims)
	object.get(data.trustgate.providers, [provider, "emails_verified"], true) != false
}

# email_unverified: the token says its email is not verified (some IdPs
# send the flag as a string).
email_unverified(claims) if claims.email_verified == false

email_unverified(claims) if claims.email_verified == "false"

# person_key is the person a token of provider and issuer is: "email:" and
# the vouched email, else "sub:" and the JSON of [issuer, sub].
person_key(provider, issuer, claims) := concat("", ["email:", e]) if {
	e := vouched_email(provider, claims, "email")
} else := account_key(issuer, claims)

# account_key is the account a token is, whoever the person: "sub:" and
# the JSON of [issuer, sub].
account_key(issuer, claims) := concat("", ["sub:", json.marshal([issuer, object.get(claims, "sub", "")])])

# persons_behind are the people a requester's token stands for: the token
# itself, and behind a GitLab pipeline the user who ran it (user_email
# when vouched; user_id, which is the sub the same GitLab gives that user
# as an OIDC provider).
persons_behind(provider, claims) := {person_key(provider.name, provider.issuer, claims)} | pipeline_persons(provider, claims)

pipeline_persons(provider, claims) := {k |
	provider.platform == "gitlab"
	some k in gitlab_user_keys(provider, claims)
}

gitlab_user_keys(provider, claims) := {concat("", ["email:", e]) | e := vouched_email(provider.name, claims, "user_email")} | {concat("", ["sub:", json.marshal([provider.issuer, id])]) |
	id := format_int_claim(claims.user_id)
}

# format_int_claim is a claim that GitLab gives as a string, or a number's
# text.
format_int_claim(v) := v if {
	is_string(v)
	v != ""
} else := format_int(v, 10) if is_number(v)
