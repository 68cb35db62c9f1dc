// Package access owns just-in-time access (DESIGN §13): requests for an
// identity marked `access: just-in-time`, their reviews, the grants that
// approved requests become, their expiry and revocation, and the events
// that notifications are made of.
//
// The policy decides (data.trustgate.access.request rates a request and says
// how many approvals it needs; data.trustgate.access.review says whether a
// person may give a verdict); the Store keeps the state machine
//
//	pending → approved | denied | cancelled | expired
//	approved → expired | revoked
//
// with every transition atomic across replicas; this package puts the two
// together. It knows nothing about HTTP, and callers hand it tokens they have
// verified: a Party is a verified token's provider and claims.
package access
