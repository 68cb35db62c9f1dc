package policy

// Explanation is what data.trustgate.explain evaluates to: for each candidate
// identity (the named one, or every identity when none is named), federation by
// federation, what matched and what did not.
type Explanation struct {
	Identities map[string]IdentityExplanation `json:"identities"`
}

// IdentityExplanation explains one identity.
type IdentityExplanation struct {
	// Matched is true when the identity would be granted (a federation
	// matched, it has not expired, and no custom rule denied it).
	Matched bool `json:"matched"`
	// Expired is true when the identity is past its expires_at.
	Expired bool `json:"expired"`
	// JustInTime is true for an identity granted only through an approved
	// request; GrantFailures then say why no grant covers the token (none
	// when one does).
	JustInTime    bool     `json:"just_in_time"`
	GrantFailures []string `json:"grant_failures"`
	// Federations lists every federation of the identity in bundle order.
	Federations []FederationExplanation `json:"federations"`
}

// FederationExplanation explains one federation of an identity.
type FederationExplanation struct {
	Index    int    `json:"index"`
	Provider string `json:"provider"`
	Matched  bool   `json:"matched"`
	// Failures are the conditions that did not hold, in words a pipeline
	// author understands ("ref `feature` is not one of branch:main, tag:v*").
	Failures []string `json:"failures"`
}
