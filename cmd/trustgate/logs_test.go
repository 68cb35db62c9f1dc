package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
)

func TestDecisionRecordsGoToStdoutOrTheirFileAndLogsToStderr(t *testing.T) {
	var stdout, stderr bytes.Buffer
	l, err := newLogs(config.Log{Level: "info", Format: "json", DecisionLog: "stdout"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	l.app.Info("operational")
	l.decisions.Info("decision")
	l.sync()
	if !strings.Contains(stdout.String(), `"msg":"decision"`) || strings.Contains(stdout.String(), "operational") {
		t.Errorf("stdout %q: want the decision record only", stdout.String())
	}
	if strings.Contains(stdout.String(), `"ts":`) {
		t.Errorf("stdout %q: a decision record carries its own RFC 3339 timestamp, not zap's float epoch", stdout.String())
	}
	if !strings.Contains(stderr.String(), "operational") || strings.Contains(stderr.String(), `"msg":"decision"`) {
		t.Errorf("stderr %q: want the operational log only", stderr.String())
	}

	file := filepath.Join(t.TempDir(), "decisions.log")
	stdout.Reset()
	l, err = newLogs(config.Log{Level: "info", Format: "json", DecisionLog: file}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	l.decisions.Info("decision")
	l.sync()
	if b, _ := os.ReadFile(file); !strings.Contains(string(b), `"msg":"decision"`) || stdout.Len() != 0 {
		t.Errorf("file %q, stdout %q: want the record in the file only", b, stdout.String())
	}
}
