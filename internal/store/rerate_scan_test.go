package store

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/priority"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// A rerating of more QIDs than rerateScan reads every detection in table
// order and looks its QID's score and risk up in memory; one of fewer
// seeks the queued QIDs' detections and joins them. Both must give every
// finding the same rating, priority and order: the scores differ by
// policy, the risk by QID, and QIDs outside the queue are left alone.
func TestRerateScanMatchesSeek(t *testing.T) { storetest.Run(t, testRerateScanMatchesSeek) }

func testRerateScanMatchesSeek(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	const n = 2*rerateScan + 10
	cve := func(q int) string { return fmt.Sprintf("CVE-2024-%05d", q) }
	var kb []*qualys.Vuln
	for q := 1; q <= n; q++ {
		v := &qualys.Vuln{QID: q, Severity: 1 + q%5, Title: "v"}
		if q%7 != 0 { // every seventh QID lists no CVE: no risk
			v.CVEs = []string{cve(q)}
		}
		kb = append(kb, v)
	}
	// Three hosts, the second under policy 1, each with every QID but the
	// last (a QID with no detection must not disturb the scan).
	var recs []HostRecord
	for h := 1; h <= 3; h++ {
		host := &qualys.Host{ID: int64(h), IP: fmt.Sprintf("10.0.0.%d", h)}
		for q := 1; q < n; q++ {
			host.Detections = append(host.Detections, qualys.Detection{QID: q, Type: "Confirmed", Status: "Active",
				Severity: q % 3, FirstFound: "2025-01-10T00:00:00Z", LastFound: "2025-01-10T00:00:00Z", TimesFound: 1})
		}
		recs = append(recs, HostRecord{Host: host, Policy: int(b2i(h == 2))})
	}
	var epss []EPSSScore
	for q := 1; q <= n; q++ {
		if q%3 != 0 {
			epss = append(epss, EPSSScore{cve(q), float64(q) / n, float64(q) / (n + 1)})
		}
	}
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.PutVulns(kb); err != nil {
			return err
		}
		if err := tx.PutHosts(recs, 1_700_000_000); err != nil {
			return err
		}
		for q := 1; q <= n; q++ {
			if q%11 == 0 {
				continue // unscored: rated by severity
			}
			for policy := range 2 {
				s := &assess.Score{QID: q, HasVector: true, Env: float64((q+policy*3)%100) / 10,
					Rating: []string{"Low", "Medium", "High", "Critical"}[(q+policy)%4]}
				if err := tx.PutScore(policy, s, 1+q%5, 0); err != nil {
					return err
				}
			}
		}
		if _, err := tx.PutEPSS(scores("2025-03-20", epss...), 1_700_000_000); err != nil {
			return err
		}
		_, err := tx.PutKEV(&KEVCatalog{Version: "1", Entries: []KEVEntry{kevEntry(cve(5), "2025-03-01", "Known"),
			kevEntry(cve(301), "2025-02-01", "Unknown")}}, 1_700_000_000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	assessRisk := func(qid int, cves []priority.CVEFacts, ti []string) priority.Risk {
		r := priority.Risk{KEVCVEs: []string{}, ThreatIntel: ti}
		for _, c := range cves {
			if c.InKEV {
				r.KEV, r.KEVDateAdded = true, c.KEVDateAdded
				r.KEVCVEs = append(r.KEVCVEs, c.CVE)
			}
			if c.EPSS != nil && (r.EPSS == nil || *c.EPSS > *r.EPSS) {
				r.EPSS, r.Percentile, r.EPSSCVE = c.EPSS, c.Percentile, c.CVE
			}
		}
		return r
	}
	// Every input the rating reads shows in what it derives.
	rate := func(in RateInput) Derived {
		d := Derived{VulnScore: fmt.Sprintf("%s/%d/%d", in.Score.Rating, in.Severity, in.Score.KBSeverity),
			Priority: "P4", PriorityReason: "other", Cause: "c"}
		var kev bool
		var e *float64
		if r := in.Score.Risk; r != nil {
			kev, e = r.KEV, r.EPSS
			if r.KEV {
				d.Priority, d.PriorityReason, d.DueDate = "P1", "known exploited", r.KEVDateAdded
			} else if r.EPSS != nil && *r.EPSS >= 0.5 {
				d.Priority, d.PriorityReason = "P2", "likely exploited"
			}
		}
		d.Urgency = priority.Urgency(kev, e, in.Score.Env)
		return d
	}
	type derived struct {
		score, prio, reason, due string
		urgency                  int64
	}
	read := func() map[[3]int64]derived {
		out := map[[3]int64]derived{}
		rows, err := st.DB().QueryContext(ctx, "SELECT host_id, qid, port, vuln_score, priority, priority_reason, due_date, urgency FROM detections")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var k [3]int64
			var d derived
			if err := rows.Scan(&k[0], &k[1], &k[2], &d.score, &d.prio, &d.reason, &d.due, &d.urgency); err != nil {
				t.Fatal(err)
			}
			out[k] = d
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// rerate queues qids (in batches of at most batch) and rerates each.
	rerate := func(qids []int, batch int, at int64) {
		t.Helper()
		for len(qids) > 0 {
			k := min(batch, len(qids))
			err := st.Write(ctx, func(tx *Tx) error {
				if err := tx.ClearQueue(); err != nil {
					return err
				}
				if err := tx.QueueQIDs(qids[:k]); err != nil {
					return err
				}
				if err := tx.Reassess(assessRisk); err != nil {
					return err
				}
				if err := tx.Rerate(rate, at, false); err != nil {
					return err
				}
				return tx.ClearQueue()
			})
			if err != nil {
				t.Fatal(err)
			}
			qids = qids[k:]
		}
	}
	reset := func() {
		t.Helper()
		if _, err := st.DB().ExecContext(ctx, "UPDATE detections SET vuln_score = 'none', priority = '', priority_reason = '', due_date = '', urgency = -1"); err != nil {
			t.Fatal(err)
		}
	}
	var all, some []int
	for q := 1; q <= n; q++ {
		all = append(all, q)
		if q%2 == 1 {
			some = append(some, q)
		}
	}
	reset()
	rerate(all, rerateScan, 1_700_000_100) // batches small enough to seek
	seek := read()
	reset()
	rerate(all, n, 1_700_000_200) // one batch: the scan
	scan := read()
	if len(scan) != 3*(n-1) {
		t.Fatalf("%d findings, want %d", len(scan), 3*(n-1))
	}
	if !maps.Equal(scan, seek) {
		for k, d := range scan {
			if seek[k] != d {
				t.Errorf("finding %v: scan gave %+v, seek %+v", k, d, seek[k])
				break
			}
		}
	}
	// The results read every input: not all alike.
	prios, urgencies := map[string]bool{}, map[int64]bool{}
	for _, d := range scan {
		prios[d.prio], urgencies[d.urgency] = true, true
	}
	if len(prios) != 3 || len(urgencies) < n {
		t.Errorf("priorities %v and %d urgencies: the inputs did not reach the rating", prios, len(urgencies))
	}
	if a, b := scan[[3]int64{1, 5, 0}], scan[[3]int64{2, 5, 0}]; a.prio != "P1" || a.due != "2025-03-01" || a.urgency == b.urgency {
		t.Errorf("QID 5 on hosts 1 and 2 (policies 0 and 1): %+v and %+v", a, b)
	}
	// A scan of half the QIDs leaves the other half's findings alone.
	reset()
	rerate(some, n, 1_700_000_300)
	for k, d := range read() {
		if queuedQID := k[1]%2 == 1; queuedQID != (d.urgency != -1) || queuedQID && d != seek[k] {
			t.Errorf("finding %v after rerating the odd QIDs: %+v", k, d)
			break
		}
	}
}
