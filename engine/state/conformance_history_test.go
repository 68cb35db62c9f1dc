package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var historyTests = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"Equal decisions are one history row with their counts added and the latest record", testHistoryFolds},
	{"The history streams in pages, only what was seen since the time asked", testHistoryPages},
	{"Sweeping the history deletes what is past keep and trims it to max_rows, oldest first", testHistorySweep},
	{"The history writer folds a batch, writes it off the caller's path, and drops when behind", testHistoryWriter},
	{"The history survives closing and opening the database again", testHistoryDurable},
	{"A read-only open changes nothing and refuses a schema it does not know", testReadOnly},
}

func entry(key string, at time.Time, count int64) HistoryEntry {
	return HistoryEntry{Key: sha256.Sum256([]byte(key)), Record: []byte(fmt.Sprintf(`{"key":%q,"at":%d}`, key, at.UnixNano())), At: at, Count: count}
}

func readAll(t *testing.T, s *Store, since time.Time) []HistoryRow {
	t.Helper()
	var rows []HistoryRow
	if err := s.DecisionHistory(context.Background(), since, func(r HistoryRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

func testHistoryFolds(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t), nil)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	newer := entry("a", t0.Add(time.Minute), 999)
	if err := s.KeepDecisions(ctx, []HistoryEntry{newer, entry("b", t0, 1)}); err != nil {
		t.Fatal(err)
	}
	// An older decision of key a adds its count but neither its record nor its time.
	old := entry("a", t0, 1)
	old.Record = []byte(`{"old":true}`)
	if err := s.KeepDecisions(ctx, []HistoryEntry{old}); err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, s, t0.Add(-time.Hour))
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	// Row a is the one that is not b, found whatever its record became.
	a := rows[0]
	if strings.Contains(string(a.Record), `"b"`) {
		a = rows[1]
	}
	if a.Count != 1000 || !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(time.Minute)) || !bytes.Equal(a.Record, newer.Record) {
		t.Fatalf("row a %+v: want count 1000, first seen %v, last seen and record of the newer decision", a, t0)
	}
	st, err := s.DecisionHistoryStats(ctx)
	if err != nil || st.Rows != 2 || st.Decisions != 1001 || st.Bytes == 0 {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

func testHistoryPages(t *testing.T, b backend) {
	s := open(t, b.fresh(t), nil)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var batch []HistoryEntry
	for i := range 2*historyPage + 10 {
		batch = append(batch, entry(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), 1))
	}
	if err := s.KeepDecisions(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	distinct := func(rows []HistoryRow) int {
		seen := map[string]bool{}
		for _, r := range rows {
			seen[string(r.Record)] = true
		}
		return len(seen)
	}
	if rows := readAll(t, s, t0); len(rows) != len(batch) || distinct(rows) != len(batch) {
		t.Fatalf("read %d rows (%d distinct), want all %d once each across pages", len(rows), distinct(rows), len(batch))
	}
	since := t0.Add(100 * time.Second)
	rows := readAll(t, s, since)
	if len(rows) != len(batch)-100 || distinct(rows) != len(rows) {
		t.Fatalf("read %d rows (%d distinct) since the 100th second, want %d", len(rows), distinct(rows), len(batch)-100)
	}
	for _, r := range rows {
		if r.LastSeen.Before(since) {
			t.Fatalf("a row last seen at %v read since %v", r.LastSeen, since)
		}
	}
	n := 0
	err := s.DecisionHistory(context.Background(), t0, func(HistoryRow) error { n++; return ErrStop })
	if err != nil || n != 1 {
		t.Fatalf("ErrStop: %d rows, %v; want 1 and no error", n, err)
	}
	boom := errors.New("boom")
	if err := s.DecisionHistory(context.Background(), t0, func(HistoryRow) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("an error of f: %v, want it back", err)
	}
}

func testHistorySweep(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	s, err := Open(ctx, b.fresh(t), Options{Now: clk.Now, HistoryKeep: time.Hour, HistoryMaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := clk.Now()
	batch := []HistoryEntry{entry("old", now.Add(-2*time.Hour), 1)}
	for i := range 5 {
		batch = append(batch, entry(fmt.Sprint(i), now.Add(-time.Duration(5-i)*time.Minute), 1))
	}
	if err := s.KeepDecisions(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, s, time.Time{})
	var kept []string
	for _, r := range rows {
		kept = append(kept, string(r.Record))
	}
	got := strings.Join(kept, " ")
	if len(rows) != 3 || strings.Contains(got, `"old"`) || strings.Contains(got, `"0"`) || strings.Contains(got, `"1"`) {
		t.Fatalf("kept %s: want the 3 most recently seen", got)
	}
	off, err := Open(ctx, b.fresh(t), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = off.Close() }()
	if err := off.KeepDecisions(ctx, []HistoryEntry{entry("x", now, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Sweep(ctx, 10); err != nil || len(readAll(t, off, time.Time{})) != 0 {
		t.Fatalf("with no keep the sweep leaves rows (%v): the history is off", err)
	}
}

func testHistoryWriter(t *testing.T, b backend) {
	s := open(t, b.fresh(t), nil)
	reg := prometheus.NewRegistry()
	w := NewHistoryWriter(s, HistoryWriterOptions{Queue: 3000, Batch: 100, Interval: 10 * time.Millisecond, Registerer: reg})
	at := time.Now()
	for range 1000 { // a thousand jobs of one pipeline
		w.Keep(entry("pipeline", at, 1))
	}
	w.Keep(entry("other", at, 1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows := readAll(t, s, time.Time{})
		if len(rows) == 2 && rows[0].Count+rows[1].Count == 1001 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows %+v: want 2 rows standing for 1001 decisions", rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	full := NewHistoryWriter(s, HistoryWriterOptions{Queue: 2, Registerer: prometheus.NewRegistry()})
	for range 5 {
		full.Keep(entry("x", at, 1)) // nobody runs it: the queue fills
	}
	if n := testutil.ToFloat64(full.m.dropped); n != 3 {
		t.Fatalf("dropped %v, want 3 of 5 with a queue of 2", n)
	}
	// A batch folding a key's decisions keeps the first one's time too.
	batch := newFold(10)
	batch.add(entry("spread", at.Add(time.Second), 1))
	batch.add(entry("spread", at, 1))
	batch.add(entry("spread", at.Add(2*time.Second), 1))
	if err := s.KeepDecisions(context.Background(), batch.take()); err != nil {
		t.Fatal(err)
	}
	spread := 0
	for _, r := range readAll(t, s, time.Time{}) {
		if !strings.Contains(string(r.Record), `"spread"`) {
			continue
		}
		spread++
		if r.Count != 3 || !r.FirstSeen.Equal(at) || !r.LastSeen.Equal(at.Add(2*time.Second)) {
			t.Fatalf("folded row %+v: want 3 decisions seen from %v to 2s later", r, at)
		}
	}
	if spread != 1 {
		t.Fatalf("%d rows of the folded key, want 1", spread)
	}
}

func testHistoryDurable(t *testing.T, b backend) {
	needShared(t, b)
	url := b.fresh(t)
	s := open(t, url, nil)
	if err := s.KeepDecisions(context.Background(), []HistoryEntry{entry("kept", time.Now(), 7)}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = open(t, url, nil)
	if rows := readAll(t, s, time.Time{}); len(rows) != 1 || rows[0].Count != 7 {
		t.Fatalf("after reopening: %+v", rows)
	}
}

func testReadOnly(t *testing.T, b backend) {
	needShared(t, b)
	ctx := context.Background()
	url := b.fresh(t)
	s := open(t, url, nil)
	if _, err := s.db.ExecContext(ctx, "INSERT INTO "+versionTable+" (version_id, is_applied) VALUES (999, true)"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err := Open(ctx, url, Options{ReadOnly: true})
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != 999 {
		t.Fatalf("read-only open of a newer database: %v, want SchemaTooNewError", err)
	}
	if b.name == "sqlite" {
		missing := filepath.Join(t.TempDir(), "absent.db")
		if _, err := Open(ctx, "sqlite:"+missing, Options{ReadOnly: true}); err == nil {
			t.Fatal("a read-only open of a missing SQLite file succeeded")
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a read-only open created %s", missing)
		}
	}
}
