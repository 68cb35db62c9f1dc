package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/trustgate/trustgate/engine/scope"
)

// Media types of request bodies.
const (
	formMediaType = "application/x-www-form-urlencoded"
	jsonMediaType = "application/json"
)

// Descriptions of malformed requests. Constants, or a constant naming one
// of the API's own parameters: never a value from the request.
const (
	descQuery        = "parameters in the URL query are not accepted; send them in the request body"
	descFormType     = "the content type must be " + formMediaType
	descJSONType     = "the content type must be " + jsonMediaType
	descFormSyntax   = "the request body is not valid " + formMediaType
	descUnreadable   = "the request body could not be read"
	descUTF8         = "a parameter is not valid UTF-8"
	descScopeSyntax  = "scope must be space-separated scope tokens (RFC 6749 section 3.3)"
	descTooManyItems = "too many scopes or audiences"
)

// maxListItems bounds the scopes and audiences of one request.
const maxListItems = 32

// readBody reads the body under the cap instrument installed; a larger body
// is the *http.MaxBytesError that toAPIError answers with 413.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, err
	case err != nil:
		return nil, invalidRequest(descUnreadable)
	}
	return body, nil
}

// checkPost refuses what a POST to the API must not carry: parameters in
// the URL query (RFC 6749 §3.2 and RFC 8693 §2.1 put them in the body;
// a token in a URL ends up in access logs and proxies) and a body of
// another media type. Media type parameters such as charset are fine.
func checkPost(r *http.Request, mediaType, desc string) error {
	if r.URL.RawQuery != "" {
		return invalidRequest(descQuery)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaType || len(r.Header.Values("Content-Type")) != 1 {
		return invalidRequest(desc)
	}
	return nil
}

// form is a parsed application/x-www-form-urlencoded body.
type form url.Values

// readForm reads a form body strictly (RFC 6749 §3.2): only from the body,
// never the URL query; none of the single-valued parameters named repeated
// (RFC 6749 §3.2: "Request and response parameters MUST NOT be included
// more than once"); every name and value valid UTF-8. Unrecognized
// parameters are otherwise ignored, as RFC 6749 §3.2 requires.
func readForm(r *http.Request, single ...string) (form, error) {
	if err := checkPost(r, formMediaType, descFormType); err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest(descFormSyntax)
	}
	for _, name := range single {
		if len(values[name]) > 1 {
			return nil, invalidRequest("parameter " + name + " is repeated")
		}
	}
	for name, vs := range values {
		if !utf8.ValidString(name) {
			return nil, invalidRequest(descUTF8)
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return nil, invalidRequest(descUTF8)
			}
		}
	}
	return form(values), nil
}

// get is the value of a single-valued parameter; "" when it is absent or
// empty, which RFC 6749 §3.2 says are the same.
func (f form) get(name string) string {
	if vs := f[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// list is the non-empty values of a repeatable parameter.
func (f form) list(name string) []string {
	var out []string
	for _, v := range f[name] {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// has reports whether a parameter is present with a value.
func (f form) has(name string) bool { return len(f.list(name)) > 0 }

// parseScope splits an RFC 6749 §3.3 scope: scope-tokens separated by
// single spaces. Duplicates are dropped; malformed is invalid_scope.
func parseScope(scope string) ([]string, error) {
	if scope == "" {
		return nil, nil
	}
	return checkScopes(strings.Split(scope, " ")) // an empty token is no scope
}

// checkScopes checks each scope is an RFC 6749 §3.3 scope-token
// (1*( %x21 / %x23-5B / %x5D-7E )) and drops duplicates.
func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	if len(scopes) > maxListItems {
		return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidScope, desc: descTooManyItems}
	}
	out := make([]string, 0, len(scopes))
	seen := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		if !scope.Valid(s) {
			return nil, &apiError{status: http.StatusBadRequest, code: codeInvalidScope, desc: descScopeSyntax}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// checkAudiences bounds the number of requested audiences.
func checkAudiences(auds []string) error {
	if len(auds) > maxListItems {
		return invalidRequest(descTooManyItems)
	}
	return nil
}

// writeJSON writes v as the JSON response. It fails only if v does not
// encode, before anything is written, so the caller can still answer 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // a client that went away is not an error of ours
	return nil
}
