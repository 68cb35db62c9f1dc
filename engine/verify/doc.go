// Package verify decides whether a raw subject token is an acceptable OIDC ID
// token of a configured provider, and returns its claims from one strict
// parse.
//
// Verifier.Verify runs steps 1-4 of the exchange (DESIGN §1, the README's
// "How it works"), numbered alike, stopping at the first failure:
//
//  1. Precheck: size, strict JWS compact form, a header of only alg, kid and
//     typ with an asymmetric alg and no access-token typ.
//  2. Routing: ParseClaims, the one strict parse of the still unverified
//     payload, gives the exact iss; an unknown issuer is refused with no
//     I/O at all.
//  3. Verification with that provider: the header's alg against its
//     algorithms; the signature, by go-oidc over its cached, rate-limited,
//     size- and time-bounded JWKS (its own oidc.KeySet, kept across policy
//     reloads), of exactly the bytes parsed in step 2; iss, sub, aud, exp,
//     nbf, iat and the lifetime, with the configured skew; for one-time-use
//     providers, the replay store.
//  4. The claims returned are step 2's strict parse, now of a verified
//     payload: there is no second, lenient parse.
//
// Every refusal wraps ErrInvalidToken and one specific sentinel; keys that
// cannot be fetched give ErrKeysUnavailable, a server-side problem. No error
// or log line holds the token, a segment of it, or sender-chosen names.
package verify
