package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine"
)

// RFC 8693 identifiers.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	// tokenTypeBearer is token_type of every response (RFC 6750).
	tokenTypeBearer = "Bearer"
)

// Parameters of POST /oauth2/token (RFC 8693 §2.1, plus identity).
const (
	paramGrantType          = "grant_type"
	paramSubjectToken       = "subject_token"
	paramSubjectTokenType   = "subject_token_type"
	paramRequestedTokenType = "requested_token_type"
	paramActorToken         = "actor_token"
	paramActorTokenType     = "actor_token_type"
	paramScope              = "scope"
	paramAudience           = "audience"
	paramResource           = "resource"
	paramIdentity           = "identity"
)

// Descriptions of refused token requests (constants, never input).
const (
	descGrantMissing       = "parameter grant_type is required"
	descGrant              = "grant_type must be " + grantTokenExchange
	descSubjectToken       = "parameter subject_token is required"
	descSubjectTokenType   = "subject_token_type must be " + tokenTypeIDToken + " or " + tokenTypeJWT
	descRequestedTokenType = "requested_token_type must be " + tokenTypeAccessToken + " or " + tokenTypeJWT
	descActor              = "actor tokens (delegation) are not supported"
	descResource           = "the resource parameter is not supported; name the target with audience"
)

// tokenResponse is the RFC 8693 §2.2.1 response.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
}

// token is POST /oauth2/token: parse → Exchange → write.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(r, paramGrantType, paramSubjectToken, paramSubjectTokenType, paramRequestedTokenType,
		paramActorToken, paramActorTokenType, paramScope, paramIdentity)
	if err != nil {
		return err
	}
	req, issuedType, err := parseTokenExchange(f)
	if err != nil {
		return err
	}
	req.ClientIP = s.clientIP(r)
	tok, err := s.exchanger.Exchange(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:     tok.AccessToken,
		IssuedTokenType: issuedType,
		TokenType:       tokenTypeBearer,
		ExpiresIn:       expiresIn(tok.ExpiresIn),
		Scope:           strings.Join(tok.Scopes, " "),
	})
}

// parseTokenExchange checks an RFC 8693 §2.1 request in order, so that no
// check can be skipped, and returns the engine request and the
// issued_token_type to answer with.
func parseTokenExchange(f form) (engine.Request, string, error) {
	// 1. The grant: missing is malformed (RFC 6749 §5.2 invalid_request),
	// another one is unsupported_grant_type.
	switch f.get(paramGrantType) {
	case grantTokenExchange:
	case "":
		return engine.Request{}, "", invalidRequest(descGrantMissing)
	default:
		return engine.Request{}, "", &apiError{status: http.StatusBadRequest, code: codeUnsupportedGrantType, desc: descGrant}
	}
	// 2. The subject token and its type (RFC 8693 §2.1, §3).
	token := f.get(paramSubjectToken)
	if token == "" {
		return engine.Request{}, "", invalidRequest(descSubjectToken)
	}
	switch f.get(paramSubjectTokenType) {
	case tokenTypeIDToken, tokenTypeJWT:
	default:
		return engine.Request{}, "", invalidRequest(descSubjectTokenType)
	}
	// 3. The token type to issue: an access token, which is also a JWT.
	issued := tokenTypeAccessToken
	switch f.get(paramRequestedTokenType) {
	case "", tokenTypeAccessToken:
	case tokenTypeJWT:
		issued = tokenTypeJWT
	default:
		return engine.Request{}, "", invalidRequest(descRequestedTokenType)
	}
	// 4. What this server does not do: delegation, resource indicators.
	if f.has(paramActorToken) || f.has(paramActorTokenType) {
		return engine.Request{}, "", invalidRequest(descActor)
	}
	if f.has(paramResource) {
		return engine.Request{}, "", &apiError{status: http.StatusBadRequest, code: codeInvalidTarget, desc: descResource}
	}
	// 5. What is asked for: scopes (RFC 6749 §3.3), audiences, identity.
	scopes, err := parseScope(f.get(paramScope))
	if err != nil {
		return engine.Request{}, "", err
	}
	audiences := f.list(paramAudience)
	if err := checkAudiences(audiences); err != nil {
		return engine.Request{}, "", err
	}
	return engine.Request{
		SubjectToken: token,
		Identity:     f.get(paramIdentity),
		Scopes:       scopes,
		Audiences:    audiences,
	}, issued, nil
}

// expiresIn is a lifetime in whole seconds, rounded down so a client never
// believes a token lives longer than it does.
func expiresIn(d time.Duration) int64 { return int64(d / time.Second) }
