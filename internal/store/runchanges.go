package store

import (
	"context"
	"fmt"
	"time"

	"qvt/internal/runs"
)

// RunChanges counts what changed in the findings in [since, until): the
// summary a notification tells after a run.
func (s *Store) RunChanges(ctx context.Context, since, until time.Time) (runs.Changes, error) {
	by, err := s.RunChangesByOwner(ctx, since, until)
	if err != nil {
		return runs.Changes{}, err
	}
	var all runs.Changes
	for _, c := range by {
		all = all.Add(c)
	}
	return all, nil
}

// RunChangesByOwner counts what changed in [since, until) by the owner of
// the findings ("" for those no owner rule names):
//   - New: findings first seen in the window (not Info), by priority where
//     the finding has one, else by rating;
//   - NewKEV: of those, the ones whose QID is in CISA's KEV catalog;
//   - Fixed, Reopened: the status changes history recorded in the window;
//   - NewlyOverdue: open findings no active exception covers whose due
//     date (the priority's, else the rating's deadline) passed in the
//     window: past due on until's day and not yet on since's, as
//     Summarize counts a finding overdue the day after its last day.
func (s *Store) RunChangesByOwner(ctx context.Context, since, until time.Time) (map[string]runs.Changes, error) {
	out := map[string]runs.Changes{}
	get := func(owner string) runs.Changes { return out[owner] }
	from, to := since.Unix(), until.Unix()
	rows, err := s.db.QueryContext(ctx, `SELECT d.owner, d.priority, d.vuln_score, count(*),
  sum(CASE WHEN k.kev = 1 THEN 1 ELSE 0 END)
FROM detections d LEFT JOIN qid_risk k ON k.qid = d.qid
WHERE (d.host_id, d.qid, d.port) IN (`+newFindings+`)
GROUP BY d.owner, d.priority, d.vuln_score`, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: run changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner, prio, rating string
		var n, kev int
		if err := rows.Scan(&owner, &prio, &rating, &n, &kev); err != nil {
			return nil, fmt.Errorf("store: run changes: %w", err)
		}
		key := prio
		if key == "" {
			key = rating
		}
		if key == "" {
			key = "None"
		}
		c := get(owner)
		if c.New == nil {
			c.New = map[string]int{}
		}
		c.New[key] += n
		c.NewKEV += kev
		out[owner] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: run changes: %w", err)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx, `SELECT d.owner,
  count(*) FILTER (WHERE h.event = 'status' AND h.new = 'Fixed'),
  count(*) FILTER (WHERE h.event = 'status' AND h.new = 'Re-Opened')
FROM history h JOIN detections d ON d.host_id = h.host_id AND d.qid = h.qid AND d.port = h.port
WHERE h.at >= ? AND h.at < ? AND d.type <> 'Info'
GROUP BY d.owner`, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: run changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var fixed, reopened int
		if err := rows.Scan(&owner, &fixed, &reopened); err != nil {
			return nil, fmt.Errorf("store: run changes: %w", err)
		}
		if fixed+reopened == 0 {
			continue
		}
		c := get(owner)
		c.Fixed += fixed
		c.Reopened += reopened
		out[owner] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: run changes: %w", err)
	}
	rows.Close()

	sinceDay, untilDay := since.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly)
	rows, err = s.db.QueryContext(ctx, `SELECT owner, count(*) FROM detections
WHERE (host_id, qid, port) IN (`+newlyDue+`) AND NOT (exception_id <> 0 AND excepted_until >= ?)
GROUP BY owner`, sinceDay, untilDay, untilDay)
	if err != nil {
		return nil, fmt.Errorf("store: run changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var n int
		if err := rows.Scan(&owner, &n); err != nil {
			return nil, fmt.Errorf("store: run changes: %w", err)
		}
		c := get(owner)
		c.NewlyOverdue += n
		out[owner] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: run changes: %w", err)
	}
	return out, nil
}

// newFindings and newlyDue select the keys of a run's new findings (first
// seen in [?, ?)) and of the open findings whose due date, the priority's
// else the rating's deadline, falls in [?, ?), from the columns that
// detections_priority holds: a scan of that index reads a fraction of
// what a scan of the table would (at ten million findings, seconds
// against most of a minute, at every run), and only the few keys it finds
// are looked up in the table for their owner and exception.
const (
	newFindings = `SELECT host_id, qid, port FROM detections
  WHERE first_seen >= ? AND first_seen < ? AND type <> 'Info'`
	newlyDue = `SELECT host_id, qid, port FROM detections
  WHERE closed = '' AND type <> 'Info'
  AND CASE WHEN due_date <> '' THEN due_date ELSE breach_date END >= ?
  AND CASE WHEN due_date <> '' THEN due_date ELSE breach_date END < ?`
)
