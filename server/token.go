package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/trustgate/trustgate/engine"
)

// RFC 8693 identifiers.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// repeatable form parameters; every other one may appear once.
func repeatable(name string) bool { return name == "audience" }

// readForm reads an application/x-www-form-urlencoded body. Parameters in
// the URL query are refused (RFC 6749 §3.2 and RFC 8693 §2.1: the request is
// a POST body; tokens in URLs end up in logs), as is any single-valued
// parameter given twice.
func readForm(r *http.Request) (url.Values, error) {
	if err := requireContentType(r, "application/x-www-form-urlencoded"); err != nil {
		return nil, err
	}
	if r.URL.RawQuery != "" {
		return nil, badRequest(errors.New("parameters in the URL query are not accepted"))
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest(errors.New("body is not form-encoded"))
	}
	for name, vs := range form {
		if len(vs) > 1 && !repeatable(name) {
			return nil, badRequest(fmt.Errorf("parameter %q repeated", name))
		}
	}
	return form, nil
}

func requireContentType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return badRequest(fmt.Errorf("content type is not %s", want))
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, badRequest(errors.New("body could not be read"))
	}
	return body, nil
}

// tokenResponse is RFC 8693 §2.2.1.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
}

// token is POST /oauth2/token, in numbered steps so none can be skipped.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	// 1. Read the form strictly.
	form, err := readForm(r)
	if err != nil {
		return err
	}
	// 2. Check the grant and token types.
	issuedType, err := checkExchangeForm(form)
	if err != nil {
		return err
	}
	// 3. Exchange.
	tok, err := s.eng.Exchange(r.Context(), engine.Request{
		SubjectToken: form.Get("subject_token"),
		Identity:     form.Get("identity"),
		Scopes:       strings.Fields(form.Get("scope")),
		Audiences:    form["audience"],
		ClientIP:     clientIP(r),
	})
	if err != nil {
		return err
	}
	// 4. Answer.
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:     tok.AccessToken,
		IssuedTokenType: issuedType,
		TokenType:       "Bearer",
		ExpiresIn:       int64(tok.ExpiresIn.Seconds()),
		Scope:           strings.Join(tok.Scopes, " "),
	})
	return nil
}

// checkExchangeForm checks RFC 8693 §2.1's parameters and returns the
// issued_token_type to answer with.
func checkExchangeForm(form url.Values) (string, error) {
	switch gt := form.Get("grant_type"); {
	case gt == "":
		return "", badRequest(errors.New("grant_type missing"))
	case gt != grantTokenExchange:
		return "", &apiError{status: http.StatusBadRequest, code: codeUnsupportedGrantType, desc: descGrant}
	}
	if form.Get("subject_token") == "" {
		return "", badRequest(errors.New("subject_token missing"))
	}
	switch form.Get("subject_token_type") {
	case tokenTypeIDToken, tokenTypeJWT:
	default:
		return "", badRequest(errors.New("subject_token_type is not id_token or jwt"))
	}
	if form.Has("actor_token") || form.Has("actor_token_type") {
		return "", badRequest(errors.New("actor tokens are not supported"))
	}
	if form.Has("resource") {
		return "", &apiError{status: http.StatusBadRequest, code: codeInvalidTarget, desc: descTarget,
			cause: errors.New("resource is not supported; use audience")}
	}
	switch rt := form.Get("requested_token_type"); rt {
	case "", tokenTypeAccessToken:
		return tokenTypeAccessToken, nil
	case tokenTypeJWT:
		return tokenTypeJWT, nil
	default:
		return "", badRequest(errors.New("requested_token_type is not access_token or jwt"))
	}
}

// exchangeRequest is the JSON body of POST /v1/auth:exchangeToken.
type exchangeRequest struct {
	Token    string   `json:"token"`
	Identity string   `json:"identity"`
	Email    string   `json:"email"`
	Scopes   []string `json:"scopes"`
	Audience string   `json:"audience"`
}

type exchangeResponse struct {
	AccessToken string `json:"accessToken"`
	TokenType   string `json:"tokenType"`
	ExpiresIn   int64  `json:"expiresIn"`
	Scope       string `json:"scope,omitempty"`
}

// exchangeJSON is POST /v1/auth:exchangeToken for pipelines that speak JSON.
func (s *Server) exchangeJSON(w http.ResponseWriter, r *http.Request) error {
	var req exchangeRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Token == "" {
		return badRequest(errors.New("token missing"))
	}
	if req.Identity != "" && req.Email != "" {
		return badRequest(errors.New("identity and email both given"))
	}
	er := engine.Request{
		SubjectToken: req.Token,
		Identity:     req.Identity + req.Email,
		Scopes:       req.Scopes,
		ClientIP:     clientIP(r),
	}
	if req.Audience != "" {
		er.Audiences = []string{req.Audience}
	}
	tok, err := s.eng.Exchange(r.Context(), er)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, exchangeResponse{
		AccessToken: tok.AccessToken,
		TokenType:   "Bearer",
		ExpiresIn:   int64(tok.ExpiresIn.Seconds()),
		Scope:       strings.Join(tok.Scopes, " "),
	})
	return nil
}

// readJSON decodes an application/json body strictly: one object, no
// duplicate keys at any depth, no unknown fields, nothing after it.
func readJSON(r *http.Request, v any) error {
	if err := requireContentType(r, "application/json"); err != nil {
		return err
	}
	if r.URL.RawQuery != "" {
		return badRequest(errors.New("parameters in the URL query are not accepted"))
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := noDuplicateKeys(body); err != nil {
		return badRequest(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(errors.New("body does not match the request schema"))
	}
	if dec.More() {
		return badRequest(errors.New("data after the JSON object"))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest(errors.New("data after the JSON object"))
	}
	return nil
}

// noDuplicateKeys walks body's JSON and refuses a name repeated in an
// object; encoding/json would silently keep the last one.
func noDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("body is not a JSON object")
	}
	return walkObject(dec, 0)
}

func walkObject(dec *json.Decoder, depth int) error {
	if depth > 16 {
		return errors.New("JSON nests too deep")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("body is not valid JSON")
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("JSON name %q repeated", name)
		}
		seen[name] = true
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func walkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errors.New("body is not valid JSON")
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, depth+1)
	case json.Delim('['):
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}
