package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
)

// csrfField is the hidden field every form carries.
const csrfField = "csrf"

// pageFunc renders one page for a signed-in person.
type pageFunc func(w http.ResponseWriter, r *http.Request, s session) error

// page runs a GET page: without a session the browser goes to the login
// first and comes back to this path; with one, fn renders.
func (c *Console) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.cookies.session(r)
		if err != nil {
			http.Redirect(w, r, pathLogin+"?next="+url.QueryEscape(r.URL.EscapedPath()), http.StatusSeeOther)
			return
		}
		if err := fn(w, r, s); err != nil {
			c.failSession(w, r, "page", err)
		}
	}
}

// call is the engine call of a signed-in person: their ID token as the
// bearer, their client address.
func call(r *http.Request, s session) engine.AccessCall {
	return engine.AccessCall{Token: s.Token, ClientIP: clientIP(r)}
}

// dashboard lists what the person may see: pending requests, active
// grants, then the rest, from one engine call.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s session) error {
	all, err := c.eng.AccessRequests(r.Context(), call(r, s), access.Filter{Limit: access.MaxList})
	if err != nil {
		return err
	}
	now := c.now()
	d := pageData{Title: "Access requests", Session: viewSession(s)}
	for _, req := range all {
		v := c.view(req, s)
		switch {
		case req.State == access.StatePending && now.Before(req.ExpiresAt):
			d.Pending = append(d.Pending, v)
		case req.State == access.StateApproved && now.Before(req.ExpiresAt):
			d.Active = append(d.Active, v)
		default:
			d.History = append(d.History, v)
		}
	}
	c.render(w, http.StatusOK, "dashboard.html", d)
	return nil
}

// request shows one request with the actions the person may take.
func (c *Console) request(w http.ResponseWriter, r *http.Request, s session) error {
	req, err := c.eng.AccessRequest(r.Context(), call(r, s), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := c.view(req, s)
	c.render(w, http.StatusOK, "request.html", pageData{Title: "Request for " + req.Identity, Session: viewSession(s), Request: &v})
	return nil
}

// actions are the form posts of a request's page and the engine call each
// makes.
var actions = []string{access.VerdictApprove, access.VerdictDeny, access.VerdictRevoke}

// action runs approve, deny or revoke in numbered steps:
//
//  1. a session (a POST without one is refused: it cannot be replayed
//     through a login);
//  2. the form's CSRF token equals the session's;
//  3. the engine call, where the token is verified and the policy decides;
//  4. back to the request's page (303), which shows the outcome.
func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	act, id := r.PathValue("action"), r.PathValue("id")
	if !slices.Contains(actions, act) {
		c.fail(w, r, "action", errNotFound)
		return
	}
	// 1. The session.
	s, err := c.cookies.session(r)
	if err != nil {
		c.fail(w, r, act, err)
		return
	}
	// 2. The CSRF token.
	if !equal(r.PostFormValue(csrfField), s.CSRF) {
		c.fail(w, r, act, errCSRF)
		return
	}
	// 3. The engine.
	if err := c.decide(r.Context(), call(r, s), act, id, r.PostFormValue("reason")); err != nil {
		c.failSession(w, r, act, err)
		return
	}
	// 4. The request's page.
	http.Redirect(w, r, pathRequest+url.PathEscape(id), http.StatusSeeOther)
}

func (c *Console) decide(ctx context.Context, ac engine.AccessCall, act, id, reason string) error {
	var err error
	if act == access.VerdictRevoke {
		_, err = c.eng.RevokeAccess(ctx, ac, id, reason)
	} else {
		_, err = c.eng.ReviewAccess(ctx, ac, id, act, reason)
	}
	return err
}
