package access

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func TestACursorReadsBackAsThePositionItWasMadeOf(t *testing.T) {
	p := Position{CreatedAt: time.Date(2026, 11, 23, 10, 0, 0, 123, time.UTC), ID: "r-1"}
	got, err := decodeCursor(encodeCursor(p))
	if err != nil || !got.CreatedAt.Equal(p.CreatedAt) || got.ID != p.ID {
		t.Fatalf("decodeCursor(encodeCursor(%+v)) = %+v, %v", p, got, err)
	}
}

func TestACursorNoListGaveIsInvalid(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct{ name, cursor string }{
		{"Text that is no base64 is refused", "not base64!"},
		{"Base64 of no JSON is refused", enc("not json")},
		{"A cursor without an id is refused", enc(`{"t":1}`)},
		{"A cursor without a time is refused", enc(`{"id":"r-1"}`)},
		{"A cursor with a time before 1970 is refused", enc(`{"t":-5,"id":"r-1"}`)},
		{"A cursor whose time is no number is refused", enc(`{"t":"soon","id":"r-1"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := decodeCursor(tc.cursor); !errors.Is(err, ErrInvalid) {
				t.Fatalf("decodeCursor(%q) = %+v, %v; want ErrInvalid", tc.cursor, p, err)
			}
		})
	}
}
