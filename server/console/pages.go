package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"go.uber.org/zap"

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

// dashboard lists a page of what the person may see (?cursor= continues
// after an earlier page): pending requests, active grants, then the rest,
// with a link to the next page. A person who approves nothing gets the
// no-access page instead, with their own requests.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s session) error {
	page, err := c.eng.AccessRequests(r.Context(), call(r, s), access.Filter{Cursor: r.URL.Query().Get("cursor"), Limit: access.MaxList})
	if err != nil {
		return err
	}
	d := pageData{Title: "Access requests", Session: viewSession(s)}
	if page.Next != "" {
		d.Next = PathPrefix + "?" + url.Values{"cursor": {page.Next}}.Encode()
	}
	no, err := c.noAccess(r, s)
	if err != nil {
		return err
	}
	if no != nil {
		for _, req := range page.Requests {
			d.History = append(d.History, c.view(req, s))
		}
		c.renderNoAccess(w, d, no)
		return nil
	}
	now := c.now()
	for _, req := range page.Requests {
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

// noAccess asks the engine whether the person approves anything; nil when
// they do, else why not, which is also logged.
func (c *Console) noAccess(r *http.Request, s session) (*noAccessView, error) {
	rv, err := c.eng.AccessReviewer(r.Context(), call(r, s))
	if err != nil || rv.Approver {
		return nil, err
	}
	c.log.Warn("console: the signed-in person approves no just-in-time identity",
		zap.String("iss", s.Issuer), zap.String("sub", s.Subject), zap.Strings("missing_claims", rv.MissingClaims),
		zap.String("client_ip", clientIP(r)))
	return &noAccessView{MissingClaims: rv.MissingClaims}, nil
}

func (c *Console) renderNoAccess(w http.ResponseWriter, d pageData, no *noAccessView) {
	d.Title, d.NoAccess = "Nothing to review", no
	c.render(w, http.StatusForbidden, "noaccess.html", d)
}

// request shows one request with the actions the person may take. A
// request a person who approves nothing may not see is the no-access
// page: the same whether it exists or not.
func (c *Console) request(w http.ResponseWriter, r *http.Request, s session) error {
	req, err := c.eng.AccessRequest(r.Context(), call(r, s), r.PathValue("id"))
	if errors.Is(err, access.ErrNotFound) {
		no, nerr := c.noAccess(r, s)
		if nerr == nil && no != nil {
			c.renderNoAccess(w, pageData{Session: viewSession(s)}, no)
			return nil
		}
	}
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
