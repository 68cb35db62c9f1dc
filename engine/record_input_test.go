package engine_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/decisionlog"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// recordInput returns the input and erased list of the one decision record.
func (f *fixture) recordInput(t *testing.T) (map[string]any, []string) {
	t.Helper()
	records := f.logs.FilterMessage("decision").All()
	if len(records) != 1 {
		t.Fatalf("%d decision records, want 1", len(records))
	}
	fields := records[0].ContextMap()
	raw, ok := fields["input"].(json.RawMessage)
	if !ok {
		t.Fatalf("the record has no input: %v", fields)
	}
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatalf("the record's input is not JSON: %v: %s", err, raw)
	}
	var erased []string
	if list, ok := fields["erased"].([]any); ok {
		for _, e := range list {
			erased = append(erased, e.(string))
		}
	}
	return in, erased
}

func TestADecisionRecordCarriesThePolicyInputAsEvaluated(t *testing.T) {
	f := newFixture(t)
	raw := f.token(t, map[string]any{"ref_protected": "false"})
	_, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw, Identity: "deploy@workload.example.com", Scopes: []string{"read"}, ClientIP: "192.0.2.1"})
	if err == nil {
		t.Fatal("an unprotected ref was granted")
	}
	in, erased := f.recordInput(t)
	if erased != nil {
		t.Fatalf("nothing is masked, yet the record says %v was erased", erased)
	}
	token, _ := in["token"].(map[string]any)
	request, _ := in["request"].(map[string]any)
	provider, _ := in["provider"].(map[string]any)
	if token["project_path"] != "my-group/app" || token["ref_protected"] != "false" || token["iss"] != f.issuer.URL() {
		t.Fatalf("input.token %v: want the verified claims", token)
	}
	if request["identity"] != "deploy@workload.example.com" || request["client_ip"] != "192.0.2.1" || provider["name"] != "test" {
		t.Fatalf("input.request %v, input.provider %v", request, provider)
	}
	if now, _ := in["now"].(string); len(now) != len("2006-01-02T15:04:05Z") {
		t.Fatalf("input.now %q: want RFC 3339 to the second, as the policy saw it", in["now"])
	}
}

func TestARecordedInputReplaysToTheDecisionTheServerMade(t *testing.T) {
	f := newFixture(t)
	if _, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil), Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	records := f.logs.FilterMessage("decision").All()
	ev, err := engine.ParseEvaluation(records[0].ContextMap()["input"].(json.RawMessage))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(context.Background(), []string{f.bundle}, policy.Options{ServerIssuer: stsIssuer, AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := engine.Evaluate(context.Background(), pol, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || d.Identity != "deploy" || !slices.Equal(d.Scopes, []string{"read"}) {
		t.Fatalf("replayed decision %+v: want deploy with scope read, as exchanged", d)
	}
}

func TestTheDecisionMaskErasesFieldsFromEveryRecordAndNamesThem(t *testing.T) {
	mask, err := decisionlog.ParseMask([]string{"/input/token/project_path", "/input/request/client_ip", "/input/token/absent"})
	if err != nil {
		t.Fatal(err)
	}
	sink := &events{}
	f := newFixture(t, func(c *engine.Config) { c.DecisionMask, c.DecisionSink = mask, sink })
	if _, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: f.token(t, nil), ClientIP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	in, erased := f.recordInput(t)
	want := []string{"/input/token/project_path", "/input/request/client_ip"}
	if !slices.Equal(erased, want) {
		t.Fatalf("erased %v, want %v (a rule that removed nothing is not named)", erased, want)
	}
	token := in["token"].(map[string]any)
	request := in["request"].(map[string]any)
	if _, has := token["project_path"]; has || token["namespace_path"] != "my-group" {
		t.Fatalf("input.token %v: want project_path removed and the rest kept", token)
	}
	if _, has := request["client_ip"]; has {
		t.Fatalf("input.request %v still holds client_ip", request)
	}
	b, err := json.Marshal(sink.all[0])
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Input struct {
			Token map[string]any `json:"token"`
		} `json:"input"`
		Erased []string `json:"erased"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if _, has := ev.Input.Token["project_path"]; has || !slices.Equal(ev.Erased, want) {
		t.Fatalf("the HTTP sink's event is not masked the same: %s", b)
	}
}

func TestARecordedInputKeepsEveryFieldOfTheGrantsThePolicySaw(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	grants := []access.Grant{
		{ID: "g-1", Identity: "jit", Scopes: []string{"read"}, Audiences: []string{"https://db.example.com"},
			StartsAt: at.Add(-time.Hour), EndsAt: at.Add(time.Hour), Binds: true,
			Binding: access.Binding{Kind: "project", Provider: "gitlab", Issuer: "https://gitlab.example.com", Project: "my-group/api"}},
		{ID: "g-2", Identity: "jit", Scopes: []string{"read", "write"}, Audiences: []string{}, EndsAt: at.Add(time.Hour),
			Binding: access.Binding{Kind: "subject", Provider: "gitlab", Issuer: "https://gitlab.example.com", Subject: "project_path:x"}},
	}
	ev := &engine.Evaluation{
		Provider: &verify.Provider{Name: "gitlab", Issuer: "https://gitlab.example.com", Platform: "gitlab"},
		Payload:  []byte(`{"iss":"https://gitlab.example.com","sub":"project_path:x"}`),
		Request:  engine.Request{Identity: "jit", Scopes: []string{"read"}},
		Now:      at,
		Grants:   grants,
	}
	got, err := engine.ParseEvaluation(ev.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Grants, grants) {
		t.Fatalf("grants read back %+v, want %+v: a replay would ask the policy something else", got.Grants, grants)
	}
}
