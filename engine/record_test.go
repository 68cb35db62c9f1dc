package engine_test

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
)

func TestAnAccessRecordCarriesRFC3339TimesInUTC(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	at := time.Date(2026, 3, 4, 10, 11, 12, 345000000, time.FixedZone("CET", 3600))
	record := engine.AccessRecorder(zap.New(core))
	record(access.Request{ID: "r1", Identity: "deploy", ExpiresAt: at.Add(time.Hour)},
		access.Event{Type: access.EventApproved, At: at})
	all := logs.FilterMessage("access").All()
	if len(all) != 1 {
		t.Fatalf("%d access records, want 1", len(all))
	}
	fields := all[0].ContextMap()
	if fields["timestamp"] != "2026-03-04T09:11:12.345Z" || fields["expires_at"] != "2026-03-04T10:11:12.345Z" {
		t.Fatalf("timestamp %v, expires_at %v: want RFC 3339 in UTC", fields["timestamp"], fields["expires_at"])
	}
	if _, has := fields["time"]; has {
		t.Fatalf("the record still has a time field beside its timestamp: %v", fields)
	}
}
