package outage_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/trustgate/trustgate/engine/outage"
)

// clock is a time the test moves.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func newLog(t *testing.T) (*outage.Log, *observer.ObservedLogs, *clock) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	c := &clock{now: time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)}
	l := outage.New(outage.Config{
		Logger:     zap.New(core),
		Dependency: "state store",
		Fields:     []zap.Field{zap.String("backend", "postgres")},
		Now:        c.Now,
	})
	return l, logs, c
}

// line is what a test expects of one log line.
type line struct {
	level   zapcore.Level
	message string
	fields  map[string]any
}

func checkLines(t *testing.T, logs *observer.ObservedLogs, want []line) {
	t.Helper()
	got := logs.AllUntimed()
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Level != w.level || g.Message != w.message {
			t.Errorf("line %d: %s %q, want %s %q", i, g.Level, g.Message, w.level, w.message)
		}
		fields := g.ContextMap()
		for k, v := range w.fields {
			if fmt.Sprint(fields[k]) != fmt.Sprint(v) {
				t.Errorf("line %d %q: %s = %v, want %v", i, g.Message, k, fields[k], v)
			}
		}
	}
}

func TestAnOutageIsThreeKindsOfLinesNotOnePerRefusal(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	tests := []struct {
		name string
		run  func(l *outage.Log, c *clock)
		want []line
	}{
		{
			name: "A dependency that always answers logs nothing.",
			run: func(l *outage.Log, _ *clock) {
				l.Answered()
				l.Refused("replay_use") // not down: another cause, logged elsewhere
			},
		},
		{
			name: "A thousand refusals within 30s are one error line with the first error, then one line when it is back with the outage's length.",
			run: func(l *outage.Log, c *clock) {
				l.Failed(refused)
				for range 1000 {
					l.Refused("replay_use")
					l.Failed(errors.New("a later error"))
					c.advance(10 * time.Millisecond)
				}
				l.Answered()
				l.Answered()
			},
			want: []line{
				{zapcore.ErrorLevel, "state store unreachable", map[string]any{"backend": "postgres", "error": refused.Error()}},
				{zapcore.InfoLevel, "state store reachable again", map[string]any{"backend": "postgres", "outage": "10s", "refused_total": 1000}},
			},
		},
		{
			name: "An outage of 75s has a summary every 30s, with the refusals by kind since the last line.",
			run: func(l *outage.Log, c *clock) {
				l.Failed(refused)
				for range 75 {
					c.advance(time.Second)
					l.Refused("replay_use")
					l.Refused("revoked")
					l.Refused("revoked")
				}
				l.Answered()
			},
			want: []line{
				{zapcore.ErrorLevel, "state store unreachable", nil},
				{zapcore.WarnLevel, "state store still unreachable", map[string]any{"down_for": "30s", "refused": map[string]any{"replay_use": 30, "revoked": 58}, "last_error": refused.Error()}},
				{zapcore.WarnLevel, "state store still unreachable", map[string]any{"down_for": "1m0s", "refused": map[string]any{"replay_use": 30, "revoked": 60}}},
				{zapcore.InfoLevel, "state store reachable again", map[string]any{"outage": "1m15s", "refused_total": 225}},
			},
		},
		{
			name: "A second outage is logged as new, with its own first error.",
			run: func(l *outage.Log, c *clock) {
				l.Failed(refused)
				c.advance(time.Second)
				l.Answered()
				l.Failed(errors.New("timeout"))
				c.advance(2 * time.Second)
				l.Answered()
			},
			want: []line{
				{zapcore.ErrorLevel, "state store unreachable", map[string]any{"error": refused.Error()}},
				{zapcore.InfoLevel, "state store reachable again", map[string]any{"outage": "1s"}},
				{zapcore.ErrorLevel, "state store unreachable", map[string]any{"error": "timeout"}},
				{zapcore.InfoLevel, "state store reachable again", map[string]any{"outage": "2s", "refused_total": 0}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, logs, c := newLog(t)
			tc.run(l, c)
			checkLines(t, logs, tc.want)
		})
	}
}

func TestConcurrentFailuresOfOneOutageLogOneErrorLine(t *testing.T) {
	l, logs, _ := newLog(t)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				l.Failed(errors.New("refused"))
				l.Refused("revoked")
			}
		}()
	}
	for range 8 {
		<-done
	}
	l.Answered()
	if n := logs.FilterMessage("state store unreachable").Len(); n != 1 {
		t.Fatalf("%d error lines, want 1", n)
	}
	if got := logs.FilterMessage("state store reachable again").AllUntimed(); len(got) != 1 || got[0].ContextMap()["refused_total"] != int64(800) {
		t.Fatalf("the end of the outage: %v, want one line with refused_total 800", got)
	}
}
