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
	spare   []byte     // the buffer of the last write, reused
	queued  uint64     // records appended so far
	done    uint64     // records whose write has ended
	writing bool       // a writer is in out.Write
	err     error      // of the last write
}

func newGroupWriter(out zapcore.WriteSyncer) *groupWriter {
	g := &groupWriter{out: out}
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
	g.queued++
	mine := g.queued
	for g.done < mine {
		if g.writing {
			g.written.Wait()
			continue
		}
		g.flushLocked()
	}
	if g.err != nil {
		return 0, g.err
	}
	return len(p), nil
}

// flushLocked writes what is pending, unlocking g.mu during the write.
func (g *groupWriter) flushLocked() {
	batch, upTo := g.pending, g.queued
	g.pending, g.writing = g.spare[:0], true
	g.mu.Unlock()
	_, err := g.out.Write(batch)
	g.mu.Lock()
	g.spare, g.done, g.err, g.writing = batch, upTo, err, false
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
