package main

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/state"
)

// defaultStateURL is where state lives when the config names no state.url:
// an embedded SQLite file in the working directory (DESIGN §11).
const defaultStateURL = "sqlite:trustgate-state.db"

// stateConfig is `state` in trustgate.yaml (DESIGN §11).
type stateConfig struct {
	// URL is sqlite:PATH (embedded, one replica), postgres://… (many
	// replicas) or memory: (tests: lost at exit, not shared). Empty:
	// defaultStateURL, said once in the log.
	URL string `json:"url"`
	// PasswordFile holds the PostgreSQL password, so the URL carries none.
	PasswordFile string `json:"password_file"`
}

// problems are what is wrong with s, each naming its key.
func (s stateConfig) problems() []string {
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

// openState opens the state store the config names, registering its
// metrics with reg. Failing to open it stops serve with one line.
func openState(ctx context.Context, cfg stateConfig, log *zap.Logger, reg prometheus.Registerer) (*state.Store, error) {
	url := cfg.URL
	switch {
	case url == "":
		url = defaultStateURL
		log.Info("state: no state.url configured: keeping state in trustgate-state.db in the working directory",
			zap.String("url", url))
	case url == "memory:":
		log.Warn("state is in memory: revocations and used one-time tokens are lost at exit and not shared with other replicas; for tests only")
	}
	return state.Open(ctx, url, state.Options{
		PasswordFile: cfg.PasswordFile,
		Logger:       log.Named("state"),
		Registerer:   reg,
	})
}
