package config

import "github.com/trustgate/trustgate/cmd/trustgate/devissuer"

// DevIssuerAddr is where `serve` on development defaults runs the dev issuer.
const DevIssuerAddr = "127.0.0.1:8090"

// DevListen is where `serve` on development defaults listens.
const DevListen = "127.0.0.1:8080"

// Dev is what `serve` runs with when no config file is given.
func Dev() Config { return DevAt(DevListen, DevIssuerAddr) }

// DevAt is Dev listening on listen, with the dev issuer on devIssuer (both
// loopback host:port; tests pick free ones).
func DevAt(listen, devIssuer string) Config {
	c := Config{
		Issuer:               "http://" + listen,
		Listen:               listen,
		Bundles:              []string{"bundles/example"},
		AllowInsecureIssuers: true,
		Log:                  Log{Format: "console", Level: "info"},
		devIssuer:            devIssuer,
	}
	c.Console = devConsole(c.Issuer, devIssuer)
	noDelay := Duration(0) // no load balancer on loopback: Ctrl-C stops at once
	c.ShutdownDelay = &noDelay
	c.FillDefaults()
	return c
}

// DevIssuer is the address of the dev issuer serve runs beside itself:
// development defaults only; "" for a config file's.
func (c Config) DevIssuer() string { return c.devIssuer }

// devConsole is the console of development defaults: the dev issuer's
// people issuer is the IdP, its sign-in page lets a developer pick a demo
// approver, and the client id is the server's URL, the audience the
// example bundle's dev-people provider accepts. `trustgate login` signs in
// with the dev issuer's public CLI client, also among those audiences.
func devConsole(serverIssuer, devIssuer string) *Console {
	return &Console{Issuer: "http://" + devIssuer + devissuer.PeoplePath, ClientID: serverIssuer,
		CLIClientID: devissuer.CLIClientID, devSecret: devissuer.ConsoleClientSecret}
}
