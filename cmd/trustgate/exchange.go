package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/weburl"
)

// GitHub Actions puts these in a job's environment when it has
// `permissions: id-token: write`.
const (
	envGitHubRequestURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	envGitHubRequestToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

// Largest response the exchange client reads.
const maxResponseBytes = 1 << 20

// tokenSource is where a command reaches the server and finds the
// caller's ID token: a named variable, a file, or GitHub Actions' token
// request endpoint. exchange and access share it.
type tokenSource struct {
	url       string
	tokenEnv  string
	tokenFile string
	ghAud     string
	// signedIn: with no other source, the person's `trustgate login`.
	signedIn bool
}

// flags registers the source's flags on fs.
func (s *tokenSource) flags(fs *flag.FlagSet, io stdio) {
	fs.StringVar(&s.url, "url", io.env.get("TRUSTGATE_URL"), "Trustgate base URL (env TRUSTGATE_URL)")
	fs.StringVar(&s.tokenEnv, "token-env", "", "name of the environment variable holding the ID token (GitLab: the id_tokens variable)")
	fs.StringVar(&s.tokenFile, "token-file", "", "file holding the ID token ('-' for standard input)")
	fs.StringVar(&s.ghAud, "github-audience", "", "GitHub Actions: audience to request the ID token for (default: the Trustgate URL)")
}

func (s *tokenSource) check() error {
	if s.url == "" {
		return errors.New("--url (or TRUSTGATE_URL) is required")
	}
	if err := checkEndpoint(s.url); err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if s.tokenEnv != "" && s.tokenFile != "" {
		return errors.New("give --token-env or --token-file, not both")
	}
	return nil
}

type exchangeFlags struct {
	tokenSource
	identity  string
	scope     string
	audiences stringList
	format    string
	envName   string
	timeout   time.Duration
}

func runExchange(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("exchange", io)
	var f exchangeFlags
	f.tokenSource.flags(fs, io)
	fs.StringVar(&f.identity, "identity", "", "identity name or email to ask for (default: the one that matches)")
	fs.StringVar(&f.scope, "scope", "", "space-separated scopes to ask for (default: all of the identity's)")
	f.outputFlags(fs)
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "overall timeout")
	if code, ok := parseChecked(fs, args, f.check); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	client := newClient()
	idToken, err := f.idToken(ctx, client, io)
	if err != nil {
		return fail(io, "exchange", err)
	}
	resp, err := f.exchange(ctx, client, idToken)
	if err != nil {
		return fail(io, "exchange", err)
	}
	return f.print(io, resp)
}

// outputFlags registers how the issued token is printed.
func (f *exchangeFlags) outputFlags(fs *flag.FlagSet) {
	fs.Var(&f.audiences, "audience", "audience of the issued token (repeatable)")
	fs.StringVar(&f.format, "format", "token", "output: token, json or env")
	fs.StringVar(&f.envName, "env-name", "TRUSTGATE_TOKEN", "variable name for --format env")
}

// newClient is the commands' HTTP client: it follows no redirect, so a
// token is only ever sent where --url says.
func newClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *exchangeFlags) check() error {
	if err := f.tokenSource.check(); err != nil {
		return err
	}
	return f.checkOutput()
}

func (f *exchangeFlags) checkOutput() error {
	switch f.format {
	case "token", "json", "env":
	default:
		return fmt.Errorf("--format must be token, json or env, not %q", f.format)
	}
	if !validEnvName(f.envName) {
		return fmt.Errorf("--env-name %q is not a valid variable name", f.envName)
	}
	return nil
}

