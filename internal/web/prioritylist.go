package web

import (
	"context"
	"database/sql"
	"slices"
	"strings"
)

// The priority order (docs/priority.md, "most urgent first"): priority,
// then urgency highest first (priority.Urgency packs KEV, EPSS and the
// environmental score), then due date with "" last, then the key.
// detections_priority (migration 00009) holds the findings in that order
// but for the due dates: within one priority and urgency, "" (no due
// date) sorts first in the index and last in the list. So the walk reads,
// per priority (a phase, like a rating's):
//
//   - the rest of the cursor's own urgency, as two ranges of the index
//     read in their order: the dated findings after the cursor, then the
//     undated ones;
//   - then the lower urgencies in one query, ordered by urgency from the
//     index and the due dates and key within each urgency sorted by the
//     engine, which stops at the first urgency that fills the page
//     (SQLite's partial sort, PostgreSQL's incremental sort).
//
// Going backwards (the previous page, or dir=desc) reads the same ranges
// in reverse.

// walkPriority reads up to n rows in the priority order (descending when
// desc), strictly after from when it is not nil.
func (s *Server) walkPriority(ctx context.Context, tx *sql.Tx, f *filter, desc bool, from *Cursor, n int) ([]Cursor, error) {
	prios := slices.Clone(priorityOrder)
	if desc {
		slices.Reverse(prios)
	}
	start := 0
	if from != nil {
		start = slices.Index(prios, from.Priority)
		if start < 0 {
			return nil, nil
		}
	}
	var out []Cursor
	for i := start; i < len(prios) && len(out) < n; i++ {
		p := prios[i]
		if f.prios != nil && !slices.Contains(f.prios, p) {
			continue // not chosen: its range holds no match
		}
		if f.pmasked && f.pmask&(1<<priorityRank(p)) == 0 {
			continue // none of the QIDs has a finding of this priority
		}
		var after *Cursor
		if i == start {
			after = from
		}
		got, err := s.priorityPhase(ctx, tx, f, p, desc, after, n-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// priorityPhase reads up to n rows of one priority in the priority order,
// after from (which has that priority) when it is not nil.
func (s *Server) priorityPhase(ctx context.Context, tx *sql.Tx, f *filter, prio string, desc bool, from *Cursor, n int) ([]Cursor, error) {
	var out []Cursor
	if from != nil {
		// The rest of the cursor's urgency: dated findings by due date,
		// then undated ones (backwards: undated, then dated).
		dated := stream{index: "detections_priority", prio: true, fixed: "priority = ? AND urgency = ? AND due_date <> ''",
			args: []any{prio, from.Urgency}, order: []string{"due_date", "host_id", "qid", "port"}}
		undated := stream{index: "detections_priority", prio: true, fixed: "priority = ? AND urgency = ? AND due_date = ''",
			args: []any{prio, from.Urgency}, order: []string{"host_id", "qid", "port"}}
		streams := []stream{dated, undated}
		if desc {
			streams = []stream{undated, dated}
		}
		// The cursor's own range is read after it; the next one whole.
		own := slices.IndexFunc(streams, func(st stream) bool {
			return strings.HasSuffix(st.fixed, "due_date = ''") == (from.Due == "")
		})
		for j := own; j < len(streams) && len(out) < n; j++ {
			var after *Cursor
			if j == own {
				after = from
			}
			keys, err := s.readStream(ctx, tx, f, streams[j], false, desc, after, n-len(out))
			if err != nil {
				return nil, err
			}
			out = append(out, keys...)
		}
		if len(out) >= n {
			return out, nil
		}
	}
	// The other urgencies, past the cursor's.
	var sb strings.Builder
	sb.WriteString("SELECT " + keyCols(true) + " FROM detections" + f.d.indexed("detections_priority") +
		" WHERE type <> 'Info' AND priority = ?")
	args := []any{prio}
	if from != nil {
		if desc {
			sb.WriteString(" AND urgency > ?")
		} else {
			sb.WriteString(" AND urgency < ?")
		}
		args = append(args, from.Urgency)
	}
	where, wargs := f.sqlIn(false, true, "", true)
	sb.WriteString(where)
	args = append(args, wargs...)
	order := []string{"urgency DESC", f.d.undatedDue(), "due_date", "host_id", "qid", "port"}
	if desc {
		order = []string{"urgency", f.d.undatedDue() + " DESC", "due_date DESC", "host_id DESC", "qid DESC", "port DESC"}
	}
	sb.WriteString(" ORDER BY " + strings.Join(order, ", ") + " LIMIT ?")
	args = append(args, n-len(out)+f.extra())
	keys, err := readKeys(ctx, tx, sb.String(), args, true)
	if err != nil {
		return nil, err
	}
	return append(out, f.drop(keys, n-len(out))...), nil
}
