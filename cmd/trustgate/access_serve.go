package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
)

// expiryInterval is how often serve moves lapsed requests and ended grants
// to expired. A grant stops working at its end whatever this says (the
// exchange and introspection compare times); this only records the
// transition and its notification.
const expiryInterval = 5 * time.Second

// newAccess builds just-in-time access (DESIGN §13) on the state store
// serve opened: every transition is a decision-log record and, for the
// events the notifications config names, an outbox entry per target.
func newAccess(store access.Store, notify access.Subscribers, logs *logs) (*access.Service, error) {
	return access.New(access.Config{
		Store:  store,
		Notify: notify,
		Record: engine.AccessRecorder(logs.decisions),
		Logger: logs.app.Named("access"),
	})
}

// runExpiry calls ExpireDue every interval until ctx ends. A store that
// cannot answer is logged and tried again next time.
func runExpiry(ctx context.Context, svc *access.Service, interval time.Duration, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := svc.ExpireDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("expiring just-in-time requests failed; retrying", zap.Error(err))
		case n > 0:
			log.Info("just-in-time requests expired", zap.Int("count", n))
		}
	}
}
