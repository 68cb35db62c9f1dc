package main

import (
	"runtime/debug"
	"testing"
)

func TestGCPercentLetsTheHeapGrowByTheHeadroomOrByHalfALargeOne(t *testing.T) {
	tests := []struct {
		name string
		live uint64
		want int
	}{
		{"A 16 MiB live heap may grow by 64 MiB: 400%.", 16 << 20, 400},
		{"A 4 MiB live heap is capped at 800%.", 4 << 20, 800},
		{"A 32 MiB live heap may grow by 64 MiB: 200%.", 32 << 20, 200},
		{"A live heap of the headroom may grow by as much: Go's default of 100%.", gcHeadroom, 100},
		{"A 100 MiB live heap may grow by 64 MiB: 64%, not Go's default that doubles it.", 100 << 20, 64},
		{"A 128 MiB live heap may grow by half: 50%.", 128 << 20, 50},
		{"A 400 MiB live heap may grow by half too: 50%.", 400 << 20, 50},
		{"A tiny live heap is capped at 800%.", 1 << 10, 800},
		{"An empty live heap is capped at 800%, not divided by zero.", 0, 800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gcPercent(tt.live); got != tt.want {
				t.Fatalf("gcPercent(%d) = %d, want %d", tt.live, got, tt.want)
			}
		})
	}
}

func TestAGOGCInTheEnvironmentTurnsTheTunerOff(t *testing.T) {
	set := environ{lookup: func(name string) (string, bool) { return "200", name == "GOGC" }}
	unset := environ{lookup: func(string) (string, bool) { return "", false }}
	if newGCTuner(set, nil).enabled {
		t.Fatal("the tuner is on although GOGC is set")
	}
	if !newGCTuner(unset, nil).enabled {
		t.Fatal("the tuner is off although GOGC is not set")
	}
}

func TestALoadRunsAtTheLoadPercentAndPutsThePercentBackUnlessGOGCIsSet(t *testing.T) {
	t.Cleanup(func() { debug.SetGCPercent(100) })
	set := environ{lookup: func(name string) (string, bool) { return "200", name == "GOGC" }}
	unset := environ{lookup: func(string) (string, bool) { return "", false }}
	debug.SetGCPercent(64)
	done := newGCTuner(unset, nil).duringLoad()
	if got := debug.SetGCPercent(loadGCPercent); got != loadGCPercent {
		t.Fatalf("the percent during a load is %d, want %d", got, loadGCPercent)
	}
	done()
	if got := debug.SetGCPercent(100); got != 64 {
		t.Fatalf("after a load the percent is %d, want 64 back", got)
	}
	done = newGCTuner(set, nil).duringLoad()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set, the percent during a load is %d, want it left at 100", got)
	}
	done()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set, the percent after a load is %d, want it left at 100", got)
	}
}
