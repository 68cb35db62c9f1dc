package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/access/notify"
	"github.com/trustgate/trustgate/engine/state"
)

// startNotifications runs the Notifier of cfg's notifications over the
// store's outbox until ctx ends, reporting its end on errc. With no
// notifications configured it runs nothing; the outbox then stays empty,
// as no event subscribes a target.
func startNotifications(ctx context.Context, cfg config.Config, store *state.Store, log *zap.Logger, reg prometheus.Registerer, errc chan<- error) error {
	if len(cfg.Notifications) == 0 {
		return nil
	}
	targets, err := cfg.Targets()
	if err != nil {
		return err
	}
	if cfg.ConsoleURL == "" {
		log.Warn("notifications: console_url is not set: notifications carry no link to the request")
	}
	n, err := notify.New(notify.Config{
		Outbox:     store,
		Targets:    targets,
		ConsoleURL: cfg.ConsoleURL,
		Logger:     log.Named("notify"),
		Registerer: reg,
	})
	if err != nil {
		return err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	log.Info("notifications: delivering just-in-time events", zap.Strings("targets", names))
	go func() { errc <- n.Run(ctx) }()
	return nil
}
