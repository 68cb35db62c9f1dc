# Candidates: the identities a token could be granted when it names none.
# The server derives data.trustgate.index from the identities at load (by
# provider, then by the claim its federations pin exactly, such as
# project_path), so a token is matched against the few identities it could
# match instead of every one. Every candidate is still matched in full
# (identity_matched): the index only leaves out identities that cannot
# match. Without an index (opa test, opa eval on a bundle), every identity
# is a candidate.
package trustgate

import data.trustgate.identities as known_identities

# indexed: the server's index is there. The index is read entry by entry,
# never whole: the server builds only the entries an evaluation reads.
indexed if data.trustgate.index.built == true

candidates contains name if {
	not indexed
	some name, _ in known_identities
}

# An identity with a federation of the provider that does not pin the
# indexed claim exactly is always a candidate.
candidates contains name if {
	some name in data.trustgate.index.providers[input.provider.name].rest
}

candidates contains name if {
	some key in indexed_values(data.trustgate.index.providers[input.provider.name].claim)
	some name in data.trustgate.index.providers[input.provider.name].by[key]
}

# indexed_values are the keys a token's claim is looked up under: a string
# claim as it is; any other claim as its JSON text (the only pattern it
# matches), and a list also by each of its strings.
indexed_values(claim) := {v} if {
	v := input.token[claim]
	is_string(v)
} else := {json.marshal(v)} | {x | some x in v; is_string(x)} if {
	v := input.token[claim]
}

# explained are the candidates a denial that names no identity gives
# reasons for: the first max_explained of them by name. With an index these
# are the identities whose pinned claim the token has: the closest ones.
max_explained := 10

explained := {name | some name in array.slice(sort(candidates), 0, max_explained)}
