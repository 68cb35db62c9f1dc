package replay_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/replay"
)

// BenchmarkReplay replays 1,000 distinct recorded decisions (every other
// one denied) under the example bundle, one core, from the JSON lines of
// the decision log: reading, the strict parse of each input, building it
// and evaluating it. It reports decisions/s; DESIGN §14 asks for at least
// 3,000 per core.
func BenchmarkReplay(b *testing.B) {
	pol := bundle(b, nil, nil)
	var file bytes.Buffer
	const n = 1000
	for i := range n {
		project := fmt.Sprintf("my-group/app-%d", i)
		if i%2 == 1 {
			project = fmt.Sprintf("other-group/app-%d", i)
		}
		file.Write(recordLine(b, pol, fmt.Sprintf("d%d", i), deployClaims(project), engine.Request{}))
	}
	r := &replay.Replayer{Head: pol}
	b.ResetTimer()
	for range b.N {
		rep, err := r.Run(context.Background(), replay.NewFileSource("bench", bytes.NewReader(file.Bytes())))
		if err != nil || rep.Distinct != n {
			b.Fatalf("replayed %v, %v", rep, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "decisions/s")
}
