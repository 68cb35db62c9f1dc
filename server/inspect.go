package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/mint"
)

// Inspector is what the endpoints that take an issued token need (whoami,
// introspection, revocation). Inspect returns the claims of a live token
// this server issued, anything else is engine.ErrInactive; Revoke makes a
// live token inactive, and a token that is not live is not an error.
type Inspector interface {
	Inspect(ctx context.Context, raw string) (*engine.Introspection, error)
	Revoke(ctx context.Context, raw string) error
}

// *engine.Engine is the Inspector cmd/trustgate wires in.
var _ Inspector = (*engine.Engine)(nil)

// Parameters of introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1).
const (
	paramToken         = "token"
	paramTokenTypeHint = "token_type_hint"
	descTokenMissing   = "parameter token is required"
)

// whoamiResponse describes the live token a caller holds.
type whoamiResponse struct {
	Identity  string            `json:"identity"`
	Subject   string            `json:"subject"`
	Roles     []string          `json:"roles"`
	Scopes    []string          `json:"scopes"`
	Audiences []string          `json:"audiences"`
	IssuedAt  time.Time         `json:"issued_at"`
	ExpiresAt time.Time         `json:"expires_at"`
	Actor     *mint.Actor       `json:"act,omitempty"`
	Source    map[string]string `json:"src,omitempty"`
	// Grant is the just-in-time request the token was issued under.
	Grant string `json:"grant,omitempty"`
}

// whoami is GET /v1/whoami: the issued token, from the Authorization header
// only (RFC 6750 §2.1; the query and the body are not looked at) → Inspect
// → its identity, roles, scopes and expiry. Anything but a live token of
// this server is 401 (RFC 6750 §3.1).
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	raw, present := bearerToken(r)
	if raw == "" {
		if !present {
			// RFC 6750 §3.1: no credentials at all, no error code.
			return &apiError{status: http.StatusUnauthorized, code: codeInvalidToken, desc: descNoToken, challenge: "Bearer"}
		}
		return engine.ErrInactive // 401 invalid_token, as for any token that is not live
	}
	in, err := s.inspector.Inspect(r.Context(), raw)
	if err != nil {
		return err // ErrInactive is 401 invalid_token in toAPIError
	}
	c := in.Claims
	return writeJSON(w, http.StatusOK, whoamiResponse{
		Identity:  c.ClientID,
		Subject:   c.Subject,
		Roles:     nonNil(c.Roles),
		Scopes:    nonNil(strings.Fields(c.Scope)),
		Audiences: nonNil(c.Audience),
		IssuedAt:  time.Unix(c.IssuedAt, 0).UTC(),
		ExpiresAt: time.Unix(c.Expiry, 0).UTC(),
		Actor:     c.Act,
		Source:    c.Src,
		Grant:     c.Grant,
	})
}

// bearerToken returns the credentials of an RFC 6750 §2.1 Authorization
// header: exactly one header, the Bearer scheme (any case), one space, a
// b64token. present says whether any Authorization header was sent; a
// present but malformed one gives "".
func bearerToken(r *http.Request) (token string, present bool) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", false
	}
	if len(values) > 1 {
		return "", true
	}
	scheme, cred, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !isB64Token(cred) {
		return "", true
	}
	return cred, true
}

// isB64Token is RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// introspection is the RFC 7662 §2.2 response for a live token.
type introspection struct {
	Active    bool        `json:"active"`
	Scope     string      `json:"scope,omitempty"`
	ClientID  string      `json:"client_id,omitempty"`
	TokenType string      `json:"token_type,omitempty"`
	Expiry    int64       `json:"exp,omitempty"`
	IssuedAt  int64       `json:"iat,omitempty"`
	NotBefore int64       `json:"nbf,omitempty"`
	Subject   string      `json:"sub,omitempty"`
	Audience  []string    `json:"aud,omitempty"`
	Issuer    string      `json:"iss,omitempty"`
	ID        string      `json:"jti,omitempty"`
	Roles     []string    `json:"roles,omitempty"`
	Actor     *mint.Actor `json:"act,omitempty"`
	Grant     string      `json:"grant,omitempty"`
}

// introspect is POST /oauth2/introspect (RFC 7662): the client's
// credentials when clients are configured (§2.1; the body is not read
// before they pass) → the token parameter → Inspect → its claims. A token
// that is not live, for whatever reason, is {"active": false} and nothing
// else (RFC 7662 §2.2). token_type_hint is ignored: this server has one
// kind of token.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	if err := s.clients.authenticate(r); err != nil {
		return err
	}
	raw, err := readTokenForm(r)
	if err != nil {
		return err
	}
	in, err := s.inspector.Inspect(r.Context(), raw)
	switch {
	case errors.Is(err, engine.ErrInactive):
		return writeJSON(w, http.StatusOK, introspection{Active: false})
	case err != nil:
		return err
	}
	c := in.Claims
	return writeJSON(w, http.StatusOK, introspection{
		Active:    true,
		Scope:     c.Scope,
		ClientID:  c.ClientID,
		TokenType: tokenTypeBearer,
		Expiry:    c.Expiry,
		IssuedAt:  c.IssuedAt,
		NotBefore: c.NotBefore,
		Subject:   c.Subject,
		Audience:  c.Audience,
		Issuer:    c.Issuer,
		ID:        c.ID,
		Roles:     c.Roles,
		Actor:     c.Act,
		Grant:     c.Grant,
	})
}

// revoke is POST /oauth2/revoke (RFC 7009): the token parameter → Revoke →
// 200 with no body, whether or not the token was live (§2.2: an invalid
// token is not an error). token_type_hint is ignored (§2.1 allows it).
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	raw, err := readTokenForm(r)
	if err != nil {
		return err
	}
	if err := s.inspector.Revoke(r.Context(), raw); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// readTokenForm reads the form of introspection and revocation: a token,
// given once, and an optional token_type_hint.
func readTokenForm(r *http.Request) (string, error) {
	f, err := readForm(r, paramToken, paramTokenTypeHint)
	if err != nil {
		return "", err
	}
	raw := f.get(paramToken)
	if raw == "" {
		return "", invalidRequest(descTokenMissing)
	}
	return raw, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
