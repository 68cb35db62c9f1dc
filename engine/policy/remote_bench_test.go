package policy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// BenchmarkRemotePoll is what one poll of a remote bundle costs a replica:
// a 304 (one loopback request), a 200 with the body it already has (the
// request, the body and its SHA-256), and a new revision (the request and a
// whole Load of testdata/bundles/team with the library).
func BenchmarkRemotePoll(b *testing.B) {
	body := teamTarball(b)
	for _, bc := range []struct {
		name   string
		status int
		load   bool
	}{{"not_modified", http.StatusNotModified, false}, {"same_body", http.StatusOK, false}, {"new_revision", http.StatusOK, true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(bc.status)
				if bc.status == http.StatusOK {
					_, _ = w.Write(body)
				}
			}))
			defer srv.Close()
			r := &remote{url: srv.URL, opts: RemoteOptions{}.withDefaults(), log: Options{}.withDefaults().Logger, etag: `"x"`, sum: digestOf(body)}
			opts := Options{ServerIssuer: "https://sts.test"}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				fetched, _, err := r.fetch(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if !bc.load {
					_ = digestOf(fetched)
					continue
				}
				opts.downloads = map[string][]byte{srv.URL: fetched}
				if _, err := Load(ctx, []string{srv.URL}, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// teamTarball is testdata/bundles/team as a .tar.gz, built with OPA's
// bundle writer.
func teamTarball(b *testing.B) []byte {
	b.Helper()
	bn, err := bundle.NewCustomReader(bundle.NewDirectoryLoader("testdata/bundles/team")).WithSkipBundleVerification(true).Read()
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).UseModulePath(true).Write(bn); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
