package engine_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
)

func TestAFullShadowQueueDropsAndCountsWithoutSlowingExchanges(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *engine.Config) { c.ShadowQueue, c.Metrics = 1, engine.NewMetrics(reg) })
	pol, err := policy.Load(context.Background(), []string{f.bundle}, policy.Options{ServerIssuer: stsIssuer, AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	f.eng.SetShadowPolicy(pol) // nobody runs RunShadow: the queue fills
	for range 3 {
		if _, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := testutil.GatherAndCount(reg, "trustgate_shadow_dropped_total"); err != nil || got != 1 {
		t.Fatalf("dropped metric series %d (%v)", got, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "trustgate_shadow_dropped_total" && mf.GetMetric()[0].GetCounter().GetValue() != 2 {
			t.Fatalf("dropped %v, want 2 of 3 exchanges with a queue of 1", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
}
