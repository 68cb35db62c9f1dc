package decisionlog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestEventsArriveInBatchesInOPAFormat(t *testing.T) {
	var (
		mu      sync.Mutex
		batches [][]map[string]any
	)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Content-Encoding %q, want gzip", r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		var batch []map[string]any
		if err := json.NewDecoder(zr).Decode(&batch); err != nil {
			t.Error(err)
		}
		mu.Lock()
		batches = append(batches, batch)
		mu.Unlock()
	}))
	defer sink.Close()
	s, err := NewHTTPSink(Config{URL: sink.URL, BatchSize: 3, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	for i := range 7 {
		s.Record(Event{DecisionID: string(rune('a' + i)), Path: "trustgate/decision", Labels: map[string]string{"app": "trustgate"}})
	}
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, b := range batches {
		if len(b) > 3 {
			t.Errorf("a batch of %d events, want at most 3", len(b))
		}
		total += len(b)
		for _, e := range b {
			if e["path"] != "trustgate/decision" || e["decision_id"] == "" || e["timestamp"] == nil {
				t.Errorf("event %v lacks OPA decision-log fields", e)
			}
		}
	}
	if total != 7 {
		t.Fatalf("%d events arrived, want 7 (the last partial batch is flushed on stop)", total)
	}
}

func TestASlowSinkNeverBlocksRecord(t *testing.T) {
	release := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer sink.Close()
	defer close(release)
	s, _ := NewHTTPSink(Config{URL: sink.URL, BufferSize: 10, BatchSize: 1, FlushInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()

	// 1,000 events against a sink that never answers: Record must return
	// every time, and what does not fit is dropped and counted.
	for range 1000 {
		s.Record(Event{DecisionID: "x"})
	}
	if s.Dropped() < 900 {
		t.Fatalf("dropped %d events, want at least 900 of 1000 with a buffer of 10", s.Dropped())
	}
}

func TestARedirectingSinkIsAFailedUploadNotASecondDestination(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		elsewhere.Add(1) // reached only if the redirect was followed
	}))
	defer other.Close()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	defer sink.Close()
	s, err := NewHTTPSink(Config{URL: sink.URL, BatchSize: 1, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	s.Record(Event{DecisionID: "a"})
	cancel()
	<-done
	if s.Failed() != 1 {
		t.Fatalf("%d events failed, want the 1 sent to a redirecting sink", s.Failed())
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect was followed: %d uploads reached the other host", n)
	}
}

func TestLostEventsAreCountedInTheRegisteredMetrics(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	reg := prometheus.NewRegistry()
	s, err := NewHTTPSink(Config{URL: down.URL, BufferSize: 2, BatchSize: 10, FlushInterval: time.Hour, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the third does not fit the buffer
		s.Record(Event{DecisionID: "a"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	cancel()
	<-done // the drain uploads the 2 buffered events, and fails
	want := `
# HELP trustgate_decision_log_dropped_events_total Decision events dropped because the HTTP sink's buffer was full.
# TYPE trustgate_decision_log_dropped_events_total counter
trustgate_decision_log_dropped_events_total 1
# HELP trustgate_decision_log_failed_events_total Decision events lost in uploads to the HTTP sink that failed.
# TYPE trustgate_decision_log_failed_events_total counter
trustgate_decision_log_failed_events_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
