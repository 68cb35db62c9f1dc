package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/access"
)

// pageData is what every template gets.
type pageData struct {
	Title   string
	Session *sessionView
	// The dashboard's three lists, and the link to the page after them.
	Pending, Active, History []requestView
	Next                     string
	// Request is the request page's request.
	Request *requestView
	// Error is the error page's.
	Error *errorView
	// NoAccess is the no-access page's: why the person may review nothing.
	NoAccess *noAccessView
}

// noAccessView says why a signed-in person may review nothing: the claims
// approvers are matched on that their token lacks, and nothing else.
type noAccessView struct {
	MissingClaims []string
}

// sessionView is what a page shows of the session: a name and the CSRF
// token of its forms, never the ID token.
type sessionView struct {
	Name string
	CSRF string
}

func viewSession(s session) *sessionView { return &sessionView{Name: s.Name, CSRF: s.CSRF} }

// requestView is a request as the pages show it.
type requestView struct {
	access.Request
	Requester    string
	Facts        []fact
	PipelineURL  string
	Created      when
	Expires      when
	Starts       *when // a request that starts later: when
	Approvals    int
	Ended        bool // pending past its lapse, or approved past its end
	CanReview    bool // pending, not the viewer's own, not reviewed by them yet
	CanRevoke    bool // an active grant
	ReviewsShown []reviewView
	HistoryShown []eventView
}

type fact struct{ Name, Value string }

type reviewView struct {
	access.Review
	At when
}

type eventView struct {
	access.Event
	At when
}

// when is a time shown both ways: "5 minutes ago" and the UTC time.
type when struct {
	Relative string
	Absolute string
	ISO      string
}

// factOrder is the order a reviewer reads the requester's facts in.
var factOrder = []struct{ key, label string }{
	{"project_path", "Project"}, {"repository", "Repository"}, {"ref_type", "Ref type"}, {"ref", "Ref"},
	{"ref_protected", "Protected ref"}, {"environment", "Environment"}, {"pipeline_id", "Pipeline"},
	{"run_id", "Workflow run"}, {"workflow", "Workflow"}, {"job_id", "Job"}, {"pipeline_source", "Pipeline source"},
	{"event_name", "Event"}, {"user_login", "Actor"}, {"user_email", "Actor email"}, {"actor", "Actor"},
	{"email", "Email"}, {"preferred_username", "Username"},
}

func (c *Console) view(r access.Request, s session) requestView {
	now := c.now()
	v := requestView{Request: r, Created: c.when(r.CreatedAt), Expires: c.when(r.ExpiresAt), Approvals: r.Approvals(),
		Requester: firstNonEmpty(r.Requester.Name, r.Requester.Subject), PipelineURL: pipelineURL(r.Requester)}
	for _, f := range factOrder {
		if val := r.Requester.Facts[f.key]; val != "" {
			v.Facts = append(v.Facts, fact{Name: f.label, Value: val})
		}
	}
	if r.StartsAt != nil {
		starts := c.when(*r.StartsAt)
		v.Starts = &starts
	}
	v.Ended = !now.Before(r.ExpiresAt)
	own := r.Requester.Issuer == s.Issuer && r.Requester.Subject == s.Subject
	reviewed := false
	for _, rv := range r.Reviews {
		reviewed = reviewed || rv.Reviewer.Issuer == s.Issuer && rv.Reviewer.Subject == s.Subject
		v.ReviewsShown = append(v.ReviewsShown, reviewView{Review: rv, At: c.when(rv.At)})
	}
	for _, e := range r.History {
		v.HistoryShown = append(v.HistoryShown, eventView{Event: e, At: c.when(e.At)})
	}
	v.CanReview = r.State == access.StatePending && !v.Ended && !own && !reviewed
	v.CanRevoke = r.State == access.StateApproved && !v.Ended
	return v
}

func (c *Console) when(t time.Time) when {
	return when{Relative: relative(t, c.now()), Absolute: t.UTC().Format("2006-01-02 15:04 UTC"), ISO: t.UTC().Format(time.RFC3339)}
}

// relative is t from now in words: "3 minutes ago", "in 2 hours".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// pipelineURL links the requester's pipeline when its facts allow: a
// GitLab project_path and pipeline_id under its https issuer, or a GitHub
// repository and run_id (github.com for the hosted issuer, the server's
// host for GitHub Enterprise). Anything else: "".
func pipelineURL(r access.Requester) string {
	iss, err := url.Parse(r.Issuer)
	if err != nil || iss.Scheme != "https" || iss.Host == "" {
		return ""
	}
	f := r.Facts
	switch {
	case f["project_path"] != "" && digits(f["pipeline_id"]):
		base := strings.TrimSuffix(r.Issuer, "/")
		return base + "/" + escapePath(f["project_path"]) + "/-/pipelines/" + f["pipeline_id"]
	case f["repository"] != "" && digits(f["run_id"]):
		host := iss.Host
		if host == "token.actions.githubusercontent.com" {
			host = "github.com"
		}
		return "https://" + host + "/" + escapePath(f["repository"]) + "/actions/runs/" + f["run_id"]
	}
	return ""
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"requestPath": func(id string) string { return pathRequest + url.PathEscape(id) },
	"actionPath":  func(id, act string) string { return pathRequest + url.PathEscape(id) + "/" + act },
	"duration":    func(sec int64) string { return (time.Duration(sec) * time.Second).String() },
}

func parsePages() (*template.Template, error) {
	return template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
}

// render writes a page, buffered so that a template failure is a clean
// 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, d); err != nil {
		c.log.Error("console template failed", zap.String("template", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
