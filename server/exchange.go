package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/trustgate/trustgate/engine"
)

// Exchanger is what the two exchange endpoints (POST /oauth2/token and
// /v1/auth:exchangeToken) need: refusals are *engine.Error values wrapping
// the engine's sentinels.
type Exchanger interface {
	Exchange(ctx context.Context, req engine.Request) (*engine.Token, error)
}

// *engine.Engine is the Exchanger cmd/trustgate wires in.
var _ Exchanger = (*engine.Engine)(nil)

// Fields of the POST /v1/auth:exchangeToken body.
const (
	fieldToken    = "token"
	fieldIdentity = "identity"
	fieldEmail    = "email"
	fieldScopes   = "scopes"
	fieldAudience = "audience"
)

// Descriptions of refused JSON requests (constants, never input).
const (
	descJSONSyntax    = "the request body must be one JSON object"
	descJSONUnknown   = "the request body has a field this endpoint does not know"
	descJSONDuplicate = "the request body has a field more than once"
	descJSONTrailing  = "the request body has data after the JSON object"
	descJSONUTF8      = "the request body is not valid UTF-8"
	descJSONString    = "token, identity, email and audience must be strings"
	descJSONScopes    = "scopes must be an array of strings"
	descJSONToken     = "field token is required"
	descJSONIdentity  = "give identity or email, not both"
)

// exchangeRequest is the body of POST /v1/auth:exchangeToken.
type exchangeRequest struct {
	Token    string
	Identity string
	Email    string
	Scopes   []string
	Audience string
}

// exchangeResponse is its answer.
type exchangeResponse struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"`
	Scope       string `json:"scope,omitempty"`
}

// exchangeJSON is POST /v1/auth:exchangeToken, the JSON convenience for
// pipelines: parse → Exchange → write. Errors have the OAuth shape.
func (s *Server) exchangeJSON(w http.ResponseWriter, r *http.Request) error {
	req, err := readExchangeRequest(r)
	if err != nil {
		return err
	}
	req.ClientIP = s.clientIP(r)
	tok, err := s.exchanger.Exchange(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, exchangeResponse{
		AccessToken: tok.AccessToken,
		TokenType:   tokenTypeBearer,
		ExpiresIn:   expiresIn(tok.ExpiresIn),
		Scope:       strings.Join(tok.Scopes, " "),
	})
}

// readExchangeRequest reads the JSON body and checks it means one request.
func readExchangeRequest(r *http.Request) (engine.Request, error) {
	if err := checkPost(r, jsonMediaType, descJSONType); err != nil {
		return engine.Request{}, err
	}
	body, err := readBody(r)
	if err != nil {
		return engine.Request{}, err
	}
	in, err := decodeExchangeRequest(body)
	if err != nil {
		return engine.Request{}, err
	}
	if in.Token == "" {
		return engine.Request{}, invalidRequest(descJSONToken)
	}
	if in.Identity != "" && in.Email != "" {
		return engine.Request{}, invalidRequest(descJSONIdentity)
	}
	scopes, err := checkScopes(in.Scopes)
	if err != nil {
		return engine.Request{}, err
	}
	req := engine.Request{SubjectToken: in.Token, Identity: in.Identity + in.Email, Scopes: scopes}
	if in.Audience != "" {
		req.Audiences = []string{in.Audience}
	}
	return req, nil
}

// decodeExchangeRequest decodes body strictly (decodeObject), which
// encoding/json's Decode would not: field names matched exactly (Decode
// matches them case-insensitively); a field given twice refused (Decode
// keeps the last); an unknown field refused; null and other types where a
// string is due refused; nothing after the object; no invalid UTF-8
// (Decode replaces it silently).
func decodeExchangeRequest(body []byte) (exchangeRequest, error) {
	var req exchangeRequest
	err := decodeObject(body, map[string]func(*json.Decoder) error{
		fieldToken:    stringField(&req.Token, descJSONString),
		fieldIdentity: stringField(&req.Identity, descJSONString),
		fieldEmail:    stringField(&req.Email, descJSONString),
		fieldAudience: stringField(&req.Audience, descJSONString),
		fieldScopes: func(dec *json.Decoder) (err error) {
			req.Scopes, err = jsonStrings(dec)
			return err
		},
	})
	return req, err
}

// jsonStrings reads a value that must be an array of strings, of at most
// maxListItems.
func jsonStrings(dec *json.Decoder) ([]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidRequest(descJSONSyntax)
	}
	if tok != json.Delim('[') {
		return nil, invalidRequest(descJSONScopes)
	}
	out := []string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidRequest(descJSONSyntax)
		}
		s, ok := tok.(string)
		if !ok {
			return nil, invalidRequest(descJSONScopes)
		}
		if len(out) == maxListItems {
			return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidScope, desc: descTooManyItems}
		}
		out = append(out, s)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, invalidRequest(descJSONSyntax)
	}
	return out, nil
}
