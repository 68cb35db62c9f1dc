package signin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTheStoreKeepsASignInOnlyInAPrivateFile(t *testing.T) {
	c := Credentials{Issuer: "https://login.example.com", ClientID: "trustgate-cli", IDToken: "h.p.s", RefreshToken: "r",
		Expiry: time.Unix(1_900_000_000, 0).UTC(), Subject: "alice"}
	tests := []struct {
		name   string
		change func(t *testing.T, s Store)
		want   string // "": loads c
	}{
		{name: "A saved sign-in loads as it was.", change: func(*testing.T, Store) {}},
		{name: "No file is not signed in.", change: func(t *testing.T, s Store) { mustRemove(t, s) }, want: ErrNotSignedIn.Error()},
		{name: "A file the group may read is refused.", change: func(t *testing.T, s Store) { chmod(t, s.Path(), 0o640) }, want: "may be read by others (mode 0640): refused"},
		{name: "A file anyone may write is refused.", change: func(t *testing.T, s Store) { chmod(t, s.Path(), 0o602) }, want: "may be read by others (mode 0602): refused"},
		{name: "A directory in the file's place is refused.", change: func(t *testing.T, s Store) {
			mustRemove(t, s)
			if err := os.Mkdir(s.Path(), 0o700); err != nil {
				t.Fatal(err)
			}
		}, want: "is not a regular file"},
		{name: "A file that is no sign-in is refused.", change: func(t *testing.T, s Store) {
			if err := os.WriteFile(s.Path(), []byte(`{"issuer": "x"}`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, want: "is not a sign-in: run trustgate login again"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Store{Dir: filepath.Join(t.TempDir(), "trustgate")}
			if err := s.Save(c); err != nil {
				t.Fatal(err)
			}
			tc.change(t, s)
			got, err := s.Load()
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && (got.IDToken != c.IDToken || !got.Expiry.Equal(c.Expiry) || got.RefreshToken != c.RefreshToken):
				t.Fatalf("loaded %+v", got.Subject)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), c.IDToken):
				t.Fatal("the error quotes the token")
			}
		})
	}
}

func TestTheDefaultStoreIsInTheUsersConfigDirectory(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/home/alice/.config")
	t.Setenv("HOME", "/home/alice")
	s, err := DefaultStore("")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := os.UserConfigDir()
	if s.Path() != filepath.Join(base, "trustgate", "login.json") {
		t.Fatalf("the store is %s", s.Path())
	}
	if s, _ := DefaultStore("/elsewhere"); s.Path() != "/elsewhere/login.json" {
		t.Fatalf("the override store is %s", s.Path())
	}
}

func TestLogoutRemovesTheSignInOnce(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if err := s.Save(Credentials{Issuer: "i", ClientID: "c", IDToken: "t"}); err != nil {
		t.Fatal(err)
	}
	if removed, err := s.Remove(); !removed || err != nil {
		t.Fatalf("first removal: %v %v", removed, err)
	}
	if removed, err := s.Remove(); removed || err != nil {
		t.Fatalf("second removal: %v %v", removed, err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("after logout: %v", err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, s Store) {
	t.Helper()
	if _, err := s.Remove(); err != nil {
		t.Fatal(err)
	}
}
