package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/replay"
	"github.com/trustgate/trustgate/engine/state"
)

func TestJobsOfOnePipelineAreOneHistoryRowThatReplays(t *testing.T) {
	var w *state.HistoryWriter
	f := newFixture(t, func(c *engine.Config) {
		w = state.NewHistoryWriter(c.Revocations.(*state.Store), state.HistoryWriterOptions{Interval: 10 * time.Millisecond, Registerer: prometheus.NewRegistry()})
		c.History = w
	})
	for i := range 20 { // twenty jobs of one pipeline: other jti, job_id, times
		raw := f.token(t, map[string]any{"job_id": fmt.Sprint(1000 + i), "pipeline_id": "77"})
		if _, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw, ClientIP: fmt.Sprintf("192.0.2.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, map[string]any{"ref_protected": "false"})}); err == nil {
		t.Fatal("an unprotected ref was granted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var rows []state.HistoryRow
	deadline := time.Now().Add(10 * time.Second)
	for len(rows) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		rows = rows[:0]
		if err := f.store.DecisionHistory(context.Background(), time.Time{}, func(r state.HistoryRow) error { rows = append(rows, r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	if len(rows) != 2 || rows[0].Count+rows[1].Count != 21 || (rows[0].Count != 20 && rows[1].Count != 20) {
		t.Fatalf("%d rows %+v: want one row of 20 allowed jobs and one of the denial", len(rows), rows)
	}
	var lines bytes.Buffer
	for _, r := range rows {
		lines.Write(r.Record)
		lines.WriteByte('\n')
	}
	pol, err := policy.Load(context.Background(), []string{f.bundle}, policy.Options{ServerIssuer: stsIssuer, AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&replay.Replayer{Head: pol}).Run(context.Background(), replay.NewFileSource("history", &lines))
	if err != nil || rep.Distinct != 2 || rep.Unchanged != 2 {
		t.Fatalf("replay of the history's records: %+v, %v; want both unchanged under the same policy", rep, err)
	}
}
