package verify

import "time"

// Platform names how a provider's tokens describe refs and environments.
const (
	PlatformGitLab  = "gitlab"
	PlatformGitHub  = "github"
	PlatformGeneric = "generic"
)

// Provider is one trusted OIDC issuer, as a bundle's data.trustgate.providers
// describes it, with defaults filled and values validated.
type Provider struct {
	// Name is the key under data.trustgate.providers; federations refer to it.
	Name string
	// Issuer is the exact `iss` value; routing compares it byte for byte.
	Issuer string
	// Platform is gitlab, github or generic.
	Platform string
	// Audiences are the accepted `aud` values; at least one must be present
	// in a token. Filled with the server's issuer URL when the bundle gives none.
	Audiences []string
	// JWKSURL, when set, is used instead of OIDC discovery.
	JWKSURL string
	// Algorithms is the signature algorithm allowlist (default RS256).
	Algorithms []string
	// MaxTokenLifetime refuses tokens whose exp - iat is longer (default 24h).
	MaxTokenLifetime time.Duration
	// OneTimeUse refuses a second use of the same (iss, jti), and tokens without jti.
	OneTimeUse bool
}
