package decisionlog_test

import (
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/decisionlog"
)

func TestMaskRulesThatAreNotPointersIntoTheInputAreRefused(t *testing.T) {
	tests := []struct {
		name string
		rule string
		want string
	}{
		{name: "A pointer into the result is refused.", rule: "/result/allow", want: "field of the input"},
		{name: "The whole input is refused.", rule: "/input/", want: "field of the input"},
		{name: "A pointer without a leading slash is refused.", rule: "input/token/email", want: "field of the input"},
		{name: "An empty reference token is refused.", rule: "/input/token//email", want: "empty reference token"},
		{name: "A bad escape is refused.", rule: "/input/token/a~2b", want: "~0 nor ~1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decisionlog.ParseMask([]string{tt.rule})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.rule) {
				t.Fatalf("ParseMask(%q) = %v, want an error naming the rule and %q", tt.rule, err, tt.want)
			}
		})
	}
}

func TestAMaskRemovesNestedAndEscapedMembersOnly(t *testing.T) {
	m, err := decisionlog.ParseMask([]string{"/input/token/a~1b", "/input/token/nested/x", "/input/token/list/0"})
	if err != nil {
		t.Fatal(err)
	}
	out, erased, err := m.Apply([]byte(`{"token":{"a/b":"1","n":2,"nested":{"x":1,"y":2},"list":[1]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"token":{"list":[1],"n":2,"nested":{"y":2}}}` {
		t.Fatalf("masked input %s", out)
	}
	if strings.Join(erased, " ") != "/input/token/a~1b /input/token/nested/x" {
		t.Fatalf("erased %v", erased)
	}
}

func TestANilMaskLeavesTheInputAsItIs(t *testing.T) {
	var m *decisionlog.Mask
	in := []byte(`{"token":{"email":"a@example.com"}}`)
	out, erased, err := m.Apply(in)
	if err != nil || string(out) != string(in) || erased != nil {
		t.Fatalf("nil mask: %s %v %v", out, erased, err)
	}
}
