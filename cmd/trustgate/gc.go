package main

import (
	"runtime"
	"runtime/debug"

	"go.uber.org/zap"
)

// gcHeadroom is the least the heap may grow between two garbage
// collections in `serve`, unless GOGC is set.
const gcHeadroom = 64 << 20

// gcTuner sets the garbage collector's percent after each policy load so
// the heap may grow by gcHeadroom between collections, or by half the live
// heap once that is more. Go's default (grow by the live heap) makes a
// server whose live heap is a few megabytes collect every few dozen
// exchanges: measured with make load, a third of its CPU. And it doubles a
// large live heap: 100,000 identities live in about 100 MB, which the
// default lets grow to 200 MB before collecting. A GOGC set in the
// environment wins and turns the tuner off.
type gcTuner struct {
	enabled bool
	log     *zap.Logger
}

func newGCTuner(env environ, log *zap.Logger) gcTuner {
	_, set := env.lookup("GOGC")
	return gcTuner{enabled: !set, log: log}
}

// loadGCPercent is the percent while `serve` loads its policy. A load
// allocates several times what it keeps (each identity is decoded,
// validated and indexed); with Go's default the heap doubles what is live
// meanwhile, and the process keeps that peak as resident memory for
// good: with 100,000 identities, 295 MB at the default against 201–215 MB
// at 25%, for a first load 0.2 s longer (make load-100k).
const loadGCPercent = 25

// duringLoad sets loadGCPercent for one load (policy.Options.Loading) and
// returns what puts the percent back as it was; afterLoad then tunes it
// when the load gave a policy.
func (t gcTuner) duringLoad() (done func()) {
	if !t.enabled {
		return func() {}
	}
	prev := debug.SetGCPercent(loadGCPercent)
	return func() { debug.SetGCPercent(prev) }
}

// afterLoad collects, returns what the load freed to the operating system
// (a large bundle allocates several times what it keeps while it loads),
// measures the live heap and sets the percent. It runs after a load or
// reload, which are rare; never per request.
func (t gcTuner) afterLoad() {
	debug.FreeOSMemory()
	if !t.enabled {
		return
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	pct := gcPercent(m.HeapAlloc)
	debug.SetGCPercent(pct)
	t.log.Info("garbage collection tuned", zap.Int("gc_percent", pct), zap.Uint64("live_heap_bytes", m.HeapAlloc))
}

// gcPercent is the GOGC that lets a live heap of live bytes grow by
// gcHeadroom: at most 800% (the live heap under load is larger than after
// a load, and grows by as much), and at least 50%, so that a large heap
// is not collected ever more often for what each exchange allocates.
func gcPercent(live uint64) int {
	return int(max(50, min(800, gcHeadroom*100/max(live, 1))))
}
