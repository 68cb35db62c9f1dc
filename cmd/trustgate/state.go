package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/state"
)

// openState opens the state store the config names, registering its
// metrics with reg. Failing to open it stops serve with one line.
func openState(ctx context.Context, cfg config.State, history config.DecisionHistory, log *zap.Logger, reg prometheus.Registerer) (*state.Store, error) {
	url := cfg.URL
	switch url {
	case "":
		url = config.DefaultStateURL
		log.Info("state: no state.url configured: keeping state in trustgate-state.db in the working directory",
			zap.String("url", url))
	case "memory:":
		log.Warn("state is in memory: revocations and used one-time tokens are lost at exit and not shared with other replicas; for tests only")
	}
	return state.Open(ctx, url, state.Options{
		PasswordFile:   cfg.PasswordFile,
		Logger:         log.Named("state"),
		Registerer:     reg,
		HistoryKeep:    history.KeepFor(),
		HistoryMaxRows: history.MaxRows,
	})
}
