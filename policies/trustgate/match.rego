# Matching of one federation against the verified token (DESIGN §3).
# Each *_failures function returns the set of conditions that did not hold,
# in words a pipeline author understands; an empty set means the condition
# matched. Anything the data or the token does not say plainly fails: a
# federation never matches by omission.
package trustgate

# federation_matches holds when fed is a federation of the token's provider
# and the token meets every one of its conditions. It alone decides; the
# *_failures functions below only put a miss into words, and are empty
# exactly when their condition holds.
federation_matches(fed) if {
	fed.provider == input.provider.name
	subject_matches(fed)
	claims_match(fed)
	ref_matches(fed)
	environment_matches(fed)
}

# federation_failures is every condition of fed that the token does not
# meet; a federation of another provider (or of none) fails for that reason
# alone.
federation_failures(fed) := condition_failures(fed) if {
	fed.provider == input.provider.name
} else := {sprintf("the token is from provider %s, not %s", [token_provider, federation_provider(fed)])}

condition_failures(fed) := ((subject_failures(fed) | claim_failures(fed)) | ref_failures(fed)) | environment_failures(fed)

# federation_provider names fed's provider in words, also when it has none.
federation_provider(fed) := object.get(fed, "provider", "(none)")

token_provider := object.get(input, ["provider", "name"], "(none)")

subject_matches(fed) if {
	not fed.subject
} else if {
	claim_matches("sub", fed.subject)
}

subject_failures(fed) := set() if {
	subject_matches(fed)
} else := {sprintf("sub `%s` does not match %s", [claim_text("sub"), fed.subject])} if {
	claim_text("sub")
} else := {"the token has no sub"}

claims_match(fed) if {
	claims := object.get(fed, "claims", {})
	is_object(claims)
	every name, p in claims {
		claim_matches_pattern(name, p)
	}
}

# claim_matches_pattern: a claims entry is one glob or a list of globs, any
# of which is enough; anything that is not a string is no pattern.
claim_matches_pattern(name, p) if {
	is_string(p)
	claim_matches(name, p)
} else if {
	is_array(p)
	some x in p
	is_string(x)
	claim_matches(name, x)
}

claim_failures(fed) := set() if {
	claims_match(fed)
} else := {msg |
	some name, p in object.get(fed, "claims", {})
	not claim_matches_pattern(name, p)
	msg := claim_failure(name, patterns(p))
} if {
	is_object(object.get(fed, "claims", {}))
} else := {"claims is not a mapping of claim names to patterns"}

claim_failure(name, ps) := sprintf("claim `%s` is absent", [name]) if {
	not name in object.keys(input.token)
} else := sprintf("claim `%s` has no pattern: patterns are strings, quote true, false and numbers", [name]) if {
	count(ps) == 0
} else := sprintf("claim `%s` is `%s`, not %s", [name, claim_text(name), concat(", ", ps)])

ref_matches(fed) if {
	not fed.refs
} else if {
	some p in fed.refs
	glob.match(p, ["/"], token_ref)
}

ref_failures(fed) := set() if {
	ref_matches(fed)
} else := {sprintf("ref `%s` is not one of %s", [token_ref, concat(", ", fed.refs)])} if {
	token_ref
} else := {sprintf("ref `%s` is not a branch, tag or pull request ref", [claim_text("ref")])} if {
	claim_text("ref")
} else := {"the token has no ref"}

environment_matches(fed) if {
	not fed.environments
} else if {
	some p in fed.environments
	claim_matches("environment", p)
}

environment_failures(fed) := set() if {
	environment_matches(fed)
} else := {sprintf("environment `%s` is not one of %s", [claim_text("environment"), concat(", ", fed.environments)])} if {
	claim_text("environment")
} else := {"the token has no environment"}

# patterns are a claims entry's globs, for the words of a miss.
patterns(p) := [x | some x in p; is_string(x)] if {
	is_array(p)
} else := [p] if {
	is_string(p)
} else := []

# A string claim matches a glob; `*` stays within one `/` segment. A list
# of strings (a people IdP's `groups`) matches when any element does. Any
# other claim matches only the pattern equal to its JSON text.
claim_matches(name, pattern) if {
	v := input.token[name]
	is_string(v)
	glob.match(pattern, ["/"], v)
} else if {
	v := input.token[name]
	string_list(v)
	some x in v
	glob.match(pattern, ["/"], x)
} else if {
	v := input.token[name]
	not is_string(v)
	not string_list(v)
	json.marshal(v) == pattern
}

# string_list: a list whose elements are all strings (none is such a list).
string_list(v) if {
	is_array(v)
	every x in v {
		is_string(x)
	}
}

# claim_text is a claim as a pipeline author reads it.
claim_text(name) := v if {
	v := input.token[name]
	is_string(v)
} else := json.marshal(input.token[name])

# token_ref is the token's ref as `branch:NAME`, `tag:NAME` or, on GitHub,
# `pull:N/merge`. GitLab and generic tokens carry ref_type and ref; GitHub
# tokens carry the full ref only.
token_ref := sprintf("%s:%s", [input.token.ref_type, input.token.ref]) if {
	input.provider.platform != "github"
}

token_ref := concat("", ["branch:", trim_prefix(input.token.ref, "refs/heads/")]) if {
	input.provider.platform == "github"
	startswith(input.token.ref, "refs/heads/")
}

token_ref := concat("", ["tag:", trim_prefix(input.token.ref, "refs/tags/")]) if {
	input.provider.platform == "github"
	startswith(input.token.ref, "refs/tags/")
}

token_ref := concat("", ["pull:", trim_prefix(input.token.ref, "refs/pull/")]) if {
	input.provider.platform == "github"
	startswith(input.token.ref, "refs/pull/")
}
