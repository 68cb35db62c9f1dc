package state

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenRefusesURLsItCannotUse(t *testing.T) {
	tests := []struct{ name, url, want string }{
		{"A URL without a scheme is refused", "state.db", "want sqlite:PATH"},
		{"An unknown scheme is refused by name", "mysql://db/x", `unknown scheme "mysql"`},
		{"sqlite: needs a path", "sqlite:", "want sqlite:PATH"},
		{"A SQLite path with a query is refused", "sqlite:x.db?mode=ro", "without ? or #"},
		{"memory: takes nothing after it", "memory:shared", "nothing after it"},
		{"A postgres URL pgx cannot parse is refused", "postgres://u@h:notaport/db", "bad state URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(context.Background(), tc.url, Options{})
			if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%q): %v; want ErrBadURL saying %q", tc.url, err, tc.want)
			}
		})
	}
}

func TestAPasswordFileIsOnlyForPostgresAndNotBesideAPasswordInTheURL(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"sqlite:" + filepath.Join(t.TempDir(), "x.db"), "postgres://u:inline@127.0.0.1:1/db"} {
		_, err := Open(context.Background(), url, Options{PasswordFile: file})
		if !errors.Is(err, ErrBadURL) || strings.Contains(err.Error(), "inline") {
			t.Fatalf("Open(%s) with a password file: %v; want ErrBadURL without the password", redact(url), err)
		}
	}
}

func TestASQLiteFileInAMissingDirectoryIsOneClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "state.db")
	_, err := Open(context.Background(), "sqlite:"+path, Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot open SQLite database "+path) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open in a missing directory: %v", err)
	}
}

func TestPostgresOpenSaysWhyItCannotConnectWithoutThePassword(t *testing.T) {
	c := pg.Require(t)
	free, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := free.Addr().String()
	_ = free.Close()
	wrong := strings.Replace(c.URL("trustgate"), c.Password(), "wrong-password-123", 1)
	tests := []struct{ name, url, want, secret string }{
		{"A wrong password is named as such", wrong, `refused the password of user "trustgate"`, "wrong-password-123"},
		{"An unreachable server is named as such", "postgres://trustgate:pw-456@" + nobody + "/trustgate?sslmode=disable", "cannot reach PostgreSQL", "pw-456"},
		{"A missing database is named as such", c.URL("nosuchdb"), "does not exist", c.Password()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := Open(ctx, tc.url, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("the error shows the password or spans lines: %q", err)
			}
		})
	}
}

func TestPostgresTakesItsPasswordFromAFile(t *testing.T) {
	c := pg.Require(t)
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte(c.Password()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), c.URLWithoutPassword("trustgate"), Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.Revoked(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
}

// TestAStoppedPostgresGivesErrorsAndTheStoreRecoversWhenItIsBack stops the
// package's cluster: it runs alone (no t.Parallel anywhere here).
func TestAStoppedPostgresGivesErrorsAndTheStoreRecoversWhenItIsBack(t *testing.T) {
	c := pg.Require(t)
	ctx := context.Background()
	s := open(t, c.NewDatabase(t), nil)
	if err := s.Revoke(ctx, "r", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = c.Start()
		}
	})
	if fresh, err := s.Use(ctx, "https://a", "j", time.Now().Add(time.Minute)); fresh || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Use with PostgreSQL stopped: fresh %v, err %v", fresh, err)
	}
	if revoked, err := s.Revoked(ctx, "r"); revoked || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Revoked with PostgreSQL stopped: %v, %v", revoked, err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if err := eventually(func() error { _, err := s.Revoked(ctx, "r"); return err }); err != nil {
		t.Fatalf("the store did not recover: %v", err)
	}
	if revoked, err := s.Revoked(ctx, "r"); !revoked || err != nil {
		t.Fatalf("after recovery: revoked %v, err %v", revoked, err)
	}
	if fresh, err := s.Use(ctx, "https://a", "j", time.Now().Add(time.Minute)); !fresh || err != nil {
		t.Fatalf("after recovery: fresh %v, err %v (the failed use must not have been recorded)", fresh, err)
	}
}

// eventually retries f for up to 15 s (a restarted server's old pool
// connections fail once each), returning its last error.
func eventually(f func() error) error {
	var err error
	for range 150 {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("after 15s: %w", err)
}
