# Just-in-time access (DESIGN §13). An identity marked
# `access: just-in-time` is granted only through an approved request:
# data.trustgate.access.request rates a request and says how many approvals
# it needs; data.trustgate.access.review says whether a person may approve,
# deny, revoke or read one. Matching reuses the federation rules of the
# library (match.rego), so a requester is matched exactly as an exchange
# would be, and an approver exactly as a federation.
package trustgate.access

import data.trustgate

# identities are read one at a time (identities[name] with name bound): see
# known_identities in decision.rego.
import data.trustgate.identities

# The library's risk levels: approvals each level needs (0 approves by
# itself). A bundle's data.trustgate.risk_levels replaces them whole.
default risk_levels := {"low": {"approvals": 0}, "high": {"approvals": 1}, "critical": {"approvals": 2}}

risk_levels := data.trustgate.risk_levels

# A request is high risk unless a custom rule raises it:
# `risk contains "critical" if ...` in package trustgate.custom.
default custom_risk := set()

custom_risk := data.trustgate.custom.risk

# custom_risks reads custom_risk whatever its shape, failing closed: a
# value that is no set of level names is refused by risk_reasons.
custom_risks := {r | some r in custom_risk} if {
	is_set(custom_risk)
} else := {r | some r in custom_risk} if {
	is_array(custom_risk)
} else := {custom_risk} if {
	is_string(custom_risk)
} else := {"(unreadable)"}

# base_risk is the risk every request starts at; the server reads it from
# here (with risk_levels' default) to check a bundle's levels at load.
base_risk := "high"

risks := {base_risk} | custom_risks

# level_approvals is the approvals a level needs, if it is a known level
# with a whole, non-negative count.
level_approvals(level) := n if {
	n := risk_levels[level].approvals
	is_number(n)
	n >= 0
	n == round(n)
}

# risk is the highest of the risks: the one that needs most approvals
# (ties broken by name, so the answer never depends on rule order).
risk := ranked[count(ranked) - 1][1] if {
	ranked := sort([[level_approvals(r), r] | some r in risks])
}

approvals_required := level_approvals(risk)

named := object.get(input, ["request", "identity"], "")

identity := identities[named]

jit := object.get(identity, "jit", {})

duration_ns(d) := time.parse_duration_ns(d)

max_duration_seconds := round(duration_ns(jit.max_duration) / 1000000000)

# default_duration_seconds is jit.default_duration; absent, the lesser of
# 1h and max_duration.
default_duration_seconds := seconds if {
	seconds := round(duration_ns(jit.default_duration) / 1000000000)
} else := min({3600, max_duration_seconds})

# max_lead_ns is how far ahead a request may start (jit.max_lead_time,
# default 7 days).
max_lead_ns := duration_ns(object.get(jit, "max_lead_time", "168h"))

requested_start := object.get(input.request, "starts_at", "")

