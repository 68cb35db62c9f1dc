package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
)

// recordingSyncer keeps what was written, write by write.
type recordingSyncer struct {
	mu     sync.Mutex
	writes [][]byte
	err    error
	synced int
}

func (r *recordingSyncer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recordingSyncer) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.synced++
	return nil
}

var _ zapcore.WriteSyncer = (*recordingSyncer)(nil)

func TestEveryRecordIsWrittenWholeAndOnceBeforeItsWriteReturns(t *testing.T) {
	out := &recordingSyncer{}
	g := newGroupWriter(out)
	const writers, each = 16, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("{\"writer\":%d,\"record\":%d}\n", w, i)
				if _, err := g.Write([]byte(line)); err != nil {
					t.Error(err)
					return
				}
				out.mu.Lock()
				written := bytes.Contains(bytes.Join(out.writes, nil), []byte(line))
				out.mu.Unlock()
				if !written {
					t.Errorf("Write returned before %q was written", line)
					return
				}
			}
		})
	}
	wg.Wait()
	all := string(bytes.Join(out.writes, nil))
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines written, want %d", len(lines), writers*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] || !strings.HasPrefix(l, "{\"writer\":") || !strings.HasSuffix(l, "}") {
			t.Fatalf("line %q is torn or repeated", l)
		}
		seen[l] = true
	}
}

func TestAFailedWriteIsTheErrorOfTheRecordsInIt(t *testing.T) {
	out := &recordingSyncer{err: errors.New("disk full")}
	g := newGroupWriter(out)
	if _, err := g.Write([]byte("{}\n")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Write = %v, want the file's error", err)
	}
}

func TestSyncSyncsTheFile(t *testing.T) {
	out := &recordingSyncer{}
	g := newGroupWriter(out)
	if _, err := g.Write([]byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(); err != nil || out.synced != 1 || len(out.writes) != 1 {
		t.Fatalf("Sync = %v, synced %d times, %d writes", err, out.synced, len(out.writes))
	}
}

// alternatingSyncer fails every other write and keeps each record's outcome.
type alternatingSyncer struct {
	mu      sync.Mutex
	writes  int
	outcome map[string]error // record → the error of the write that held it
}

func (a *alternatingSyncer) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.writes++
	var err error
	if a.writes%2 == 0 {
		err = fmt.Errorf("write %d failed", a.writes)
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(p), "\n"), "\n") {
		a.outcome[line+"\n"] = err
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (a *alternatingSyncer) Sync() error { return nil }

func TestEveryRecordSeesTheErrorOfItsOwnWrite(t *testing.T) {
	out := &alternatingSyncer{outcome: map[string]error{}}
	g := newGroupWriter(out)
	const writers, each = 16, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("{\"writer\":%d,\"record\":%d}\n", w, i)
				_, err := g.Write([]byte(line))
				out.mu.Lock()
				want := out.outcome[line]
				out.mu.Unlock()
				if err != want { //nolint:errorlint // the very value the write returned
					t.Errorf("Write(%q) = %v, but its write returned %v", line, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
