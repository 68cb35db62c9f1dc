package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/verify"
)

// ErrRecord is a decision record's input that cannot be read back.
var ErrRecord = errors.New("not a decision record's input")

// recordedInput is a record's input as Evaluation.AppendJSON writes it.
type recordedInput struct {
	Provider struct {
		Name     string `json:"name"`
		Issuer   string `json:"issuer"`
		Platform string `json:"platform"`
	} `json:"provider"`
	Token   json.RawMessage `json:"token"`
	Request struct {
		Identity  string   `json:"identity"`
		Scopes    []string `json:"scopes"`
		Audiences []string `json:"audiences"`
		ClientIP  string   `json:"client_ip"`
	} `json:"request"`
	Now    string          `json:"now"`
	Grants []recordedGrant `json:"grants"`
}

type recordedGrant struct {
	ID        string         `json:"id"`
	Identity  string         `json:"identity"`
	StartsAt  string         `json:"starts_at"` // "" for none (rfc3339)
	EndsAt    time.Time      `json:"ends_at"`
	Scopes    []string       `json:"scopes"`
	Audiences []string       `json:"audiences"`
	Binds     bool           `json:"binds"`
	Binding   access.Binding `json:"binding"`
}

// ParseEvaluation reads back the input of a decision record (AppendJSON):
// the claims through the one strict parse of verified payloads, the
// provider as recorded (name, issuer, platform), now, the grants seen.
func ParseEvaluation(input []byte) (*Evaluation, error) {
	var in recordedInput
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	if in.Provider.Issuer == "" || len(in.Token) == 0 || in.Now == "" {
		return nil, fmt.Errorf("%w: it lacks provider.issuer, token or now", ErrRecord)
	}
	claims, err := verify.ParseClaims(in.Token)
	if err != nil {
		return nil, fmt.Errorf("%w: token: %w", ErrRecord, err)
	}
	now, err := time.Parse(time.RFC3339, in.Now)
	if err != nil {
		return nil, fmt.Errorf("%w: now: %w", ErrRecord, err)
	}
	ev := &Evaluation{
		Provider: &verify.Provider{Name: in.Provider.Name, Issuer: in.Provider.Issuer, Platform: in.Provider.Platform},
		Claims:   claims,
		Payload:  in.Token,
		Request:  Request{Identity: in.Request.Identity, Scopes: in.Request.Scopes, Audiences: in.Request.Audiences, ClientIP: in.Request.ClientIP},
		Now:      now,
	}
	if in.Grants != nil {
		ev.Grants = make([]access.Grant, len(in.Grants))
		for i, g := range in.Grants {
			var starts time.Time
			if g.StartsAt != "" {
				if starts, err = time.Parse(time.RFC3339, g.StartsAt); err != nil {
					return nil, fmt.Errorf("%w: grant %s: starts_at: %w", ErrRecord, g.ID, err)
				}
			}
			ev.Grants[i] = access.Grant{ID: g.ID, Identity: g.Identity, StartsAt: starts, EndsAt: g.EndsAt,
				Scopes: g.Scopes, Audiences: g.Audiences, Binds: g.Binds, Binding: g.Binding}
		}
	}
	return ev, nil
}
