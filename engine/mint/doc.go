// Package mint owns the signing keys of issued tokens: it generates, loads
// and writes them, signs access tokens in the RFC 9068 profile (header
// typ at+jwt, kid), verifies the tokens it signed, and publishes the public
// keys as a JWKS. A KeyRing is immutable; rotation swaps in a new one.
package mint
