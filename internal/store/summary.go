package store

import (
	"context"
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
func (s *Store) Summarize(ctx context.Context, today time.Time) (Summary, error) {
	day := today.UTC().Format("2006-01-02")
	soon := today.UTC().AddDate(0, 0, 7).Format("2006-01-02")
	// Counts of conditions as sums of CASE: PostgreSQL has no sum of a
	// boolean.
	// An excepted finding (the readers' test: its exception covers
	// today) is neither overdue nor due: it is counted apart.
	rows, err := s.db.QueryContext(ctx, `SELECT status, vuln_score, closed, priority, count(*),
  sum(CASE WHEN closed = '' AND NOT x AND breach_date <> '' AND breach_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND NOT x AND breach_date >= ? AND breach_date <= ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND NOT x AND due_date <> '' AND due_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND kev = 1 THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND NOT x AND kev = 1 AND due_date <> '' AND due_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND x THEN 1 ELSE 0 END)
FROM (SELECT d.status, d.vuln_score, d.closed, d.priority, d.breach_date, d.due_date, k.kev,
    (d.exception_id <> 0 AND d.excepted_until >= ?) AS x
  FROM detections d LEFT JOIN qid_risk k ON k.qid = d.qid WHERE d.type <> 'Info') AS f
GROUP BY status, vuln_score, closed, priority`, day, day, soon, day, day, day)
	if err != nil {
		return Summary{}, fmt.Errorf("store: summary: %w", err)
	}
	defer rows.Close()
	sum := Summary{ByStatus: map[string]int{}, ByState: map[string]int{}, ByRating: map[string]int{}, ByClosed: map[string]int{},
		ByPriority: map[string]int{}}
	for rows.Next() {
		var status, rating, closed, prio string
		var n, overdue, due, pastDue, kev, kevPastDue, excepted int
		if err := rows.Scan(&status, &rating, &closed, &prio, &n, &overdue, &due, &pastDue, &kev, &kevPastDue, &excepted); err != nil {
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
			sum.Excepted += excepted
		}
	}
	return sum, rows.Err()
}
