package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine"
)

// whoamiResponse describes a live issued token.
type whoamiResponse struct {
	Identity  string            `json:"identity"`
	Subject   string            `json:"subject"`
	Roles     []string          `json:"roles"`
	Scopes    []string          `json:"scopes"`
	Audiences []string          `json:"audiences"`
	IssuedAt  time.Time         `json:"issued_at"`
	ExpiresAt time.Time         `json:"expires_at"`
	Source    map[string]string `json:"source,omitempty"`
}

// whoami is GET /v1/whoami with the issued token as a Bearer credential
// (RFC 6750 §2.1; never from the query).
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	raw, ok := bearer(r)
	if !ok {
		return unauthorized(w, errors.New("no bearer token"))
	}
	in, err := s.eng.Inspect(r.Context(), raw)
	if err != nil {
		if errors.Is(err, engine.ErrInactive) {
			return unauthorized(w, err)
		}
		return err
	}
	c := in.Claims
	resp := whoamiResponse{
		Identity:  c.ClientID,
		Subject:   c.Subject,
		Roles:     nonNil(c.Roles),
		Scopes:    strings.Fields(c.Scope),
		Audiences: c.Audience,
		IssuedAt:  time.Unix(c.IssuedAt, 0).UTC(),
		ExpiresAt: time.Unix(c.Expiry, 0).UTC(),
		Source:    c.Src,
	}
	if c.Act != nil {
		if resp.Source == nil {
			resp.Source = map[string]string{}
		}
		resp.Source["iss"], resp.Source["sub"] = c.Act.Issuer, c.Act.Subject
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

func unauthorized(w http.ResponseWriter, cause error) error {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return &apiError{status: http.StatusUnauthorized, code: codeInvalidToken, desc: descToken, cause: cause}
}

// introspect is POST /oauth2/introspect (RFC 7662). Anything but a live
// token of this server is {"active": false}, whatever the reason.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return badRequest(errors.New("token missing"))
	}
	in, err := s.eng.Inspect(r.Context(), raw)
	if err != nil {
		if errors.Is(err, engine.ErrInactive) {
			writeJSON(w, http.StatusOK, map[string]bool{"active": false})
			return nil
		}
		return err
	}
	c := in.Claims
	writeJSON(w, http.StatusOK, map[string]any{
		"active":     true,
		"scope":      c.Scope,
		"client_id":  c.ClientID,
		"sub":        c.Subject,
		"aud":        c.Audience,
		"iss":        c.Issuer,
		"exp":        c.Expiry,
		"iat":        c.IssuedAt,
		"nbf":        c.NotBefore,
		"jti":        c.ID,
		"token_type": "Bearer",
		"roles":      nonNil(c.Roles),
	})
	return nil
}

// revoke is POST /oauth2/revoke (RFC 7009): 200 for any well-formed
// request, whether or not the token was live (§2.2).
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return badRequest(errors.New("token missing"))
	}
	if err := s.eng.Revoke(r.Context(), raw); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
