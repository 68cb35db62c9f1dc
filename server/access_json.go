package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/trustgate/trustgate/engine/access"
)

// Fields of the just-in-time API's bodies.
const (
	fieldDuration  = "duration"
	fieldReason    = "reason"
	fieldTicket    = "ticket"
	fieldAudiences = "audiences"
	fieldStartsAt  = "starts_at"
	paramState     = "state"
	paramCursor    = "cursor"
	paramLimit     = "limit"
)

// Descriptions of refused just-in-time calls (constants, never input).
const (
	descNoIDToken       = "an ID token is required in the Authorization header (Bearer scheme)"
	descBadIDToken      = "the ID token is not valid"
	descAccessString    = "identity, duration, reason, ticket and starts_at must be strings"
	descAccessStartsAt  = "starts_at must be an RFC 3339 time, such as 2026-12-01T18:00:00Z"
	descAccessAudience  = "each audience must be a non-empty string"
	descAccessLimit     = "parameter limit must be a whole number from 1 to 200"
	descAccessIdentity  = "field identity is required"
	descAccessReason    = "field reason is required"
	descAccessDuration  = "duration must be a positive duration in whole seconds, such as 1h or 90m"
	descAccessTooLong   = "reason or ticket is too long"
	descAccessState     = "parameter state must be one of pending, approved, denied, cancelled, expired, revoked"
	descAccessListQuery = "the query parameters are state, identity, cursor and limit, each given once"
	descQueryNone       = "this endpoint takes no query parameters"
	descAccessDenied    = "refused by policy"
	descAccessNotFound  = "no such access request"
	descAccessConflict  = "the access request's state does not allow this"
	descAccessInvalid   = "the access request is malformed"
	descAccessOff       = "just-in-time access is not enabled on this server"
)

// states a list may be filtered by.
var states = map[string]access.State{
	"pending": access.StatePending, "approved": access.StateApproved, "denied": access.StateDenied,
	"cancelled": access.StateCancelled, "expired": access.StateExpired, "revoked": access.StateRevoked,
}

// readAccessFilter reads GET /v1/access/requests's query: state,
// identity, cursor and limit, each at most once, and nothing else. The
// cursor is the next_cursor of an earlier page, checked by the engine.
func readAccessFilter(rawQuery string) (access.Filter, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return access.Filter{}, invalidRequest(descAccessListQuery)
	}
	var f access.Filter
	for name, vs := range q {
		if len(vs) != 1 {
			return access.Filter{}, invalidRequest(descAccessListQuery)
		}
		if err := setFilter(&f, name, vs[0]); err != nil {
			return access.Filter{}, err
		}
	}
	return f, nil
}

// setFilter sets one list parameter.
func setFilter(f *access.Filter, name, v string) error {
	switch name {
	case paramState:
		st, ok := states[v]
		if !ok {
			return invalidRequest(descAccessState)
		}
		f.State = st
	case paramIdentity:
		f.Identity = v
	case paramCursor:
		f.Cursor = v
	case paramLimit:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > access.MaxList {
			return invalidRequest(descAccessLimit)
		}
		f.Limit = n
	default:
		return invalidRequest(descAccessListQuery)
	}
	return nil
}

// readNewAccessRequest reads POST /v1/access/requests's body strictly:
// {"identity", "duration"?, "reason", "ticket"?, "scopes"?}.
func readNewAccessRequest(r *http.Request) (access.NewRequest, error) {
	var in access.NewRequest
	if err := checkPost(r, jsonMediaType, descJSONType); err != nil {
		return in, err
	}
	body, err := readBody(r)
	if err != nil {
		return in, err
	}
	var duration, starts string
	err = decodeObject(body, map[string]func(*json.Decoder) error{
		fieldIdentity: stringField(&in.Identity, descAccessString),
		fieldDuration: stringField(&duration, descAccessString),
		fieldReason:   stringField(&in.Reason, descAccessString),
		fieldTicket:   stringField(&in.Ticket, descAccessString),
		fieldStartsAt: stringField(&starts, descAccessString),
		fieldScopes: func(dec *json.Decoder) (err error) {
			in.Scopes, err = jsonStrings(dec)
			return err
		},
		fieldAudiences: func(dec *json.Decoder) (err error) {
			in.Audiences, err = jsonStrings(dec)
			return err
		},
	})
	if err != nil {
		return in, err
	}
	return in, checkNewAccessRequest(&in, duration, starts)
}

func checkNewAccessRequest(in *access.NewRequest, duration, starts string) error {
	if in.Identity == "" {
		return invalidRequest(descAccessIdentity)
	}
	if in.Reason == "" {
		return invalidRequest(descAccessReason)
	}
	if len(in.Reason) > access.MaxReasonLen || len(in.Ticket) > access.MaxTicketLen {
		return invalidRequest(descAccessTooLong)
	}
	if duration != "" {
		d, err := time.ParseDuration(duration)
		if err != nil || d <= 0 || d%time.Second != 0 {
			return invalidRequest(descAccessDuration)
		}
		in.Duration = d
	}
	if starts != "" {
		t, err := time.Parse(time.RFC3339, starts)
		if err != nil {
			return invalidRequest(descAccessStartsAt)
		}
		in.StartsAt = t
	}
	if slices.Contains(in.Audiences, "") {
		return invalidRequest(descAccessAudience)
	}
	scopes, err := checkScopes(in.Scopes)
	in.Scopes = scopes
	return err
}

// readAccessReason reads the body of a review, cancel or revoke:
// {"reason"}, required for a review. A cancel or revoke may send no body.
func readAccessReason(r *http.Request, required bool) (string, error) {
	if r.URL.RawQuery != "" {
		return "", invalidRequest(descQuery)
	}
	body, err := readBody(r)
	if err != nil {
		return "", err
	}
	if len(body) == 0 && !required {
		return "", nil
	}
	if err := checkPost(r, jsonMediaType, descJSONType); err != nil {
		return "", err
	}
	var reason string
	if err := decodeObject(body, map[string]func(*json.Decoder) error{fieldReason: stringField(&reason, descAccessString)}); err != nil {
		return "", err
	}
	switch {
	case required && reason == "":
		return "", invalidRequest(descAccessReason)
	case len(reason) > access.MaxReasonLen:
		return "", invalidRequest(descAccessTooLong)
	}
	return reason, nil
}

// decodeObject decodes body strictly, token by token: exactly one object;
// field names matched exactly; a field given twice, an unknown field or
// data after the object refused; no invalid UTF-8. Each known field is
// read by its function.
func decodeObject(body []byte, fields map[string]func(*json.Decoder) error) error {
	if !utf8.Valid(body) {
		return invalidRequest(descJSONUTF8)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return invalidRequest(descJSONSyntax)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalidRequest(descJSONSyntax)
		}
		name, _ := tok.(string)
		read, ok := fields[name]
		switch {
		case seen[name]:
			return invalidRequest(descJSONDuplicate)
		case !ok:
			return invalidRequest(descJSONUnknown)
		}
		seen[name] = true
		if err := read(dec); err != nil {
			return err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return invalidRequest(descJSONSyntax)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidRequest(descJSONTrailing)
	}
	return nil
}

// stringField reads a field that must be a string into dst; desc says so
// when it is not.
func stringField(dst *string, desc string) func(*json.Decoder) error {
	return func(dec *json.Decoder) error {
		tok, err := dec.Token()
		if err != nil {
			return invalidRequest(descJSONSyntax)
		}
		s, ok := tok.(string)
		if !ok {
			return invalidRequest(desc)
		}
		*dst = s
		return nil
	}
}
