// Package verify decides whether a raw subject token is an acceptable OIDC ID
// token of a configured provider, and returns its claims from one strict
// parse.
//
// Verifier.Verify checks, in this order, stopping at the first failure:
//
//  1. Precheck: size, strict JWS compact form, a header of only alg, kid and
//     typ with an asymmetric alg and no access-token typ.
//  2. ParseClaims: the one strict parse of the payload.
//  3. Routing by the exact, still unverified iss; an unknown issuer is
//     refused with no I/O at all.
//  4. The header's alg against the provider's algorithms.
//  5. The signature, by go-oidc over the provider's cached, rate-limited,
//     size- and time-bounded JWKS (its own oidc.KeySet, kept across policy
//     reloads); the verified payload must be the parsed one.
//  6. iss, sub, aud, exp, nbf, iat and the lifetime, with the configured skew.
//  7. For one-time-use providers, the replay store.
//
// Every refusal wraps ErrInvalidToken and one specific sentinel; keys that
// cannot be fetched give ErrKeysUnavailable, a server-side problem. No error
// or log line holds the token, a segment of it, or sender-chosen names.
package verify