// checkEndpoint holds a URL the CLI sends a token to to the one URL rule
// (weburl), http allowed on loopback: the token then never leaves the
// machine.
func checkEndpoint(raw string) error {
	return weburl.Check(raw, true)
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// idToken finds the ID token: a named variable, a file, or GitHub Actions'
// token request endpoint.
func (f *tokenSource) idToken(ctx context.Context, client *http.Client, io stdio) (string, error) {
	switch {
	case f.tokenEnv != "":
		tok := strings.TrimSpace(io.env.get(f.tokenEnv))
		if tok == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set (GitLab: declare it under id_tokens)", f.tokenEnv)
		}
		return tok, nil
	case f.tokenFile != "":
		return readTokenFile(f.tokenFile, io.stdin)
	case io.env.get(envGitHubRequestURL) != "":
		aud := f.ghAud
		if aud == "" {
			aud = strings.TrimRight(f.url, "/")
		}
		return githubIDToken(ctx, client, io.env.get(envGitHubRequestURL), io.env.get(envGitHubRequestToken), aud)
	case f.signedIn:
		return storedIDToken(ctx, io)
	default:
		return "", errors.New("no ID token: give --token-env NAME or --token-file FILE, or run in GitHub Actions with permissions id-token: write")
	}
}

func readTokenFile(path string, stdin io.Reader) (string, error) {
	r := stdin
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer func() { _ = fh.Close() }() // read only
		r = fh
	}
	b, err := io.ReadAll(io.LimitReader(r, maxResponseBytes))
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s holds no token", path)
	}
	return tok, nil
}

// githubIDToken asks GitHub Actions for an ID token with audience aud, as
// `curl -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=..."`.
func githubIDToken(ctx context.Context, client *http.Client, reqURL, bearer, aud string) (string, error) {
	if bearer == "" {
		return "", fmt.Errorf("%s is set but %s is not", envGitHubRequestURL, envGitHubRequestToken)
	}
	// GitHub's request URL carries its own query (api-version): the rule
	// holds for the rest of it.
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("%s is not a URL", envGitHubRequestURL)
	}
	base := *u
	base.RawQuery, base.ForceQuery = "", false
	if err := checkEndpoint(base.String()); err != nil {
		return "", fmt.Errorf("%s: %w", envGitHubRequestURL, err)
	}
	q := u.Query()
	q.Set("audience", aud)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GitHub ID token request: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GitHub ID token request: HTTP %d (does the job have permissions: id-token: write?)", resp.StatusCode)
	}
	var body struct {
		Value string `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&body); err != nil || body.Value == "" {
		return "", errors.New("GitHub ID token request: response has no token")
	}
	return body.Value, nil
}

// redactURLError drops the URL (which may carry request tokens) from err.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// tokenResponse is RFC 8693 §2.2.1 plus the OAuth error fields.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	IssuedTokenType  string `json:"issued_token_type"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope,omitempty"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func (f *exchangeFlags) exchange(ctx context.Context, client *http.Client, idToken string) (*tokenResponse, error) {
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":        {idToken},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:id_token"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
	}
	if f.identity != "" {
		form.Set("identity", f.identity)
	}
	if f.scope != "" {
		form.Set("scope", f.scope)
	}
	for _, a := range f.audiences {
		form.Add("audience", a)
	}
	endpoint := strings.TrimRight(f.url, "/") + "/oauth2/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, redactURLError(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&tr); err != nil {
		return nil, fmt.Errorf("HTTP %d with an unreadable body", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return nil, newServerError(resp, tr.Error, tr.ErrorDescription)
	}
	if !isCompactJWS(tr.AccessToken) {
		// Printed for eval and $(...): only base64url and dots get through.
		return nil, errors.New("the server's access_token is not a compact JWS; not printing it")
	}
	return &tr, nil
}

// isCompactJWS reports whether s has only the characters of a compact JWS
// (RFC 7515 §7.1): base64url segments and dots.
func isCompactJWS(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}

func (f *exchangeFlags) print(io stdio, tr *tokenResponse) int {
	switch f.format {
	case "json":
		enc := json.NewEncoder(io.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(tr)
	case "env":
		fmt.Fprintf(io.stdout, "export %s=%s\n", f.envName, tr.AccessToken)
		fmt.Fprintf(io.stdout, "export %s_EXPIRES_IN=%d\n", f.envName, tr.ExpiresIn)
	default:
		fmt.Fprintln(io.stdout, tr.AccessToken)
	}
	return exitOK
}
