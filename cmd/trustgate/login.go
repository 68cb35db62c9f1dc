package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/trustgate/trustgate/cmd/trustgate/signin"
)

// envConfigDir overrides where the sign-in is kept (default
// os.UserConfigDir()/trustgate).
const envConfigDir = "TRUSTGATE_CONFIG_DIR"

// loginFlags are `trustgate login`'s.
type loginFlags struct {
	url              string
	settings         signin.Settings
	scopes           string
	print, noBrowser bool
	timeout          time.Duration
}

func runLogin(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("login", io)
	var f loginFlags
	fs.StringVar(&f.url, "url", io.env.get("TRUSTGATE_URL"), "Trustgate base URL, whose /.well-known/trustgate-console names the IdP, client and scopes (env TRUSTGATE_URL)")
	fs.StringVar(&f.settings.Issuer, "issuer", "", "the company IdP's issuer URL (default: the server's)")
	fs.StringVar(&f.settings.ClientID, "client-id", "", "the CLI's OAuth client at the IdP (default: the server's)")
	fs.StringVar(&f.settings.ClientSecretFile, "client-secret-file", "", "file holding the client's secret, for an IdP whose native clients have one (Google)")
	fs.StringVar(&f.scopes, "scopes", "", "space- or comma-separated scopes (default: the server's, or openid profile email and groups when the IdP lists it; offline_access is added when the IdP lists it)")
	fs.BoolVar(&f.settings.Device, "device", false, "sign in with a code on another device (RFC 8628) instead of a browser on this one")
	fs.BoolVar(&f.noBrowser, "no-browser", false, "print the sign-in URL; do not open a browser")
	fs.BoolVar(&f.print, "print", false, "print the ID token on standard output once signed in")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for the sign-in")
	if code, ok := parseChecked(fs, args, f.check); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	cfg, err := f.config(ctx, io)
	if err != nil {
		return fail(io, "login", err)
	}
	store, err := signin.DefaultStore(io.env.get(envConfigDir))
	if err != nil {
		return fail(io, "login", err)
	}
	creds, err := signin.Login(ctx, cfg)
	if err != nil {
		return fail(io, "login", err)
	}
	if err := store.Save(creds); err != nil {
		return fail(io, "login", fmt.Errorf("keeping the sign-in: %w", err))
	}
	refresh := "no refresh token: sign in again then"
	if creds.RefreshToken != "" {
		refresh = "refreshed when it expires"
	}
	fmt.Fprintf(io.stderr, "signed in to %s as %s; kept in %s until %s (%s)\n", printable(creds.Issuer), printable(creds.Name()),
		store.Path(), creds.Expiry.UTC().Format(time.RFC3339), refresh)
	if f.print {
		fmt.Fprintln(io.stdout, creds.IDToken)
	}
	return exitOK
}

func (f *loginFlags) check() error {
	if f.settings.Issuer == "" && f.url == "" {
		return errors.New("give --url (the Trustgate server) or --issuer and --client-id")
	}
	for _, raw := range []struct{ name, url string }{{"--url", f.url}, {"--issuer", f.settings.Issuer}} {
		if raw.url == "" {
			continue
		}
		if err := checkEndpoint(raw.url); err != nil {
			return fmt.Errorf("%s: %w", raw.name, err)
		}
	}
	if f.scopes != "" {
		f.settings.Scopes = strings.Fields(strings.ReplaceAll(f.scopes, ",", " "))
	}
	if f.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

// config is the sign-in's: the server's settings (with --url), each
// overridden by its flag.
func (f *loginFlags) config(ctx context.Context, io stdio) (signin.Config, error) {
	s := f.settings
	if s.Issuer == "" {
		remote, err := signin.FetchSettings(ctx, newClient(), f.url)
		if err != nil {
			return signin.Config{}, err
		}
		s.Issuer, s.Device = remote.Issuer, remote.Device || s.Device
		if s.ClientID == "" {
			s.ClientID = remote.ClientID
		}
		if s.Scopes == nil {
			s.Scopes = remote.Scopes
		}
	}
	cfg := signin.Config{Settings: s, HTTPClient: newClient(), Prompt: io.stderr}
	if !f.noBrowser && !s.Device {
		cfg.OpenBrowser = browserOpener(io.env)
	}
	return cfg, nil
}

// browserOpener opens a URL with $BROWSER or the system's opener; nil
// where there is none (no display).
func browserOpener(env environ) func(string) error {
	var name string
	var args []string
	switch {
	case env.get("BROWSER") != "":
		name = env.get("BROWSER")
	case runtime.GOOS == "darwin":
		name = "open"
	case runtime.GOOS == "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	case env.get("DISPLAY") != "" || env.get("WAYLAND_DISPLAY") != "":
		name = "xdg-open"
	default:
		return nil
	}
	return func(u string) error {
		cmd := exec.Command(name, append(args, u)...)
		if err := cmd.Start(); err != nil {
			return err
		}
		go func() { _ = cmd.Wait() }()
		return nil
	}
}

func runLogout(_ context.Context, args []string, io stdio) int {
	fs := newFlags("logout", io)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	store, err := signin.DefaultStore(io.env.get(envConfigDir))
	if err != nil {
		return fail(io, "logout", err)
	}
	removed, err := store.Remove()
	if err != nil {
		return fail(io, "logout", err)
	}
	if removed {
		fmt.Fprintf(io.stderr, "signed out: removed %s\n", store.Path())
	} else {
		fmt.Fprintln(io.stderr, "not signed in")
	}
	return exitOK
}

// storedIDToken is the person's sign-in from `trustgate login`, refreshed
// when it has expired.
func storedIDToken(ctx context.Context, io stdio) (string, error) {
	store, err := signin.DefaultStore(io.env.get(envConfigDir))
	if err != nil {
		return "", err
	}
	return signin.Token(ctx, signin.Config{HTTPClient: newClient(), Prompt: io.stderr}, store)
}
