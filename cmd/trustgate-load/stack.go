package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/trustgate/trustgate/cmd/trustgate/devissuer"
)

// stack is what -serve starts: a dev issuer in this process and a
// `trustgate serve` child on free loopback ports, with a generated bundle,
// the decision log to a file and metrics on, all under one temporary
// directory. stop ends the child (only it) and removes the directory.
type stack struct {
	dir       string
	url       string // of the server
	issuerURL string
	issuer    *devissuer.Issuer
	issuerHS  *http.Server
	cmd       *exec.Cmd
	logPath   string
}

// startStack generates the bundle, starts the issuer and the server, and
// waits until the server is ready.
func startStack(ctx context.Context, o options) (*stack, error) {
	dir, err := os.MkdirTemp("", "trustgate-load-")
	if err != nil {
		return nil, err
	}
	s := &stack{dir: dir, logPath: filepath.Join(dir, "server.log")}
	if err := s.start(ctx, o); err != nil {
		s.stop(true, os.Stderr)
		return nil, err
	}
	return s, nil
}

func (s *stack) start(ctx context.Context, o options) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.issuerURL = "http://" + ln.Addr().String()
	issuerURL := s.issuerURL
	port, err := freePort(ctx)
	if err != nil {
		return err
	}
	s.url = "http://127.0.0.1:" + port
	if s.issuer, err = devissuer.New(devissuer.Config{Issuer: issuerURL, Audience: s.url, TTL: time.Hour}); err != nil {
		return err
	}
	s.issuerHS = &http.Server{Handler: s.issuer.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.issuerHS.Serve(ln) }()

	bundle := filepath.Join(s.dir, "bundle")
	if err := os.Mkdir(bundle, 0o700); err != nil {
		return err
	}
	if o.bundle != "" {
		err = copyBundle(o.bundle, bundle, issuerURL, s.url)
	} else {
		err = writeBundle(bundle, issuerURL, s.url, o.identities)
	}
	if err != nil {
		return err
	}
	cfg := filepath.Join(s.dir, "trustgate.yaml")
	if err := os.WriteFile(cfg, []byte(serverConfig(s.url, bundle, filepath.Join(s.dir, "decisions.log"), o)), 0o600); err != nil {
		return err
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	bin, err := filepath.Abs(o.serve) // the child runs in s.dir
	if err != nil {
		return err
	}
	args := []string{"serve", "--config", cfg}
	if o.profile != "" {
		dir, err := filepath.Abs(o.profile)
		if err != nil {
			return err
		}
		for _, p := range []string{"cpu", "mutex", "block"} {
			args = append(args, "--"+p+"profile", filepath.Join(dir, p+".pprof"))
		}
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = s.dir // anything the server writes next to it stays in the directory
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return err
	}
	return waitReady(ctx, s.url, 2*time.Minute)
}

// serverConfig is trustgate.yaml for the load: loopback, the generated
// bundle, decision records to a file, warnings and errors only; the
// decision history off with -history=false, a shadow bundle with -shadow.
func serverConfig(url, bundle, decisions string, o options) string {
	var extra string
	if !o.history {
		extra += "decision_history: {keep: 0}\n"
	}
	if o.shadow {
		extra += "shadow_bundles: [" + bundle + "]\n"
	}
	return extra + fmt.Sprintf(`issuer: %s
listen: %s
bundles: [%s]
allow_insecure_issuers: true
log:
  level: info
  format: json
  decision_log: %s
`, url, strings.TrimPrefix(url, "http://"), bundle, decisions)
}

// freePort asks the kernel for a free loopback port.
func freePort(ctx context.Context) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }() // the port is what was wanted
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

func waitReady(ctx context.Context, base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the server did not become ready within %s", limit)
}

// loadDuration is how long the server took to load its bundles, from its
// own "policy loaded" log line.
func (s *stack) loadDuration() (time.Duration, error) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Msg      string  `json:"msg"`
			Duration float64 `json:"duration"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "policy loaded" {
			return time.Duration(line.Duration * float64(time.Second)), nil
		}
	}
	return 0, errors.New("the server logged no \"policy loaded\" line")
}

// peakRSS is the child's peak resident set (VmHWM), in bytes.
func (s *stack) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// stop ends the server and the issuer and removes the directory, unless
// keep is set: then it says where the server's files are.
func (s *stack) stop(keep bool, out io.Writer) {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	if s.issuerHS != nil {
		_ = s.issuerHS.Close()
	}
	if keep {
		fmt.Fprintf(out, "server log and decision log kept in %s\n", s.dir)
		return
	}
	_ = os.RemoveAll(s.dir)
}
