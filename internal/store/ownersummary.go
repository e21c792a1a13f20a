package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// OwnerStats is what the owners page and `qvt owners` show of one owner.
type OwnerStats struct {
	Owner         string         // "" for the findings no rule owns
	Hosts         int            // hosts with a finding of the owner
	Total         int            // findings, open and closed
	Open          int            // open findings, excepted ones included
	ByPriority    map[string]int // open findings by priority ("" before priorities exist)
	ByRating      map[string]int // open findings by rating
	Overdue       int            // open, not excepted, past their deadline (breach_date)
	PastDue       int            // open, not excepted, past their due date (due_date)
	DueSoon       int            // open, not excepted, deadline within 7 days
	Excepted      int            // open and covered by an active exception today
	Fixed         int            // closed as fixed with a fix time
	FixedInTime   int            // of those, fixed on or before their deadline
	MeanDaysToFix float64        // from first found to fixed, over Fixed; 0 when none
}

// FixedInTimeShare is the share of fixed findings fixed by their deadline,
// and false when none is fixed.
func (o OwnerStats) FixedInTimeShare() (float64, bool) {
	if o.Fixed == 0 {
		return 0, false
	}
	return float64(o.FixedInTime) / float64(o.Fixed), true
}

// OwnerSummary counts each owner's findings as of today (YYYY-MM-DD),
// owners in name order with the unowned ("") last. Excepted findings
// count as open but never as overdue.
func (s *Store) OwnerSummary(ctx context.Context, today string) ([]OwnerStats, error) {
	byOwner := map[string]*OwnerStats{}
	get := func(o string) *OwnerStats {
		st := byOwner[o]
		if st == nil {
			st = &OwnerStats{Owner: o, ByPriority: map[string]int{}, ByRating: map[string]int{}}
			byOwner[o] = st
		}
		return st
	}
	err := s.Snapshot(ctx, func(q *Snap) error {
		// The day a finding was fixed, as a date to compare with its
		// deadline: the engines spell it differently.
		fixedDay := "date(last_fixed, 'unixepoch')"
		if q.Engine() == "postgres" {
			fixedDay = "to_char(to_timestamp(last_fixed) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
		}
		const excepted = "(exception_id <> 0 AND excepted_until >= ?)"
		err := q.Each(`SELECT owner, priority, vuln_score, closed, count(*),
  sum(CASE WHEN closed = '' AND NOT `+excepted+` AND breach_date <> '' AND breach_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND NOT `+excepted+` AND due_date <> '' AND due_date < ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND NOT `+excepted+` AND breach_date >= ? AND breach_date <= ? THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = '' AND `+excepted+` THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = 'fixed' AND last_fixed > 0 AND first_found > 0 THEN 1 ELSE 0 END),
  sum(CASE WHEN closed = 'fixed' AND last_fixed > 0 AND first_found > 0 AND (breach_date = '' OR `+fixedDay+` <= breach_date) THEN 1 ELSE 0 END),
  CAST(sum(CASE WHEN closed = 'fixed' AND last_fixed > 0 AND first_found > 0 THEN last_fixed - first_found ELSE 0 END) AS DOUBLE PRECISION)
FROM detections WHERE type <> 'Info' GROUP BY owner, priority, vuln_score, closed`,
			[]any{today, today, today, today, today, today, soonAfter(today), today},
			func(c Cols) error {
				st := get(c.ColumnText(0))
				n := c.ColumnInt(4)
				st.Total += n
				if c.ColumnText(3) == "" {
					st.Open += n
					st.ByPriority[c.ColumnText(1)] += n
					st.ByRating[c.ColumnText(2)] += n
				}
				st.Overdue += c.ColumnInt(5)
				st.PastDue += c.ColumnInt(6)
				st.DueSoon += c.ColumnInt(7)
				st.Excepted += c.ColumnInt(8)
				fixed := c.ColumnInt(9)
				if fixed > 0 {
					// A running mean over the groups, weighted by their counts.
					secs := c.ColumnFloat(11)
					total := st.MeanDaysToFix*float64(st.Fixed) + secs/86400
					st.Fixed += fixed
					st.MeanDaysToFix = total / float64(st.Fixed)
				}
				st.FixedInTime += c.ColumnInt(10)
				return nil
			})
		if err != nil {
			return err
		}
		return q.Each(`SELECT owner, count(DISTINCT host_id) FROM detections WHERE type <> 'Info' GROUP BY owner`, nil, func(c Cols) error {
			get(c.ColumnText(0)).Hosts = c.ColumnInt(1)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: owners: %w", err)
	}
	out := make([]OwnerStats, 0, len(byOwner))
	for _, st := range byOwner {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b OwnerStats) int {
		if (a.Owner == "") != (b.Owner == "") {
			if a.Owner == "" {
				return 1
			}
			return -1
		}
		if a.Owner < b.Owner {
			return -1
		}
		if a.Owner > b.Owner {
			return 1
		}
		return 0
	})
	return out, nil
}

// soonAfter is the last day of "due soon" from today: a week on.
func soonAfter(today string) string {
	t, err := parseDay(today)
	if err != nil {
		return today
	}
	return t.AddDate(0, 0, 7).Format("2006-01-02")
}

func parseDay(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }
