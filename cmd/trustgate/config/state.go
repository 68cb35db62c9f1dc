package config

import (
	"strings"

	"github.com/trustgate/trustgate/engine/state"
)

// DefaultStateURL is where state lives when the config names no state.url:
// an embedded SQLite file in the working directory (DESIGN §11).
const DefaultStateURL = "sqlite:trustgate-state.db"

// State is `state` in trustgate.yaml (DESIGN §11).
type State struct {
	// URL is sqlite:PATH (embedded, one replica), postgres://… (many
	// replicas) or memory: (tests: lost at exit, not shared). Empty:
	// DefaultStateURL, said once in the log.
	URL string `json:"url"`
	// PasswordFile holds the PostgreSQL password, so the URL carries none.
	PasswordFile string `json:"password_file"`
}

// problems are what is wrong with s, each naming its key.
func (s State) problems() []string {
	var p []string
	if s.URL != "" {
		if err := state.CheckURL(s.URL); err != nil {
			p = append(p, "state.url: "+err.Error())
		}
	}
	postgres := strings.HasPrefix(s.URL, "postgres://") || strings.HasPrefix(s.URL, "postgresql://")
	if s.PasswordFile != "" && !postgres {
		p = append(p, "state.password_file: only for a postgres:// state.url")
	}
	return p
}
