package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/trustgate/trustgate/engine/ciclaims"
)

// bodies mints o.tokens distinct ID tokens, token i for project i modulo the
// identities (so every identity is asked for), and returns their exchange
// forms. With o.deny each token's ref is unprotected, which the project's
// identity refuses: its denial names that identity as the closest candidate.
func (s *stack) bodies(o options) ([]string, error) {
	out := make([]string, o.tokens)
	if o.bundle != "" {
		return s.exampleBodies(out)
	}
	for i := range out {
		project := i % o.identities
		path := fmt.Sprintf(projectFormat, project)
		c := ciclaims.GitLabClaims(s.issuerURL, s.url)
		c["project_path"] = path
		c["project_id"] = strconv.Itoa(project)
		c["namespace_path"] = "load-group"
		c["sub"] = "project_path:" + path + ":ref_type:branch:ref:main"
		c["jti"] = fmt.Sprintf("load-%d", i)
		if o.deny {
			c["ref_protected"] = "false"
		}
		raw, err := s.issuer.Mint(c)
		if err != nil {
			return nil, err
		}
		name := ""
		if o.named {
			name = fmt.Sprintf(identityFmt, project)
		}
		out[i] = exchangeBody(raw, name)
	}
	return out, nil
}

// summary prints what the server says of itself after the runs: how long
// its bundles took to load, its heap and resident memory, its peak RSS.
func (s *stack) summary(ctx context.Context, client *http.Client, label string, out io.Writer) error {
	load, err := s.loadDuration()
	if err != nil {
		return err
	}
	m, err := scrape(ctx, client, s.url, "go_memstats_heap_inuse_bytes", "process_resident_memory_bytes")
	if err != nil {
		return err
	}
	peak, err := s.peakRSS()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%sserver: bundle_load=%s heap_inuse_mb=%.0f rss_mb=%.0f peak_rss_mb=%.0f\n",
		label, load.Round(1e6), m["go_memstats_heap_inuse_bytes"]/(1<<20), m["process_resident_memory_bytes"]/(1<<20), float64(peak)/(1<<20))
	return nil
}

// exampleBodies fills out with exchange forms of the dev issuer's default
// GitLab-shaped token (demo-group/demo-project on protected main, what
// make run's example bundle federates), each with a jti of its own.
func (s *stack) exampleBodies(out []string) ([]string, error) {
	for i := range out {
		c := ciclaims.GitLabClaims(s.issuerURL, s.url)
		c["jti"] = fmt.Sprintf("load-%d", i)
		raw, err := s.issuer.Mint(c)
		if err != nil {
			return nil, err
		}
		out[i] = exchangeBody(raw, "")
	}
	return out, nil
}
