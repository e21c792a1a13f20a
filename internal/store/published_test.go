package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// A changed finding handed to a publisher carries the export's record
// (Row.Finding): the same fields and values as Findings gives, its tags
// and life included, whatever Published adds in the store's own forms.
func TestChangedCarriesTheExportRecord(t *testing.T) {
	storetest.Run(t, testChangedCarriesTheExportRecord)
}

func testChangedCarriesTheExportRecord(t *testing.T, loc string) {
	ctx := context.Background()
	d := func(qid int, status string) qualys.Detection {
		return qualys.Detection{QID: qid, Type: "Confirmed", Severity: 3, Status: status,
			FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1}
	}
	hs := []HostRecord{
		{Host: &qualys.Host{ID: 1, IP: "10.0.0.1", Tags: []qualys.Tag{{ID: 1, Name: "DMZ"}, {ID: 2, Name: "Web"}},
			Detections: []qualys.Detection{d(38170, "Active"), d(38171, "Fixed")}}},
		{Host: &qualys.Host{ID: 2, IP: "10.0.0.2", Detections: []qualys.Detection{d(38170, "New")}}},
	}
	st := fillAt(t, loc, func(tx *Tx) error { return tx.PutHosts(hs, 1_700_000_000) })
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

// A publisher's state, its mappings and the history it follows read back
// as written, on both engines.
func TestPublishState(t *testing.T) { storetest.Run(t, testPublishState) }

func testPublishState(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	if v, err := st.PublishState(ctx, "jira", "rev"); err != nil || v != "" {
		t.Fatalf("unset state: %q, %v", v, err)
	}
	if err := st.SetPublishState(ctx, "jira", map[string]string{"rev": "41", "history": "7"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPublishState(ctx, "jira", map[string]string{"rev": "42"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"rev": "42", "history": "7"} {
		if v, err := st.PublishState(ctx, "jira", name); err != nil || v != want {
			t.Errorf("state %s: %q, %v; want %q", name, v, err, want)
		}
	}
	at := time.Unix(1_700_000_000, 0)
	ms := []Mapping{
		{Item: "10.0.0.1:38170:0", Remote: "VULN-1", State: "open", Hash: "a", Updated: at},
		{Item: "10.0.0.2:38170:0", Remote: "VULN-2", State: "open", Hash: "b", Updated: at},
		{Item: "10.0.0.3:38170:0", Remote: "VULN-3", State: "closed", Hash: "c", Updated: at},
	}
	if err := st.SetMappings(ctx, "jira", ms); err != nil {
		t.Fatal(err)
	}
	ms[1].State, ms[1].Updated = "closed", at.Add(time.Hour)
	if err := st.SetMappings(ctx, "jira", ms[1:2]); err != nil {
		t.Fatal(err)
	}
	if err := st.SetMappings(ctx, "assets", ms[:1]); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMappings(ctx, "jira", []string{ms[2].Item}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Mappings(ctx, "jira")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Mapping{ms[0].Item: ms[0], ms[1].Item: ms[1]}
	if len(got) != len(want) {
		t.Errorf("mappings %v, want %v", got, want)
	}
	for k, m := range want {
		g := got[k]
		if g.Remote != m.Remote || g.State != m.State || g.Hash != m.Hash || !g.Updated.Equal(m.Updated) {
			t.Errorf("mapping %s: %+v, want %+v", k, g, m)
		}
	}
	if err := st.DeleteMappings(ctx, "jira", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Mappings(ctx, "jira"); err != nil || len(got) != 0 {
		t.Errorf("after deleting all: %v, %v", got, err)
	}
	if got, err := st.Mappings(ctx, "assets"); err != nil || len(got) != 1 {
		t.Errorf("another target's mappings: %v, %v", got, err)
	}
}
