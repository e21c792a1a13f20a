package store

import (
	"context"
	"encoding/json"
	"testing"

	"qvt/internal/qualys"
)

// A changed finding handed to a publisher carries the export's record
// (Row.Finding): the same fields and values as Findings gives, its tags
// and life included, whatever Published adds in the store's own forms.
func TestChangedCarriesTheExportRecord(t *testing.T) {
	ctx := context.Background()
	st := tempStore(t)
	d := func(qid int, status string) qualys.Detection {
		return qualys.Detection{QID: qid, Type: "Confirmed", Severity: 3, Status: status,
			FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1}
	}
	hs := []HostRecord{
		{Host: &qualys.Host{ID: 1, IP: "10.0.0.1", Tags: []qualys.Tag{{ID: 1, Name: "DMZ"}, {ID: 2, Name: "Web"}},
			Detections: []qualys.Detection{d(38170, "Active"), d(38171, "Fixed")}}},
		{Host: &qualys.Host{ID: 2, IP: "10.0.0.2", Detections: []qualys.Detection{d(38170, "New")}}},
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutHosts(hs, 1_700_000_000) }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	if err := st.Findings(ctx, Filter{}, func(r *Row) error {
		b, err := json.Marshal(r.Finding)
		want[r.Key] = string(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := st.Changed(ctx, 0, func(p *Published) error {
		n++
		b, err := json.Marshal(p.Row.Finding)
		if err != nil {
			return err
		}
		if string(b) != want[p.Key] {
			t.Errorf("%s: Changed gives\n%s\nFindings gives\n%s", p.Key, b, want[p.Key])
		}
		if p.Closed != p.ClosedReason || p.TimesReopened != p.Row.TimesReopened {
			t.Errorf("%s: Published says closed %q, reopened %d; its record %q, %d", p.Key, p.Closed, p.TimesReopened, p.ClosedReason, p.Row.TimesReopened)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(want) || n != 3 {
		t.Errorf("Changed gave %d findings, Findings %d, want 3", n, len(want))
	}
}
