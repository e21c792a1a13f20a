package finding

import (
	"slices"
	"testing"
)

func TestParseStatusFilter(t *testing.T) {
	for in, want := range map[string]string{
		"open": "open", "OPEN": "open", " closed ": "closed", "all": "all", "new": "New", "active": "Active",
		"re-opened": "Re-Opened", "reopened": "Re-Opened", "Fixed": "fixed", "fixed": "fixed", "GONE": "gone",
		"Ignored": "ignored", "disabled": "disabled",
	} {
		if got, ok := ParseStatusFilter(in); !ok || got != want {
			t.Errorf("ParseStatusFilter(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "closedish", "stale", "open,closed"} {
		if got, ok := ParseStatusFilter(in); ok {
			t.Errorf("ParseStatusFilter(%q) = %q, want none", in, got)
		}
	}
}

// open and closed divide the states; each state filter selects itself.
func TestFilterStates(t *testing.T) {
	open, closed := FilterStates("open"), FilterStates("closed")
	both := append(slices.Clone(open), closed...)
	if !slices.Equal(both, States) {
		t.Errorf("open %v + closed %v = %v, want every state %v", open, closed, both, States)
	}
	if FilterStates("all") != nil {
		t.Errorf("all selects %v, want every finding (nil)", FilterStates("all"))
	}
	for _, s := range States {
		if got := FilterStates(s); !slices.Equal(got, []string{s}) {
			t.Errorf("FilterStates(%q) = %v", s, got)
		}
		if !slices.Contains(StatusFilters, s) {
			t.Errorf("state %q is not a status filter", s)
		}
	}
	if State("Active", "ignored") != "ignored" || State("Active", "") != "Active" {
		t.Error("State: the closed reason, else the Qualys status")
	}
}
