package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

func TestBadOptionsAreRefusedBeforeAnyRequest(t *testing.T) {
	good := options{target: "http://127.0.0.1:8080", tokenURL: "http://127.0.0.1:8090/token", duration: time.Second, rounds: 1}
	tests := []struct {
		name   string
		change func(*options)
		want   string
	}{
		{"A target that is not loopback is refused.", func(o *options) { o.target = "http://192.0.2.1:8080" }, "not a loopback"},
		{"A token URL that is not loopback is refused.", func(o *options) { o.tokenURL = "https://issuer.example.com/token" }, "not a loopback"},
		{"A run longer than five minutes is refused.", func(o *options) { o.duration = 6 * time.Minute }, "-d"},
		{"A generated bundle of no identities is refused.", func(o *options) { o.serve, o.identities, o.tokens = "trustgate", 0, 1 }, "-identities"},
		{"Too many distinct tokens are refused.", func(o *options) { o.serve, o.identities, o.tokens = "trustgate", 1, 100_001 }, "-tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			err := o.check()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("check() = %v, want an error about %s", err, tt.want)
			}
		})
	}
	if err := good.check(); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
}

func TestConcurrencyListsOutsideOneTo1024AreRefused(t *testing.T) {
	for _, bad := range []string{"", "0", "1,x", "1025", "-3"} {
		if _, err := parseLevels(bad); err == nil {
			t.Errorf("parseLevels(%q) accepted", bad)
		}
	}
	got, err := parseLevels("1, 16,64")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 16 || got[2] != 64 {
		t.Fatalf("parseLevels = %v, %v", got, err)
	}
}

func TestTheGeneratedBundleLoadsWithOneIdentityPerProject(t *testing.T) {
	dir := t.TempDir()
	if err := writeBundle(dir, "http://127.0.0.1:1", "http://127.0.0.1:2", 50); err != nil {
		t.Fatal(err)
	}
	opts := policy.Options{ServerIssuer: "http://127.0.0.1:2", AllowInsecureIssuers: true}
	p, err := policy.Load(context.Background(), []string{dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.ProviderByName(loadProvider); !ok {
		t.Fatalf("the bundle has no provider %s", loadProvider)
	}
}

func TestTheExampleBundleIsServedOnTheLoadsURLs(t *testing.T) {
	dir := t.TempDir()
	if err := copyBundle("../../bundles/example", dir, "http://127.0.0.1:1", "http://127.0.0.1:2"); err != nil {
		t.Fatal(err)
	}
	opts := policy.Options{ServerIssuer: "http://127.0.0.1:2", AllowInsecureIssuers: true}
	p, err := policy.Load(context.Background(), []string{dir}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dev, ok := p.ProviderByName("dev"); !ok || dev.Issuer != "http://127.0.0.1:1" {
		t.Fatalf("the dev provider is %+v, want the load's issuer", dev)
	}
}
