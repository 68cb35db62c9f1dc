// Package engine exchanges a verified OIDC ID token for a short-lived access
// token. It owns the flow of DESIGN §1: it reads the active policy once per
// request, verifies the subject token with engine/verify, evaluates the policy
// with engine/policy, mints with engine/mint and writes one decision record.
// It knows nothing about HTTP.
package engine
