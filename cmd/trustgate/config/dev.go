package config

import "github.com/trustgate/trustgate/cmd/trustgate/devissuer"

// DevIssuerAddr is where `serve` on development defaults runs the dev issuer.
const DevIssuerAddr = "127.0.0.1:8090"

// Dev is what `serve` runs with when no config file is given.
func Dev() Config {
	c := Config{
		Issuer:               "http://127.0.0.1:8080",
		Listen:               "127.0.0.1:8080",
		Bundles:              []string{"bundles/example"},
		AllowInsecureIssuers: true,
		Log:                  Log{Format: "console", Level: "info"},
	}
	c.Console = devConsole(c.Issuer)
	noDelay := Duration(0) // no load balancer on loopback: Ctrl-C stops at once
	c.ShutdownDelay = &noDelay
	c.FillDefaults()
	return c
}

// devConsole is the console of development defaults: the dev issuer's
// people issuer is the IdP, its sign-in page lets a developer pick a demo
// approver, and the client id is the server's URL, the audience the
// example bundle's dev-people provider accepts.
func devConsole(serverIssuer string) *Console {
	return &Console{Issuer: "http://" + DevIssuerAddr + devissuer.PeoplePath, ClientID: serverIssuer,
		devSecret: devissuer.ConsoleClientSecret}
}
