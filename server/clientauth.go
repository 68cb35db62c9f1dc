package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// IntrospectionClient is a resource server allowed to introspect tokens.
type IntrospectionClient struct {
	// ID is the client's identifier, the Basic user name.
	ID string
	// Secret is the client's secret, the Basic password.
	Secret string
}

// errClientAuth is an introspection call without valid client credentials.
var errClientAuth = errors.New("introspection client not authenticated")

// clientSecrets holds the SHA-256 of each client's secret by client id,
// and a random digest that an unknown id is compared against, so that an
// unknown id and a wrong secret take the same time.
type clientSecrets struct {
	byID  map[string][sha256.Size]byte
	dummy [sha256.Size]byte
}

func newClientSecrets(clients []IntrospectionClient) (clientSecrets, error) {
	cs := clientSecrets{byID: make(map[string][sha256.Size]byte, len(clients))}
	_, _ = rand.Read(cs.dummy[:]) // crypto/rand.Read never fails (Go 1.24+)
	var errs []error
	for i, c := range clients {
		switch _, dup := cs.byID[c.ID]; {
		case c.ID == "":
			errs = append(errs, fmt.Errorf("server: IntrospectionClients[%d] has no ID", i))
		case c.Secret == "":
			errs = append(errs, fmt.Errorf("server: IntrospectionClients[%d] has no Secret", i))
		case dup:
			errs = append(errs, fmt.Errorf("server: IntrospectionClients[%d] repeats an ID", i))
		}
		cs.byID[c.ID] = sha256.Sum256([]byte(c.Secret))
	}
	return cs, errors.Join(errs...)
}

// authenticate checks r's client credentials when clients are configured:
// one Authorization header, Basic, with the id and secret form-urlencoded
// (RFC 6749 §2.3.1), the secret compared in constant time. Without
// configured clients every caller passes.
func (cs clientSecrets) authenticate(r *http.Request) error {
	if len(cs.byID) == 0 {
		return nil
	}
	if len(r.Header.Values("Authorization")) != 1 {
		return errClientAuth
	}
	rawID, rawSecret, ok := r.BasicAuth()
	if !ok {
		return errClientAuth
	}
	id, errID := url.QueryUnescape(rawID)
	secret, errSecret := url.QueryUnescape(rawSecret)
	if errID != nil || errSecret != nil {
		return errClientAuth
	}
	want, known := cs.byID[id]
	if !known {
		want = cs.dummy
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return errClientAuth
	}
	return nil
}

// authMethods is introspection_endpoint_auth_methods_supported (RFC 8414).
func (cs clientSecrets) authMethods() []string {
	if len(cs.byID) == 0 {
		return []string{"none"}
	}
	return []string{"client_secret_basic"}
}
