package console

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
)

// Errors of the console's own.
var (
	// errNotFound: no such page.
	errNotFound = errors.New("no such page")
	// errCSRF: a form without the session's CSRF token.
	errCSRF = errors.New("the form's CSRF token is missing or wrong")
)

// errorView is the error page's content. Message is a constant: it never
// echoes the request.
type errorView struct {
	Status     int
	Message    string
	DecisionID string
	// SignIn offers a link to sign in (again).
	SignIn bool
}

// classify turns an error into the page a person sees. It is the console's
// one mapping of errors to HTTP (server/errors.go maps the JSON API's the
// same way: 401, 403, 404, 409, 429, 503).
func classify(err error) errorView {
	switch {
	case errors.Is(err, errNoSession):
		return errorView{Status: http.StatusUnauthorized, Message: "You are not signed in, or your session has ended.", SignIn: true}
	case errors.Is(err, engine.ErrInvalidToken):
		return errorView{Status: http.StatusUnauthorized, Message: "Your sign-in is no longer accepted. Sign in again.", SignIn: true}
	case errors.Is(err, errCSRF):
		return errorView{Status: http.StatusForbidden, Message: "This form was not sent from your console session. Go back, reload the page and try again."}
	case errors.Is(err, access.ErrDenied):
		return errorView{Status: http.StatusForbidden, Message: "The policy does not let you do this."}
	case errors.Is(err, access.ErrNotFound), errors.Is(err, errNotFound):
		return errorView{Status: http.StatusNotFound, Message: "There is no such request, or you may not see it."}
	case errors.Is(err, access.ErrConflict):
		return errorView{Status: http.StatusConflict, Message: "The request's state no longer allows this: someone else may have acted on it, or it has lapsed. Reload its page."}
	case errors.Is(err, access.ErrInvalid):
		return errorView{Status: http.StatusBadRequest, Message: "A reason is required, of at most 1000 characters."}
	case errors.Is(err, errLogin):
		return errorView{Status: http.StatusBadRequest, Message: "Sign-in failed. Try again.", SignIn: true}
	case errors.Is(err, errTokenTooLarge):
		return errorView{Status: http.StatusBadRequest, Message: "Your identity provider's ID token is too large for a session cookie."}
	case errors.Is(err, engine.ErrRateLimited):
		return errorView{Status: http.StatusTooManyRequests, Message: "Too many requests. Wait a moment and try again."}
	case errors.Is(err, engine.ErrNoAccess):
		return errorView{Status: http.StatusNotFound, Message: "Just-in-time access is not enabled on this server."}
	case errors.Is(err, engine.ErrStateUnavailable), errors.Is(err, engine.ErrUnavailable),
		errors.Is(err, engine.ErrNoPolicy), errors.Is(err, ErrIdPUnavailable), errors.Is(err, engine.ErrOverloaded):
		return errorView{Status: http.StatusServiceUnavailable, Message: "The service cannot answer right now. Try again in a minute."}
	default:
		return errorView{Status: http.StatusInternalServerError, Message: "Internal error."}
	}
}

// fail writes the error page for err and logs it: 4xx at Warn, 5xx at
// Error, with the decision id and never a token. An engine refusal's
// cause and the policy's reasons stay in the decision log record under
// the decision id, as in the server's own log (server/errors.go); only
// the console's own errors (sign-in, CSRF, the IdP) log their text.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, action string, err error) {
	v := classify(err)
	fields := []zap.Field{zap.String("action", action), zap.String("client_ip", clientIP(r))}
	var ee *engine.Error
	if errors.As(err, &ee) {
		v.DecisionID = ee.DecisionID
		if ee.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(ee))
		}
	} else {
		fields = append(fields, zap.Error(err))
	}
	level := zap.WarnLevel
	if v.Status >= http.StatusInternalServerError {
		level = zap.ErrorLevel
	}
	if ce := c.log.Check(level, "console request refused"); ce != nil {
		ce.Write(append(fields, zap.Int("status", v.Status), zap.String("decision_id", v.DecisionID))...)
	}
	c.render(w, v.Status, "error.html", pageData{Title: http.StatusText(v.Status), Error: &v})
}

// failSession is fail for an engine refusal; a token the engine no longer
// accepts also ends the session, so the next page asks for a sign-in.
func (c *Console) failSession(w http.ResponseWriter, r *http.Request, action string, err error) {
	if errors.Is(err, engine.ErrInvalidToken) {
		c.cookies.clear(w, sessionCookie)
	}
	c.fail(w, r, action, err)
}

func retryAfter(e *engine.Error) string {
	return strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds())))
}
