package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// closedPipe is a stdout whose reader has gone, as when the command's
// output is piped into a program that exited: every write fails.
func closedPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestACommandWhoseOutputIsLostFails(t *testing.T) {
	const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJqb2IifQ.c2lnbmF0dXJl"
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"`+token+`","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":60}`)
	}))
	t.Cleanup(sts.Close)
	env := map[string]string{"CI_ID": "e30.e30.sig"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"The version printed to a closed pipe fails the command.", []string{"version"}},
		{"An issued token printed to a closed pipe fails the exchange.",
			[]string{"exchange", "--url", sts.URL, "--token-env", "CI_ID", "--format", "env"}},
		{"An issued token printed as JSON to a closed pipe fails the exchange.",
			[]string{"exchange", "--url", sts.URL, "--token-env", "CI_ID", "--format", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			code := run(context.Background(), tc.args, environ{lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
				strings.NewReader(""), closedPipe(t), &errOut)
			if code != exitFail || !strings.HasPrefix(errOut.String(), "trustgate "+tc.args[0]+": writing the output: ") {
				t.Fatalf("exit %d, stderr %q; want exit %d and the write error", code, errOut.String(), exitFail)
			}
			if strings.Contains(errOut.String(), strings.Split(token, ".")[1]) {
				t.Fatal("the error echoes the token")
			}
		})
	}
}
