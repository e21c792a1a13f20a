package store

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"qvt/internal/qualys"
	"qvt/internal/runs"
	"qvt/internal/store/storetest"
)

// A run's changes are the findings first seen in its window (by
// priority, else rating, with the KEV ones), the fixes and reopenings
// history recorded in it, and the open, unexcepted findings whose due
// date passed in it; each counted under its owner.
func TestRunChanges(t *testing.T) { storetest.Run(t, testRunChanges) }

func testRunChanges(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	since := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	until := since.Add(24 * time.Hour)
	det := func(q int) qualys.Detection {
		return qualys.Detection{QID: q, Type: "Confirmed", Severity: 3, Status: "Active", Port: 443,
			FirstFound: "2026-11-01T00:00:00Z", LastFound: "2026-11-20T00:00:00Z"}
	}
	h1 := &qualys.Host{ID: 1, IP: "10.1.0.1", Detections: []qualys.Detection{det(1), det(2), det(3), det(4), det(5)}}
	h2 := &qualys.Host{ID: 2, IP: "10.1.0.2", Detections: []qualys.Detection{det(1), det(2), det(3), det(4)}}
	putHosts(t, st, since.Unix()-86400, h1, h2)
	in, before, after := since.Unix()+60, since.Unix()-60, until.Unix()
	err := st.Write(ctx, func(tx *Tx) error {
		for _, q := range []string{
			// host 1: new findings of the window
			fmt.Sprintf(`UPDATE detections SET first_seen = %d, priority = 'P1', owner = 'Payments', due_date = '2027-01-01' WHERE host_id = 1 AND qid IN (1, 2)`, in),
			fmt.Sprintf(`UPDATE detections SET first_seen = %d, priority = '', vuln_score = 'Critical', due_date = '', breach_date = '2027-01-01' WHERE host_id = 1 AND qid = 3`, in),
			fmt.Sprintf(`UPDATE detections SET first_seen = %d, type = 'Info' WHERE host_id = 1 AND qid = 4`, in),
			fmt.Sprintf(`UPDATE detections SET first_seen = %d, priority = 'P3', due_date = '2027-01-01' WHERE host_id = 1 AND qid = 5`, after),
			`INSERT INTO qid_risk (qid, kev) VALUES (1, 1)`,
			// host 2: old findings; due dates around the window
			fmt.Sprintf(`UPDATE detections SET first_seen = %d, owner = 'Payments' WHERE host_id = 2`, before),
			`UPDATE detections SET due_date = '2026-12-04' WHERE host_id = 2 AND qid = 1`,
			`UPDATE detections SET due_date = '2026-12-03' WHERE host_id = 2 AND qid = 2`,
			`UPDATE detections SET due_date = '2026-12-04', exception_id = 7, excepted_until = '2026-12-31' WHERE host_id = 2 AND qid = 3`,
			`UPDATE detections SET due_date = '', breach_date = '2026-12-04', owner = '' WHERE host_id = 2 AND qid = 4`,
			fmt.Sprintf(`INSERT INTO history (host_id, qid, port, at, event, old, new) VALUES
  (2, 2, 443, %d, 'status', 'Active', 'Fixed'),
  (2, 3, 443, %d, 'status', 'Fixed', 'Re-Opened'),
  (2, 1, 443, %d, 'status', 'Active', 'Fixed'),
  (2, 1, 443, %d, 'rating', 'High', 'Critical'),
  (1, 4, 443, %d, 'status', 'Active', 'Fixed')`, in, in, before, in, in),
		} {
			if err := tx.exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	by, err := st.RunChangesByOwner(ctx, since, until)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]runs.Changes{
		"Payments": {New: map[string]int{"P1": 2}, NewKEV: 1, Fixed: 1, Reopened: 1, NewlyOverdue: 1},
		"":         {New: map[string]int{"Critical": 1}, NewlyOverdue: 1},
	}
	if !sameChanges(by, want) {
		t.Errorf("by owner = %+v, want %+v", by, want)
	}
	all, err := st.RunChanges(ctx, since, until)
	if err != nil {
		t.Fatal(err)
	}
	if w := (runs.Changes{New: map[string]int{"P1": 2, "Critical": 1}, NewKEV: 1, Fixed: 1, Reopened: 1, NewlyOverdue: 2}); !sameChanges(map[string]runs.Changes{"": all}, map[string]runs.Changes{"": w}) {
		t.Errorf("all = %+v, want %+v", all, w)
	}
	// The next day's window holds none of them but the finding first seen then.
	next, err := st.RunChanges(ctx, until, until.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if next.New["P3"] != 1 || len(next.New) != 1 || next.Fixed+next.Reopened+next.NewlyOverdue+next.NewKEV != 0 {
		t.Errorf("next day = %+v", next)
	}
}

func sameChanges(a, b map[string]runs.Changes) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || !maps.Equal(x.New, y.New) || x.NewKEV != y.NewKEV || x.Fixed != y.Fixed || x.Reopened != y.Reopened || x.NewlyOverdue != y.NewlyOverdue {
			return false
		}
	}
	return true
}
