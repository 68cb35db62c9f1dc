package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/replay"
)

// BenchmarkReplay replays 1,000 distinct recorded decisions under the
// example bundle from the JSON lines of the decision log: reading, the
// strict parse of each input, building it and evaluating it; all allowed,
// then every other one denied (replay compares outcomes: only a changed
// group's example is explained, so a denial costs no more than a grant).
// It reports decisions/s; DESIGN §14 asks for at least 3,000 per core:
// run it with GOMAXPROCS=1.
func BenchmarkReplay(b *testing.B) {
	for _, denyEvery := range []int{0, 2} {
		b.Run(fmt.Sprintf("denied=%d%%", map[int]int{0: 0, 2: 50}[denyEvery]), func(b *testing.B) { benchmarkReplay(b, denyEvery) })
	}
}

func benchmarkReplay(b *testing.B, denyEvery int) {
	pol := bundle(b, nil, nil)
	var file bytes.Buffer
	const n = 1000
	for i := range n {
		project := fmt.Sprintf("my-group/app-%d", i)
		if denyEvery > 0 && i%denyEvery == 1 {
			project = fmt.Sprintf("other-group/app-%d", i)
		}
		file.Write(recordLine(b, pol, fmt.Sprintf("d%d", i), deployClaims(project), engine.Request{}))
	}
	r := &replay.Replayer{Head: pol}
	tuneGCAsReplayDoes(b)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for range b.N {
		rep, err := r.Run(context.Background(), replay.NewFileSource("bench", bytes.NewReader(file.Bytes())))
		if err != nil || rep.Distinct != n {
			b.Fatalf("replayed %v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "decisions/s")
	// Per CPU second of the process (GC included): what one core does
	// when the machine is shared and wall time also counts waiting.
	b.ReportMetric(float64(n*b.N)/(cpuTime(b)-cpu0).Seconds(), "decisions/cpu-s")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tuneGCAsReplayDoes sets the collector's percent as `trustgate replay`
// does once its policies are loaded (cmd/trustgate/gc.go, gcTuner.afterLoad:
// the heap may grow by 64 MB between collections, 50% to 800%), unless GOGC
// is set, and puts it back when the benchmark ends.
func tuneGCAsReplayDoes(b *testing.B) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	pct := int(max(50, min(800, (64<<20)*100/max(m.HeapAlloc, 1))))
	prev := debug.SetGCPercent(pct)
	b.Cleanup(func() { debug.SetGCPercent(prev) })
}
