package console

import "context"

// CLISettings tell `trustgate login` how to sign in with the company IdP
// (GET /.well-known/trustgate-console): the issuer, the CLI's public
// client, the scopes the console asks for, and whether the client is for
// the device grant only. Nothing in it is a secret.
type CLISettings struct {
	Issuer string `json:"issuer"`
	// ClientID is "" when no client for the CLI is configured: the CLI
	// then needs --client-id.
	ClientID string   `json:"client_id,omitempty"`
	Scopes   []string `json:"scopes"`
	// Device: the client has no loopback redirect; sign in with the
	// device authorization grant (RFC 8628).
	Device bool `json:"device"`
}

// CLISettings reads the IdP's discovery (once) for the scopes the console
// asks for; an unreachable IdP is ErrIdPUnavailable.
func (c *Console) CLISettings(context.Context) (CLISettings, error) {
	oauth, _, err := c.idp.client()
	if err != nil {
		return CLISettings{}, err
	}
	cfg := c.idp.cfg
	client := cfg.CLIClientID
	if client == "" && cfg.ClientSecret == "" {
		client = cfg.ClientID
	}
	return CLISettings{Issuer: cfg.Issuer, ClientID: client, Scopes: oauth.Scopes, Device: cfg.CLIDevice}, nil
}
