package main

import (
	"sync"

	"go.uber.org/zap/zapcore"
)

// groupWriter writes the decision log in group commits: a record is on its
// way to the file before Write returns, as with one write per record, but
// records that arrive while a write is under way go out together in the
// next one. No lock is held during a write, so concurrent exchanges queue
// on a short append instead of on each other's system calls (the mutex
// profile of make load showed the decision log's lock as its main
// contention, each exchange waiting there for the writes before its own).
type groupWriter struct {
	out zapcore.WriteSyncer

	mu      sync.Mutex
	written *sync.Cond // broadcast when a write ends
	pending []byte     // records not yet handed to out
	next    *write     // the write pending records will go out in
	spare   []byte     // the buffer of the last write, reused
	writing bool       // a writer is in out.Write
}

// write is the outcome of one write, shared by the records in it: a later
// write must not answer for an earlier one's records.
type write struct {
	ended bool
	err   error
}

func newGroupWriter(out zapcore.WriteSyncer) *groupWriter {
	g := &groupWriter{out: out, next: &write{}}
	g.written = sync.NewCond(&g.mu)
	return g
}

// Write appends p and returns once a write that holds it has ended, with
// that write's error. The caller that finds no write under way writes
// everything pending.
func (g *groupWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending = append(g.pending, p...)
	mine := g.next
	for !mine.ended {
		if g.writing {
			g.written.Wait()
			continue
		}
		g.flushLocked()
	}
	if mine.err != nil {
		return 0, mine.err
	}
	return len(p), nil
}

// flushLocked writes what is pending, unlocking g.mu during the write.
func (g *groupWriter) flushLocked() {
	batch, w := g.pending, g.next
	g.pending, g.next, g.writing = g.spare[:0], &write{}, true
	g.mu.Unlock()
	_, err := g.out.Write(batch)
	g.mu.Lock()
	g.spare, g.writing = batch, false
	w.ended, w.err = true, err
	g.written.Broadcast()
}

// Sync syncs the file once every write has ended.
func (g *groupWriter) Sync() error {
	g.mu.Lock()
	for g.writing {
		g.written.Wait()
	}
	if len(g.pending) > 0 { // only while a Write that appended it is waking up
		g.flushLocked()
	}
	g.mu.Unlock()
	return g.out.Sync()
}
