package server

import "testing"

func TestMatchTemplate(t *testing.T) {
	tests := []struct {
		name, template, path string
		want                 bool
	}{
		{"An exact path matches itself.", "/v1/access/requests", "/v1/access/requests", true},
		{"A {name} segment matches any one segment.", "/v1/access/requests/{id}", "/v1/access/requests/abc", true},
		{"A {name} segment in the middle matches.", "/v1/access/requests/{id}/approve", "/v1/access/requests/abc/approve", true},
		{"A {name} segment does not match an empty one.", "/v1/access/requests/{id}", "/v1/access/requests/", false},
		{"A {name} segment does not match two.", "/v1/access/requests/{id}", "/v1/access/requests/a/b", false},
		{"A trailing slash does not match.", "/v1/access/requests/{id}/approve", "/v1/access/requests/abc/approve/", false},
		{"Another literal segment does not match.", "/v1/access/requests/{id}/approve", "/v1/access/requests/abc/grant", false},
		{"A shorter path does not match.", "/v1/access/requests/{id}", "/v1/access", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchTemplate(tc.template, tc.path); got != tc.want {
				t.Fatalf("matchTemplate(%q, %q) = %v", tc.template, tc.path, got)
			}
		})
	}
}
