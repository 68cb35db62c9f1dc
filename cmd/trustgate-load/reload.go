package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"
)

// reload replaces the served bundle's data.json with its version (one
// identity's scopes changed from the last) and measures, as an operator
// sees it from outside, how long it takes until GET /v1/policy shows a new
// revision.
func (s *stack) reload(ctx context.Context, client *http.Client, o options, version int, out io.Writer) error {
	before, err := s.revision(ctx, client)
	if err != nil {
		return err
	}
	raw, err := bundleData(s.issuerURL, s.url, o.identities, version)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := replaceData(filepath.Join(s.dir, "bundle"), raw); err != nil {
		return err
	}
	for {
		rev, err := s.revision(ctx, client)
		if err != nil {
			return err
		}
		if rev != before {
			break
		}
		if time.Since(start) > 2*time.Minute {
			return errors.New("the server did not load the new data.json within 2m")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(out, "reload=%d identities=%d until_new_revision=%s\n", version, o.identities, time.Since(start).Round(time.Millisecond))
	return nil
}

// revision is the server's active bundle revisions as GET /v1/policy
// says them, with its last refused reload: a refusal is an error.
func (s *stack) revision(ctx context.Context, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/v1/policy", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var st struct {
		Bundles []struct {
			Revision string `json:"revision"`
		} `json:"bundles"`
		LastError string `json:"last_error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return "", fmt.Errorf("/v1/policy: %w", err)
	}
	if st.LastError != "" {
		return "", fmt.Errorf("the server refused the new bundle: %s", st.LastError)
	}
	rev := ""
	for _, b := range st.Bundles {
		rev += b.Revision + "\n"
	}
	return rev, nil
}
