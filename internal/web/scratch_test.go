package web

import (
	"context"
	"os"
	"testing"
	"time"

	"qvt/internal/store"
)

func TestScratch(t *testing.T) {
	p := os.Getenv("SCRATCH_DB")
	if p == "" {
		t.Skip()
	}
	ctx := context.Background()
	st, err := store.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.DB()
	q := func(name, sql string, args ...any) {
		for i := 0; i < 2; i++ {
			start := time.Now()
			rows, err := db.QueryContext(ctx, sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				rows.Scan(ptrs...)
				n++
			}
			rows.Close()
			t.Logf("%s: %d rows in %v", name, n, time.Since(start))
		}
	}
	since := time.Now().Add(-30 * 24 * time.Hour).Unix()
	q("agg-by-rating", `SELECT vuln_score, count(*), sum(closed=''), sum(closed='' AND status='New'), sum(closed='' AND status='Active'), sum(closed='' AND status='Re-Opened'),
 sum(status='Fixed'), sum(closed='' AND breach_date <> '' AND breach_date < '2026-11-26'), sum(closed='' AND breach_date >= '2026-11-26' AND breach_date <= '2026-12-03'), sum(first_seen >= 1764100000),
 sum(closed='fixed'), sum(closed='fixed' AND last_fixed < unixepoch(breach_date) + 86400), sum(CASE WHEN closed='fixed' AND last_fixed > first_found THEN last_fixed - first_found END)
FROM detections INDEXED BY detections_rating WHERE type <> 'Info' GROUP BY vuln_score`)
	q("appear", `SELECT first_seen / 86400, vuln_score, count(*) FROM detections INDEXED BY detections_rating WHERE type <> 'Info' AND first_seen >= ? AND closed = '' GROUP BY 1, 2`, since)
	q("hist-closed", `SELECT h.at / 86400, d.vuln_score, sum(h.new = ''), sum(h.old = ''), d.first_seen / 86400 FROM history h JOIN detections d ON d.host_id = h.host_id AND d.qid = h.qid AND d.port = h.port
 WHERE h.at >= ? AND h.event = 'closed' GROUP BY 1, 2, 5`, since)
	q("hist-count", `SELECT h.at / 86400, sum(event='closed') FROM history h WHERE h.at >= ? GROUP BY 1`, since)
	q("tophost-open", `SELECT host_id, count(*) FROM detections INDEXED BY detections_rating WHERE type <> 'Info' AND closed = '' AND vuln_score IN ('Critical','High') GROUP BY host_id ORDER BY 2 DESC LIMIT 10`)
	q("topqid-open", `SELECT qid, vuln_score, count(*) FROM detections INDEXED BY detections_qid WHERE type <> 'Info' AND closed = '' GROUP BY qid, vuln_score ORDER BY 3 DESC LIMIT 10`)
	q("step-open", `SELECT host_id, qid, vuln_score FROM detections INDEXED BY detections_rating WHERE type <> 'Info' AND closed = ''`)
}
