package main

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
)

// logs are the service's two streams: operational logs on stderr and the
// decision log, on stdout or in a file of its own.
type logs struct {
	app       *zap.Logger
	decisions *zap.Logger
	closers   []func() error
}

func newLogs(cfg config.Log, stdout, stderr io.Writer) (*logs, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.Format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	app := zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(stderr)), level))
	decisions := zapcore.NewCore(decisionEncoder(), newGroupWriter(zapcore.AddSync(stdout)), zapcore.InfoLevel)
	l := &logs{app: app, decisions: zap.New(decisions)}
	if cfg.DecisionLog != "" && cfg.DecisionLog != "stdout" {
		sink, closeSink, err := zap.Open(cfg.DecisionLog)
		if err != nil {
			return nil, fmt.Errorf("log.decision_log: %w", err)
		}
		l.decisions = zap.New(zapcore.NewCore(decisionEncoder(), newGroupWriter(sink), zapcore.InfoLevel))
		l.closers = append(l.closers, func() error { closeSink(); return nil })
	}
	return l, nil
}

// decisionEncoder writes decision records as JSON lines without zap's
// float-epoch "ts": each record carries its own RFC 3339 "timestamp", as
// OPA's decision logs do.
func decisionEncoder() zapcore.Encoder {
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = zapcore.OmitKey
	return zapcore.NewJSONEncoder(cfg)
}

func (l *logs) sync() {
	_ = l.app.Sync()
	_ = l.decisions.Sync()
	for _, c := range l.closers {
		_ = c()
	}
}
