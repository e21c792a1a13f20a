package publish

import (
	"context"
	"testing"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// What Flush writes is each item's last state, whatever the order of the
// changes before it.
func TestMappingsLastStateWins(t *testing.T) { storetest.Run(t, testMappingsLastStateWins) }

func testMappingsLastStateWins(t *testing.T, loc string) {
	ctx := context.Background()
	st, err := store.Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetMappings(ctx, "jira", []store.Mapping{{Item: "a", Remote: "VULN-1", State: "open"}, {Item: "b", Remote: "VULN-2", State: "open"}}); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMappings(ctx, st, "jira")
	if err != nil {
		t.Fatal(err)
	}
	m.Drop("a")
	m.Set(store.Mapping{Item: "a", Remote: "VULN-3", State: "open"}) // dropped, then set again
	m.Set(store.Mapping{Item: "b", Remote: "VULN-2", State: "closed"})
	m.Drop("b") // set, then dropped
	m.Set(store.Mapping{Item: "c", Remote: "VULN-4", State: "pending"})
	if n := m.Unflushed(); n != 3 {
		t.Errorf("%d changes unflushed, want 3 (a, b, c)", n)
	}
	if err := m.Flush(ctx, st); err != nil {
		t.Fatal(err)
	}
	if n := m.Unflushed(); n != 0 {
		t.Errorf("%d changes unflushed after Flush", n)
	}
	got, err := st.Mappings(ctx, "jira")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"].Remote != "VULN-3" || got["c"].State != "pending" {
		t.Errorf("stored %v, want a → VULN-3 and c pending, b gone", got)
	}
	if _, ok := got["b"]; ok {
		t.Errorf("b's mapping survived its drop")
	}
}
