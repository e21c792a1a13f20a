package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"qvt/internal/finding"
)

// Summary counts findings.
type Summary struct {
	Total    int
	ByStatus map[string]int // every finding by Qualys status
	ByState  map[string]int // every finding by state (finding.States): these add up to Total
	ByRating map[string]int // open findings by vuln_score
	Open     int            // not closed: not Fixed, gone, ignored or disabled
	ByClosed map[string]int // closed findings by reason: fixed, gone, ignored, disabled (with Open, they add up to Total)
	Overdue  int            // open past their deadline (breach_date)
	DueSoon  int            // open, deadline within the next 7 days
	// Open findings an active exception covers: they count in neither
	// Overdue nor DueSoon (nor PastDue) while it lasts.
	Excepted int
	// Priorities (docs/priority.md): open findings by priority, those past
	// their due_date, and the open findings whose QID is in CISA's KEV
	// catalog, with those of them past their due date.
	ByPriority      map[string]int
	PastDue         int
	KEV, KEVPastDue int
}

// Summarize counts the findings as of the given day.
//
// It reads two sets. Every finding is counted from the columns that
// detections_priority holds, grouped with priority first, so that SQLite
// scans that covering index rather than the table: at ten million
// findings, the table's rows are gigabytes read at random through a
// narrower index (a minute and more after every import), the index's
// entries a few hundred megabytes read in order. The few findings an
// active exception covers (detections_exception) are then read again and
// taken out of the overdue and due counts.
func (s *Store) Summarize(ctx context.Context, today time.Time) (Summary, error) {
	day := today.UTC().Format("2006-01-02")
	soon := today.UTC().AddDate(0, 0, 7).Format("2006-01-02")
	sum := Summary{ByStatus: map[string]int{}, ByState: map[string]int{}, ByRating: map[string]int{}, ByClosed: map[string]int{},
		ByPriority: map[string]int{}}
	// Counts of conditions as sums of CASE: PostgreSQL has no sum of a
	// boolean.
	rows, err := s.db.QueryContext(ctx, `SELECT priority, status, vuln_score, closed, count(*),
  sum(CASE WHEN closed = '' AND breach_date <> '' AND breach_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND breach_date >= ? AND breach_date <= ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND due_date <> '' AND due_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND kev = 1 THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND kev = 1 AND due_date <> '' AND due_date < ? THEN 1 ELSE 0 END)
FROM (SELECT d.priority, d.status, d.vuln_score, d.closed, d.breach_date, d.due_date, k.kev
  FROM detections d LEFT JOIN qid_risk k ON k.qid = d.qid WHERE d.type <> 'Info') AS f
GROUP BY priority, status, vuln_score, closed`, day, day, soon, day, day)
	if err != nil {
		return Summary{}, fmt.Errorf("store: summary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status, rating, closed, prio string
		var n, overdue, due, pastDue, kev, kevPastDue int
		if err := rows.Scan(&prio, &status, &rating, &closed, &n, &overdue, &due, &pastDue, &kev, &kevPastDue); err != nil {
			return Summary{}, fmt.Errorf("store: summary: %w", err)
		}
		sum.Total += n
		sum.ByStatus[status] += n
		sum.ByState[finding.State(status, closed)] += n
		if closed != "" {
			sum.ByClosed[closed] += n
		} else {
			sum.Open += n
			sum.ByRating[rating] += n
			sum.Overdue += overdue
			sum.DueSoon += due
			sum.ByPriority[prio] += n
			sum.PastDue += pastDue
			sum.KEV += kev
			sum.KEVPastDue += kevPastDue
		}
	}
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("store: summary: %w", err)
	}
	rows.Close()
	// An excepted finding (the readers' test: its exception covers today)
	// is neither overdue nor due: it is counted apart.
	var excepted, overdue, due, pastDue, kevPastDue sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT count(*),
  sum(CASE WHEN breach_date <> '' AND breach_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN breach_date >= ? AND breach_date <= ? THEN 1 ELSE 0 END),
  sum(CASE WHEN due_date <> '' AND due_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN kev = 1 AND due_date <> '' AND due_date < ? THEN 1 ELSE 0 END)
FROM (SELECT d.breach_date, d.due_date, k.kev
  FROM detections d LEFT JOIN qid_risk k ON k.qid = d.qid
  WHERE d.exception_id <> 0 AND d.excepted_until >= ? AND d.type <> 'Info' AND d.closed = '') AS f`,
		day, day, soon, day, day, day).Scan(&excepted, &overdue, &due, &pastDue, &kevPastDue)
	if err != nil {
		return Summary{}, fmt.Errorf("store: summary: %w", err)
	}
	sum.Excepted = int(excepted.Int64)
	sum.Overdue -= int(overdue.Int64)
	sum.DueSoon -= int(due.Int64)
	sum.PastDue -= int(pastDue.Int64)
	sum.KEVPastDue -= int(kevPastDue.Int64)
	return sum, nil
}
