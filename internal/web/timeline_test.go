package web

import (
	"slices"
	"testing"

	"qvt/internal/store"
)

// A finding's timeline is in time order, whatever order its events were
// recorded in: a file imported late records older changes after newer
// ones, and a finding closed as gone was last reported before it closed.
func TestTimelineOrder(t *testing.T) {
	l := store.Life{FirstSeen: 100, LastSeen: 300, Changes: []store.Change{
		{At: 400, Event: "closed", Old: "", New: "gone"},
		{At: 200, Event: "status", Old: "New", New: "Active"},
		{At: 250, Event: "rating", Old: "High", New: "Critical"},
		{At: 200, Event: "deadline", Old: "2026-01-01", New: "2026-01-15"},
	}}
	var at []int64
	var what []string
	for _, it := range timeline(l) {
		at = append(at, it.At.Unix())
		what = append(what, it.What)
	}
	if want := []int64{100, 200, 200, 250, 300, 400}; !slices.Equal(at, want) {
		t.Errorf("timeline at %v, want %v (%q)", at, want, what)
	}
	// Events at the same time keep the order they were recorded in.
	if what[1] != "Qualys status" || what[2] != "Deadline" || what[4] != "Last reported" || what[5] != "Closed: gone" {
		t.Errorf("timeline %q", what)
	}
}
