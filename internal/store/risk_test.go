package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/priority"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// riskKB is a KB of three QIDs: 1 lists CVE-2024-0001 and CVE-2024-0002,
// 2 lists CVE-2024-0003, 3 lists none; 1 carries threat intel.
func riskKB() []*qualys.Vuln {
	return []*qualys.Vuln{
		{QID: 1, Severity: 4, Title: "one", CVEs: []string{"CVE-2024-0001", "CVE-2024-0002"},
			ThreatIntel: []qualys.ThreatIntel{{ID: "2", Text: "Exploit_Public"}, {ID: "1", Text: "Active_Attacks"}}},
		{QID: 2, Severity: 3, Title: "two", CVEs: []string{"CVE-2024-0003"}},
		{QID: 3, Severity: 2, Title: "three"},
	}
}

// queued returns the QIDs waiting for rescoring or re-prioritizing and
// empties the queues.
func queued(t *testing.T, st *Store) []int {
	t.Helper()
	var out []int
	err := st.Write(context.Background(), func(tx *Tx) error {
		if err := tx.query("SELECT qid FROM rescore_queue UNION SELECT qid FROM risk_queue ORDER BY qid", func(c Cols) error {
			out = append(out, c.ColumnInt(0))
			return nil
		}); err != nil {
			return err
		}
		return tx.ClearQueue()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kevEntry(cve, added, ransomware string) KEVEntry {
	return KEVEntry{CVE: cve, VendorProject: "Acme", Product: "Widget", Name: "Acme Widget flaw", DateAdded: added,
		DueDate: "2025-03-22", Ransomware: ransomware, CWEs: []string{"CWE-79"}}
}

// A new catalog is stored entry by entry: the QIDs of the CVEs it adds,
// edits or drops are queued, and nothing else; the same version again
// writes nothing, an older one is refused.
func TestPutKEV(t *testing.T) { storetest.Run(t, testPutKEV) }

func testPutKEV(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	put := func(c *KEVCatalog) (KEVResult, error) {
		var res KEVResult
		err := st.Write(ctx, func(tx *Tx) error {
			var err error
			res, err = tx.PutKEV(c, 1_700_000_000)
			return err
		})
		return res, err
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutVulns(riskKB()) }); err != nil {
		t.Fatal(err)
	}
	queued(t, st)

	v1 := &KEVCatalog{Version: "2025.03.01", Released: "2025-03-01T15:00:00.000Z", Entries: []KEVEntry{
		kevEntry("CVE-2024-0002", "2025-03-01", "Unknown"), kevEntry("CVE-2024-0003", "2025-02-01", "Unknown")}}
	res, err := put(v1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Changed != 0 || res.Removed != 0 || res.Unchanged {
		t.Errorf("first catalog: %+v", res)
	}
	if q := queued(t, st); !slices.Equal(q, []int{1, 2}) {
		t.Errorf("first catalog queued %v, want [1 2]", q)
	}
	if res, err := put(v1); err != nil || !res.Unchanged {
		t.Errorf("the same version again: %+v, %v", res, err)
	}
	if q := queued(t, st); len(q) != 0 {
		t.Errorf("the same version again queued %v", q)
	}

	// 0002 edited in place (ransomware), 0003 dropped, 0009 (no QID) added.
	v2 := &KEVCatalog{Version: "2025.03.04", Released: "2025-03-04T15:00:00.000Z", Entries: []KEVEntry{
		kevEntry("CVE-2024-0002", "2025-03-01", "Known"), kevEntry("CVE-2024-0009", "2025-03-04", "Unknown")}}
	if res, err = put(v2); err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Changed != 1 || res.Removed != 1 {
		t.Errorf("second catalog: %+v", res)
	}
	if q := queued(t, st); !slices.Equal(q, []int{1, 2}) {
		t.Errorf("second catalog queued %v, want [1 2]", q)
	}
	var ransomware string
	var n int
	if err := st.Write(ctx, func(tx *Tx) error {
		return tx.query("SELECT ransomware, (SELECT count(*) FROM kev_entries) FROM kev_entries WHERE cve = 'CVE-2024-0002'",
			func(c Cols) error { ransomware, n = c.ColumnText(0), c.ColumnInt(1); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if ransomware != "Known" || n != 2 {
		t.Errorf("stored entries: ransomware %q, %d entries", ransomware, n)
	}

	old := &KEVCatalog{Version: "2025.02.01", Released: "2025-02-01T15:00:00.000Z", Entries: v1.Entries}
	if _, err := put(old); !errors.Is(err, ErrOlder) {
		t.Errorf("an older catalog: %v, want ErrOlder", err)
	}
	if err := st.Write(ctx, func(tx *Tx) error {
		v, _, n, err := tx.StoredKEV()
		if v != "2025.03.04" || n != 2 {
			t.Errorf("stored catalog %s with %d entries after the older one was refused", v, n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dup := &KEVCatalog{Version: "2025.03.05", Entries: []KEVEntry{kevEntry("CVE-2024-0002", "", ""), kevEntry("CVE-2024-0002", "", "")}}
	if _, err := put(dup); err == nil {
		t.Error("a catalog with a CVE twice was stored")
	}
}

// scores is a file of the given date as PutEPSS takes it.
func scores(date string, ss ...EPSSScore) func(header func(model, date string) error, row func(EPSSScore) error) error {
	return func(header func(model, date string) error, row func(EPSSScore) error) error {
		if err := header("v2025.03.14", date); err != nil {
			return err
		}
		for _, s := range ss {
			if err := row(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// A new EPSS file replaces the scores: the QIDs of changed, new and
// dropped CVEs are queued, a changed score keeps the one before it, and
// an older file or a file with a CVE twice changes nothing.
func TestPutEPSS(t *testing.T) { storetest.Run(t, testPutEPSS) }

func testPutEPSS(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	put := func(date string, ss ...EPSSScore) (EPSSResult, error) {
		var res EPSSResult
		err := st.Write(ctx, func(tx *Tx) error {
			var err error
			res, err = tx.PutEPSS(scores(date, ss...), 1_700_000_000)
			return err
		})
		return res, err
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutVulns(riskKB()) }); err != nil {
		t.Fatal(err)
	}
	queued(t, st)
	res, err := put("2025-03-20", EPSSScore{"CVE-2024-0001", 0.5, 0.99}, EPSSScore{"CVE-2024-0002", 0.01, 0.6},
		EPSSScore{"CVE-2024-0003", 0.2, 0.9}, EPSSScore{"CVE-2023-9999", 0.00043, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scores != 4 || res.Changed != 4 || res.Removed != 0 {
		t.Errorf("first file: %+v", res)
	}
	if q := queued(t, st); !slices.Equal(q, []int{1, 2}) {
		t.Errorf("first file queued %v, want [1 2]", q)
	}
	// 0001 unchanged, 0002 rises, 0003 dropped.
	res, err = put("2025-03-21", EPSSScore{"CVE-2024-0001", 0.5, 0.99}, EPSSScore{"CVE-2024-0002", 0.02, 0.7},
		EPSSScore{"CVE-2023-9999", 0.00043, 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 1 || res.Removed != 1 {
		t.Errorf("second file: %+v", res)
	}
	if q := queued(t, st); !slices.Equal(q, []int{1, 2}) {
		t.Errorf("second file queued %v, want [1 2]", q)
	}
	type row struct {
		epss, prev float64
		hasPrev    bool
	}
	read := func() map[string]row {
		out := map[string]row{}
		if err := st.Write(ctx, func(tx *Tx) error {
			return tx.query("SELECT cve, epss, prev_epss FROM epss_scores", func(c Cols) error {
				out[c.ColumnText(0)] = row{c.ColumnFloat(1), c.ColumnFloat(2), optCol(c, 2) != nil}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := read()
	if r := got["CVE-2024-0002"]; r.epss != 0.02 || !r.hasPrev || r.prev != 0.01 {
		t.Errorf("a risen score: %+v, want 0.02 after 0.01", r)
	}
	if r := got["CVE-2024-0001"]; r.hasPrev {
		t.Errorf("an unchanged score has a previous one: %+v", r)
	}
	if _, ok := got["CVE-2024-0003"]; ok || len(got) != 3 {
		t.Errorf("scores after the second file: %v", got)
	}
	// A download retried after a cut delivers the header and rows again.
	err = st.Write(ctx, func(tx *Tx) error {
		res, err = tx.PutEPSS(func(header func(string, string) error, row func(EPSSScore) error) error {
			for range 2 {
				if err := header("v2025.03.14", "2025-03-21"); err != nil {
					return err
				}
				for _, s := range []EPSSScore{{"CVE-2024-0001", 0.5, 0.99}, {"CVE-2024-0002", 0.02, 0.7}, {"CVE-2023-9999", 0.00043, 0.1}} {
					if err := row(s); err != nil {
						return err
					}
				}
			}
			return nil
		}, 1_700_000_000)
		return err
	})
	if err != nil || res.Scores != 3 || res.Changed != 0 {
		t.Errorf("a retried download: %+v, %v", res, err)
	}
	if _, err := put("2025-03-19", EPSSScore{"CVE-2024-0001", 0.9, 0.99}); !errors.Is(err, ErrOlder) {
		t.Errorf("an older file: %v, want ErrOlder", err)
	}
	if _, err := put("2025-03-22", EPSSScore{"CVE-2024-0001", 0.9, 0.99}, EPSSScore{"CVE-2024-0001", 0.8, 0.98}); err == nil {
		t.Error("a file with a CVE twice was stored")
	}
	if after := read(); len(after) != 3 || after["CVE-2024-0001"].epss != 0.5 {
		t.Errorf("a refused file changed the scores: %v", after)
	}
	if err := st.Write(ctx, func(tx *Tx) error {
		_, date, n, err := tx.StoredEPSS()
		if date != "2025-03-21" || n != 3 {
			t.Errorf("stored file %s with %d scores", date, n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// What KEV, EPSS and threat intel say of a QID reaches its findings, the
// filters select by it, and a change of priority enters the history with
// its cause.
func TestRiskReachesFindings(t *testing.T) { storetest.Run(t, testRiskReachesFindings) }

func testRiskReachesFindings(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	det := func(qid, qds int) qualys.Detection {
		return qualys.Detection{QID: qid, Type: "Confirmed", Status: "Active", QDS: qds,
			FirstFound: "2025-01-10T00:00:00Z", LastFound: "2025-01-10T00:00:00Z", TimesFound: 1}
	}
	host := &qualys.Host{ID: 7, IP: "10.0.0.7", Detections: []qualys.Detection{det(1, 95), det(2, 0), det(3, 20)}}
	// assess as the priority package would: KEV from any CVE, the highest
	// EPSS; rate gives P1 to KEV, else P4.
	assessRisk := func(qid int, cves []priority.CVEFacts, ti []string) priority.Risk {
		r := priority.Risk{KEVCVEs: []string{}, ThreatIntel: ti}
		for _, c := range cves {
			if c.InKEV {
				r.KEV = true
				r.KEVCVEs = append(r.KEVCVEs, c.CVE)
				r.KEVDateAdded = c.KEVDateAdded
			}
			if c.EPSS != nil && (r.EPSS == nil || *c.EPSS > *r.EPSS) {
				r.EPSS, r.Percentile, r.EPSSCVE = c.EPSS, c.Percentile, c.CVE
			}
		}
		return r
	}
	rate := func(in RateInput) Derived {
		d := Derived{VulnScore: "High", Priority: "P4", PriorityReason: "other", Cause: "left KEV"}
		if r := in.Score.Risk; r != nil && r.EPSS != nil {
			d.Urgency = int64(*r.EPSS * 1e5) // the order moves with EPSS
		}
		if in.Score.Risk != nil && in.Score.Risk.KEV {
			d.Priority, d.PriorityReason, d.DueDate, d.Cause = "P1", "known exploited", "2025-03-15", "added to KEV "+in.Score.Risk.KEVDateAdded
		}
		return d
	}
	first := true
	step := func(at int64, fn func(tx *Tx) error) {
		t.Helper()
		if err := st.Write(ctx, func(tx *Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			if first {
				// The first transaction reads scores through a cursor of
				// other columns than the rerating's, as an import does; on
				// PostgreSQL the next one's cursor must not be read as it.
				first = false
				if err := tx.ScoreInputs(func(*assess.QIDInput) error { return nil }); err != nil {
					return err
				}
			}
			if err := tx.Reassess(assessRisk); err != nil {
				return err
			}
			if err := tx.Rerate(rate, at, false); err != nil {
				return err
			}
			return tx.ClearQueue()
		}); err != nil {
			t.Fatal(err)
		}
	}
	step(1_700_000_000, func(tx *Tx) error {
		if err := tx.PutVulns(riskKB()); err != nil {
			return err
		}
		return tx.PutHosts([]HostRecord{{Host: host}}, 1_700_000_000)
	})
	step(1_700_000_100, func(tx *Tx) error {
		if _, err := tx.PutEPSS(scores("2025-03-20", EPSSScore{"CVE-2024-0001", 0.5, 0.99},
			EPSSScore{"CVE-2024-0002", 0.7, 0.995}), 1_700_000_100); err != nil {
			return err
		}
		_, err := tx.PutKEV(&KEVCatalog{Version: "1", Entries: []KEVEntry{kevEntry("CVE-2024-0002", "2025-03-01", "Known")}}, 1_700_000_100)
		return err
	})
	byQID := func(f Filter) map[int]Row {
		out := map[int]Row{}
		if err := st.Findings(ctx, f, func(r *Row) error { out[r.QID] = *r; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := byQID(Filter{})
	one := all[1]
	if !one.KEV || !slices.Equal(one.KEVCVEs, []string{"CVE-2024-0002"}) || one.KEVDateAdded != "2025-03-01" {
		t.Errorf("QID 1's KEV fields: %v %v %q", one.KEV, one.KEVCVEs, one.KEVDateAdded)
	}
	if one.EPSS == nil || *one.EPSS != 0.7 || one.EPSSCVE != "CVE-2024-0002" || *one.EPSSPercentile != 0.995 {
		t.Errorf("QID 1's EPSS fields: %v %v %q", one.EPSS, one.EPSSPercentile, one.EPSSCVE)
	}
	if !slices.Equal(one.ThreatIntel, []string{"Exploit_Public", "Active_Attacks"}) {
		t.Errorf("QID 1's threat intel: %v", one.ThreatIntel)
	}
	if one.QDS == nil || *one.QDS != 95 || all[2].QDS != nil {
		t.Errorf("QDS: %v and %v, want 95 and null", one.QDS, all[2].QDS)
	}
	if one.Priority != "P1" || one.PriorityReason != "known exploited" || one.DueDate != "2025-03-15" || all[2].Priority != "P4" {
		t.Errorf("priorities: %s (%s, due %s) and %s", one.Priority, one.PriorityReason, one.DueDate, all[2].Priority)
	}
	if three := all[3]; three.KEV || three.EPSS != nil || three.KEVCVEs == nil || three.ThreatIntel == nil {
		t.Errorf("QID 3 has no CVEs: %+v", three.Finding)
	}
	eps := 0.6
	for name, c := range map[string]struct {
		f    Filter
		want []int
	}{
		"kev":     {Filter{KEV: true}, []int{1}},
		"p4":      {Filter{Priorities: []string{"P4"}}, []int{2, 3}},
		"p1 p4":   {Filter{Priorities: []string{"P1", "P4"}}, []int{1, 2, 3}},
		"epss":    {Filter{MinEPSS: &eps}, []int{1}},
		"epss p4": {Filter{MinEPSS: &eps, Priorities: []string{"P4"}}, nil},
	} {
		var got []int
		for q := range byQID(c.f) {
			got = append(got, q)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("filter %s: QIDs %v, want %v", name, got, c.want)
		}
	}
	if err := st.Findings(ctx, Filter{Priorities: []string{"P9"}}, func(*Row) error { return nil }); err == nil {
		t.Error("an unknown priority was accepted")
	}

	// A new EPSS file that moves scores but no priority: the findings'
	// order is rewritten, and publishers are told of no change.
	changed := func(since int64) []string {
		var keys []string
		if err := st.Changed(ctx, since, func(p *Published) error { keys = append(keys, p.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	rev, err := st.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	order := func() string {
		v, err := st.Meta(ctx, "order")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := order()
	step(1_700_000_150, func(tx *Tx) error {
		_, err := tx.PutEPSS(scores("2025-03-21", EPSSScore{"CVE-2024-0001", 0.51, 0.99},
			EPSSScore{"CVE-2024-0002", 0.72, 0.996}), 1_700_000_150)
		return err
	})
	if got := changed(rev); len(got) != 0 {
		t.Errorf("an EPSS file that moved no priority marked findings changed: %v", got)
	}
	// What keeps facts about the order (the dashboard's overview) is told.
	if after := order(); after == before {
		t.Errorf("an EPSS file that moved findings' order left meta.order at %q", after)
	}
	before = order()
	step(1_700_000_160, func(tx *Tx) error {
		_, err := tx.PutEPSS(scores("2025-03-21", EPSSScore{"CVE-2024-0001", 0.51, 0.99},
			EPSSScore{"CVE-2024-0002", 0.72, 0.996}), 1_700_000_160)
		return err
	})
	if after := order(); after != before {
		t.Errorf("the same EPSS file again moved meta.order from %q to %q", before, after)
	}
	if one := byQID(Filter{})[1]; *one.EPSS != 0.72 {
		t.Errorf("QID 1's EPSS after the new file: %v", *one.EPSS)
	}
	var urgency int64
	if err := st.DB().QueryRow("SELECT urgency FROM detections WHERE qid = 1").Scan(&urgency); err != nil || urgency != 72000 {
		t.Errorf("QID 1's finding's order after the new file: %d, %v", urgency, err)
	}

	// CVE-2024-0002 leaves KEV: P1 → P4 with its cause, dated.
	step(1_700_000_200, func(tx *Tx) error {
		_, err := tx.PutKEV(&KEVCatalog{Version: "2"}, 1_700_000_200)
		return err
	})
	lives, err := st.History(ctx, "10.0.0.7:1:0")
	if err != nil || len(lives) != 1 {
		t.Fatal(lives, err)
	}
	var got []Change
	for _, c := range lives[0].Changes {
		if c.Event == "priority" || c.Event == "due" {
			got = append(got, c)
		}
	}
	want := []Change{{At: 1_700_000_100, Event: "priority", Old: "P4", New: "P1", Cause: "added to KEV 2025-03-01"},
		{At: 1_700_000_100, Event: "due", Old: "", New: "2025-03-15", Cause: "added to KEV 2025-03-01"},
		{At: 1_700_000_200, Event: "priority", Old: "P1", New: "P4", Cause: "left KEV"},
		{At: 1_700_000_200, Event: "due", Old: "2025-03-15", New: "", Cause: "left KEV"}}
	if !slices.Equal(got, want) {
		t.Errorf("history of priority:\n got %+v\nwant %+v", got, want)
	}
	if l := lives[0]; l.Priority != "P4" || l.Reason != "other" {
		t.Errorf("life: priority %s (%s)", l.Priority, l.Reason)
	}
	if got := changed(rev); !slices.Contains(got, "10.0.0.7:1:0") {
		t.Errorf("a finding whose priority changed is not marked changed: %v", got)
	}
}