# start_ns is requested_start when it reads as an RFC 3339 time (checked
# first: a string that is none is a reason, not an evaluation error).
start_ns := time.parse_rfc3339_ns(requested_start) if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`, requested_start)
}

# requested_seconds is the duration asked for; none (or 0) is the
# identity's default_duration.
requested_seconds := input.request.duration_seconds if {
	input.request.duration_seconds != 0
} else := default_duration_seconds

just_in_time(id) if id.access == "just-in-time"

request_reasons contains sprintf("no identity is named %s", [named]) if not identity

request_reasons contains sprintf("identity %s is not just-in-time: exchange a token for it instead", [named]) if {
	not just_in_time(identity)
}

request_reasons contains sprintf("identity %s expired at %s", [named, identity.expires_at]) if {
	trustgate.expired(identity)
}

# A requester must be one the identity federates with, and is told why
# not, federation by federation.
request_reasons contains trustgate.federation_reason(named, f, failure) if {
	not trustgate.identity_matched(identity)
	some f in trustgate.identity_explanation(named).federations
	f.provider == input.provider.name
	some failure in f.failures
}

request_reasons contains sprintf("identity %s does not federate with provider %s", [named, trustgate.token_provider]) if {
	count(identity.federations) > 0
	not provider_federates
}

provider_federates if {
	some f in identity.federations
	f.provider == input.provider.name
}

request_reasons contains sprintf("identity %s has no federations", [named]) if {
	count(object.get(identity, "federations", [])) == 0
}

request_reasons contains sprintf("duration %ds is longer than identity %s's max_duration %s", [requested_seconds, named, jit.max_duration]) if {
	is_number(requested_seconds)
	requested_seconds > max_duration_seconds
}

request_reasons contains sprintf("duration %v is not a positive number of seconds", [requested_seconds]) if {
	not positive_number(requested_seconds)
}

request_reasons contains sprintf("scope %s is not granted to identity %s", [s, named]) if {
	some s in object.get(input.request, "scopes", [])
	not s in object.get(identity, "scopes", [])
}

request_reasons contains sprintf("audience %s is not allowed for identity %s", [a, named]) if {
	some a in object.get(input.request, "audiences", [])
	not a in object.get(identity, "audiences", [])
}

request_reasons contains sprintf("starts_at %s is not an RFC 3339 time", [requested_start]) if {
	requested_start != ""
	not start_ns
}

request_reasons contains sprintf("starts_at %s is in the past", [requested_start]) if {
	start_ns < trustgate.now_ns
}

request_reasons contains sprintf("starts_at %s is further ahead than identity %s's max_lead_time %s", [requested_start, named, object.get(jit, "max_lead_time", "168h")]) if {
	start_ns - trustgate.now_ns > max_lead_ns
}

# approved_scopes are what a grant of the request carries: the scopes
# named, or none named, all of the identity's.
approved_scopes := input.request.scopes if {
	count(object.get(input.request, "scopes", [])) > 0
} else := object.get(identity, "scopes", [])

request_reasons contains sprintf("risk level %s is not one of data.trustgate.risk_levels (each needs a whole number of approvals)", [r]) if {
	some r in risks
	not level_approvals(r)
}

# The bundle's custom vetoes, and an input without a time, refuse requests
# as they refuse exchanges.
request_reasons contains r if some r in trustgate.global_reasons

positive_number(n) if {
	is_number(n)
	n > 0
}

request := {
	"allow": true,
	"risk": risk,
	"approvals_required": approvals_required,
	"duration_seconds": requested_seconds,
	"max_duration_seconds": max_duration_seconds,
	"scopes": approved_scopes,
	"audiences": object.get(input.request, "audiences", []),
	"requester_persons": sort(trustgate.persons_behind(input.provider, input.token)),
	"reasons": [],
} if {
	count(request_reasons) == 0
} else := {
	"allow": false,
	"risk": "",
	"approvals_required": 0,
	"duration_seconds": 0,
	"max_duration_seconds": 0,
	"scopes": [],
	"audiences": [],
	"requester_persons": [],
	"reasons": sort(request_reasons),
}

# Reviews. input: {"request": the stored request (identity, requester
# {provider, issuer, sub, persons, claims}, reviews [{reviewer {issuer, sub,
# person}, verdict}]),
# "provider" and "token": the reviewer's, "verdict": approve | deny | revoke |
# read, "now"}. Whether the request's state allows the verdict is the
# store's to say; the policy says whether this person may give it.
reviewed := identities[input.request.identity]

verdicts := {"approve", "deny", "revoke", "read"}

# decisive verdicts are the ones a requester may not give on their own
# request and a person may give only once.
decisive := {"approve", "deny"}

review_reasons contains sprintf("verdict %v is not one of approve, deny, revoke, read", [input.verdict]) if {
	not input.verdict in verdicts
}

review_reasons contains sprintf("no identity is named %v", [input.request.identity]) if not reviewed

review_reasons contains sprintf("identity %v is not just-in-time", [input.request.identity]) if {
	not just_in_time(reviewed)
}

review_reasons contains sprintf("reviewer is not an approver of identity %v: %s", [input.request.identity, concat("; ", approver_failures)]) if {
	not is_approver
}

review_reasons contains "a requester may not review their own request" if {
	input.verdict in decisive
	same_person
}

review_reasons contains "this person has already reviewed the request" if {
	input.verdict in decisive
	some r in object.get(input.request, "reviews", [])
	same_reviewer(r.reviewer)
}

# reviewer_person is who the reviewer is (person.rego).
reviewer_person := trustgate.person_key(input.provider.name, input.provider.issuer, input.token)

# same_reviewer: an earlier review was this person's: the same person, or
# the same issuer and sub (reviews stored before persons were).
same_reviewer(r) if r.person == reviewer_person

same_reviewer(r) if {
	r.issuer == input.provider.issuer
	r.sub == input.token.sub
}

# is_approver: some entry of the identity's jit.approvers matches the
# reviewer's token as a federation would (provider, subject, claims).
is_approver if {
	some ap in object.get(reviewed, ["jit", "approvers"], [])
	trustgate.federation_matches(ap)
	not unvouched_email_match(ap)
}

# unvouched_email_match: the approver matcher names the email, which the
# reviewer's provider does not vouch for: an unverified email matches
# nobody.
unvouched_email_match(ap) if {
	ap.claims.email
	not trustgate.vouched_email(input.provider.name, input.token, "email")
}

approver_failures := ["the identity has no approvers"] if {
	count(object.get(reviewed, ["jit", "approvers"], [])) == 0
} else := sort([sprintf("approver %d: %s", [i, concat(", ", sort(approver_failures_of(ap)))]) |
	some i, ap in reviewed.jit.approvers
])

approver_failures_of(ap) := trustgate.federation_failures(ap) | {"the token's email is not verified" | unvouched_email_match(ap)}

# same_person: the reviewer is the requester: one of the persons behind
# the request (person.rego, kept with it), the same issuer and sub, or the
# person behind a pipeline (GitLab user_login, GitHub actor) under a login
# the reviewer's token gives. Logins compare case-insensitively; a false
# match only refuses a review.
same_person if {
	some key in {reviewer_person, trustgate.account_key(input.provider.issuer, input.token)}
	key in object.get(input.request.requester, "persons", [])
}

same_person if {
	input.request.requester.issuer == input.provider.issuer
	input.request.requester.sub == input.token.sub
}

same_person if {
	some k in {"user_login", "actor"}
	v := input.request.requester.claims[k]
	some rk in {"preferred_username", "user_login", "actor", "nickname"}
	w := input.token[rk]
	is_string(v)
	is_string(w)
	lower(v) == lower(w)
}

review := {"allow": true, "person": reviewer_person, "reasons": []} if {
	count(review_reasons) == 0
	count(trustgate.input_reasons) == 0
} else := {"allow": false, "person": "", "reasons": sort(review_reasons | trustgate.input_reasons)}

# The reviewer: whether a signed-in person approves any just-in-time
# identity at all and, when not, the claims that the approvers of their
# provider match on and their token lacks ("your sign-in has no groups
# claim"). input: {"provider" and "token": the person's, "identities": the
# names of the just-in-time identities}. Its answer names no identity, no
# pattern and no request: anyone who signs in may be told it.
approver_of_any if {
	some name in input.identities
	some ap in object.get(identities, [name, "jit", "approvers"], [])
	trustgate.federation_matches(ap)
	not unvouched_email_match(ap)
}

missing_claims contains claim if {
	some name in input.identities
	some ap in object.get(identities, [name, "jit", "approvers"], [])
	ap.provider == input.provider.name
	some claim, _ in ap.claims
	not claim in object.keys(input.token)
}

reviewer := {"approver": true, "missing_claims": []} if {
	approver_of_any
} else := {"approver": false, "missing_claims": sort(missing_claims)}
