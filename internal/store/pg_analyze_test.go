package store

import (
	"context"
	"strings"
	"testing"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// Right after a first import, before autovacuum has come round, the
// planner must know the detections table's size: the dashboard's list
// sorted by host then walks the primary key for its page instead of
// reading and sorting every open finding.
func TestPostgresStatisticsFollowLargeWrites(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, storetest.Postgres(t))
	write := func(from, to int64) {
		t.Helper()
		var hs []HostRecord
		for id := from; id < to; id++ {
			var ds []qualys.Detection
			for q := range 20 {
				ds = append(ds, qualys.Detection{QID: 38000 + q, Type: "Confirmed", Severity: 3, Status: "Active",
					FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1})
			}
			hs = append(hs, HostRecord{Host: &qualys.Host{ID: id, IP: "10.0.0.1", Detections: ds}})
		}
		if err := st.Write(ctx, func(tx *Tx) error { return tx.PutHosts(hs, 1_700_000_000) }); err != nil {
			t.Fatal(err)
		}
	}
	known := func() float64 {
		t.Helper()
		var n float64
		err := st.pg.QueryRow(ctx, `SELECT reltuples FROM pg_class
WHERE relnamespace = current_schema()::regnamespace AND relname = 'detections'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	write(1, 11) // 200 detections: too few to analyze for
	if n := known(); n > 0 {
		t.Fatalf("200 detections written: the statistics say %v rows, want none gathered yet", n)
	}
	write(11, 1011) // 20,000 more
	if n := known(); n < 15000 {
		t.Fatalf("after 20,200 detections the statistics say %v rows", n)
	}
	// And vacuumed: the dashboard's index-only scans read the table for
	// every entry on a page vacuum has not marked all-visible. (Whether it
	// could mark them depends on the other sessions' snapshots: the
	// tests of other packages share this database.)
	var vacuums int
	if err := st.pg.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname = 'detections'`).Scan(&vacuums); err != nil {
		t.Fatal(err)
	}
	if vacuums == 0 {
		t.Error("after 20,200 detections the table was analyzed but not vacuumed")
	}
	write(1011, 1111) // 2,000 more: a tenth, left to autovacuum
	if n := known(); n > 20200 {
		t.Errorf("a write of a tenth of the table analyzed it again (%v rows known)", n)
	}
	var plan strings.Builder
	rows, err := st.pg.Query(ctx, `EXPLAIN SELECT vuln_score, breach_date, host_id, qid, port FROM detections
WHERE type <> 'Info' AND closed = '' ORDER BY host_id, qid, port LIMIT 101`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan.WriteString(line + "\n")
	}
	rows.Close()
	if !strings.Contains(plan.String(), "detections_pkey") || strings.Contains(plan.String(), "Sort") {
		t.Errorf("the list sorted by host is not a walk of the primary key:\n%s", plan.String())
	}
}
