# Matching of one federation against the verified token (DESIGN §3).
# Each *_failures function returns the set of conditions that did not hold,
# in words a pipeline author understands; an empty set means the condition
# matched.
package trustgate

# federation_failures is every condition of fed that the token does not
# meet; a federation of another provider fails for that reason alone.
federation_failures(fed) := provider_failures(fed) if {
	count(provider_failures(fed)) > 0
} else := ((subject_failures(fed) | claim_failures(fed)) | ref_failures(fed)) | environment_failures(fed)

provider_failures(fed) := set() if {
	fed.provider == input.provider.name
} else := {sprintf("the token is from provider %s, not %s", [input.provider.name, fed.provider])}

subject_failures(fed) := set() if {
	not fed.subject
} else := set() if {
	claim_matches("sub", fed.subject)
} else := {sprintf("sub `%s` does not match %s", [claim_text("sub"), fed.subject])} if {
	claim_text("sub")
} else := {"the token has no sub"}

claim_failures(fed) := {msg |
	some name, p in object.get(fed, "claims", {})
	not claim_matches_any(name, patterns(p))
	msg := claim_failure(name, patterns(p))
}

claim_failure(name, ps) := sprintf("claim `%s` is absent", [name]) if {
	not name in object.keys(input.token)
} else := sprintf("claim `%s` is `%s`, not %s", [name, claim_text(name), concat(", ", ps)])

ref_failures(fed) := set() if {
	not fed.refs
} else := set() if {
	some p in fed.refs
	glob.match(p, ["/"], token_ref)
} else := {sprintf("ref `%s` is not one of %s", [token_ref, concat(", ", fed.refs)])} if {
	token_ref
} else := {"the token has no ref"}

environment_failures(fed) := set() if {
	not fed.environments
} else := set() if {
	some p in fed.environments
	claim_matches("environment", p)
} else := {sprintf("environment `%s` is not one of %s", [claim_text("environment"), concat(", ", fed.environments)])} if {
	claim_text("environment")
} else := {"the token has no environment"}

# A claims entry is one glob or a list of globs; any of them is enough.
patterns(p) := p if is_array(p)

patterns(p) := [p] if is_string(p)

claim_matches_any(name, ps) if {
	some p in ps
	claim_matches(name, p)
}

# A string claim matches a glob; `*` stays within one `/` segment.
claim_matches(name, pattern) if {
	v := input.token[name]
	is_string(v)
	glob.match(pattern, ["/"], v)
}

# Any other claim matches only the pattern equal to its JSON text.
claim_matches(name, pattern) if {
	v := input.token[name]
	not is_string(v)
	json.marshal(v) == pattern
}

# claim_text is a claim as a pipeline author reads it.
claim_text(name) := v if {
	v := input.token[name]
	is_string(v)
} else := json.marshal(input.token[name])

# token_ref is the token's ref as `branch:NAME`, `tag:NAME` or, on GitHub,
# `pull:N/merge`.
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
