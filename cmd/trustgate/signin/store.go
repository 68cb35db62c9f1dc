package signin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Credentials are a person's sign-in as the Store keeps it.
type Credentials struct {
	Issuer           string   `json:"issuer"`
	ClientID         string   `json:"client_id"`
	ClientSecretFile string   `json:"client_secret_file,omitempty"`
	Scopes           []string `json:"scopes"`
	// IDToken is the raw ID token: the bearer of `trustgate access`.
	IDToken string `json:"id_token"`
	// RefreshToken is "" when the IdP gave none.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is the ID token's exp.
	Expiry time.Time `json:"expiry"`
	// Subject and Email name the person, for messages.
	Subject string `json:"sub"`
	Email   string `json:"email,omitempty"`
}

// Name is who signed in, for messages.
func (c Credentials) Name() string {
	if c.Email != "" {
		return c.Email
	}
	return c.Subject
}

// ErrNotSignedIn: the store holds no sign-in.
var ErrNotSignedIn = errors.New("not signed in: run trustgate login")

// fileName is the sign-in's file in the store's directory.
const fileName = "login.json"

// Store keeps one sign-in in a file of mode 0600 in Dir, a directory of
// mode 0700.
type Store struct {
	Dir string
}

// DefaultStore is the store in the user's config directory
// (os.UserConfigDir()/trustgate), or dir when it is not "".
func DefaultStore(dir string) (Store, error) {
	if dir != "" {
		return Store{Dir: dir}, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return Store{}, fmt.Errorf("the user's config directory: %w", err)
	}
	return Store{Dir: filepath.Join(base, "trustgate")}, nil
}

// Path is the sign-in's file.
func (s Store) Path() string { return filepath.Join(s.Dir, fileName) }

// Load reads the sign-in. A file that others may read or write is refused:
// the ID token in it is a credential.
func (s Store) Load() (Credentials, error) {
	path := s.Path()
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, ErrNotSignedIn
	}
	if err != nil {
		return Credentials{}, err
	}
	defer func() { _ = fh.Close() }() // read only
	info, err := fh.Stat()
	if err != nil {
		return Credentials{}, err
	}
	if err := private(path, info); err != nil {
		return Credentials{}, err
	}
	var c Credentials
	if err := json.NewDecoder(fh).Decode(&c); err != nil {
		return Credentials{}, fmt.Errorf("%s is not a sign-in (%w): run trustgate login again", path, err)
	}
	if c.IDToken == "" || c.Issuer == "" || c.ClientID == "" {
		return Credentials{}, fmt.Errorf("%s is not a sign-in: run trustgate login again", path)
	}
	return c, nil
}

// private refuses a file whose mode lets others than its owner in (on
// systems with Unix permissions).
func private(path string, info fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s may be read by others (mode %#o): refused; remove it and run trustgate login again", path, perm)
	}
	return nil
}

// Save writes the sign-in, replacing the one before: a new file of mode
// 0600 renamed over it, so that no reader sees half of it.
func (s Store) Save(c Credentials) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, fileName+".*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		_ = tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.Path())
}

// Remove deletes the sign-in; false when there was none.
func (s Store) Remove() (bool, error) {
	err := os.Remove(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
