// Package verify decides whether a raw subject token is an acceptable OIDC ID
// token of a configured provider, and returns its claims from one strict
// parse. It pre-checks the token's size, form and header before anything
// else, routes by the unverified `iss` to a provider (an unknown issuer costs
// no I/O at all), verifies the signature with go-oidc against the provider's
// keys (cached, rate-limited, size- and time-bounded fetches), and checks
// issuer, audience, times, lifetime and replay itself.
package verify
