package web

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"qvt/internal/priority"
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

// gatherQIDsByPriority reads up to n rows of a QID set in the priority
// order (descending when desc), after from when it is not nil. The set
// is read from detections_qid alone (migration 00014), which holds
// everything the order and the filters read but the urgency: a day's
// EPSS file moves that for most findings, and an index that held it
// would be rewritten by every rerating. A finding's urgency is a function
// of its QID's risk (KEV, EPSS) and of its QID's environmental score under
// its host's environment policy (load.Derive), the same for every finding
// of one QID and policy: they are read once per request, a few rows per
// QID, and the set is sorted here. setUrgencies documents the rule.
func gatherQIDsByPriority(ctx context.Context, tx *sql.Tx, f *filter, desc bool, from *Cursor, n int) ([]Cursor, error) {
	q, args := qidSetSQL(f)
	var keys []Cursor
	err := eachRow(ctx, tx, q, args, func(r *sql.Rows) error {
		var c Cursor
		if err := r.Scan(&c.Rating, &c.Deadline, &c.HostID, &c.QID, &c.Port, &c.Priority, &c.Due); err != nil {
			return err
		}
		keys = append(keys, c)
		return nil
	})
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	urgency, err := setUrgencies(ctx, tx, f.d, keys)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		keys[i].Urgency = urgency(keys[i])
	}
	slices.SortFunc(keys, comparePriority)
	if desc {
		slices.Reverse(keys)
	}
	if from != nil {
		// Past the cursor: the first key after it in the list's direction.
		i, found := slices.BinarySearchFunc(keys, *from, func(k, c Cursor) int {
			if desc {
				return comparePriority(c, k)
			}
			return comparePriority(k, c)
		})
		if found {
			i++
		}
		keys = keys[i:]
	}
	return f.drop(keys[:min(len(keys), n+f.extra())], n), nil
}

// qidSetSQL reads the findings of a QID set with their places in the
// priority order but the urgency.
func qidSetSQL(f *filter) (string, []any) {
	where, args := f.sql(false, true)
	return "SELECT vuln_score, breach_date, host_id, qid, port, priority, due_date FROM detections" +
		f.d.indexed("detections_qid") + " WHERE type <> 'Info'" + where, args
}

// comparePriority orders two keys as the priority order does (sortExprs:
// priority, urgency highest first, due date with none last, the key).
func comparePriority(a, b Cursor) int {
	if c := cmp.Compare(priorityRank(a.Priority), priorityRank(b.Priority)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Urgency, a.Urgency); c != 0 {
		return c
	}
	if c := cmp.Compare(b2i(a.Due == ""), b2i(b.Due == "")); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.HostID, b.HostID), cmp.Compare(a.QID, b.QID), cmp.Compare(a.Port, b.Port))
}

// setUrgencies returns the urgency of each finding of keys as the store
// holds it: priority.Urgency of its QID's KEV flag and EPSS (qid_risk)
// and of its QID's environmental score under its host's environment
// policy (qid_scores; the score of no policy when the QID has none for
// it), as load.Derive computes it; 0 for a finding the priority rules
// have not run on. TestListUrgencyMatchesStore holds it to the store's.
func setUrgencies(ctx context.Context, tx *sql.Tx, d dialect, keys []Cursor) (func(Cursor) int64, error) {
	var qids []int
	for _, k := range keys {
		qids = append(qids, k.QID)
	}
	slices.Sort(qids)
	qids = slices.Compact(qids)
	// Hosts with an environment policy: none in most stores
	// (hosts_policy holds only those).
	policies := map[int64]int{}
	err := eachRow(ctx, tx, "SELECT id, policy FROM hosts WHERE policy <> 0", nil, func(r *sql.Rows) error {
		var id int64
		var p int
		if err := r.Scan(&id, &p); err != nil {
			return err
		}
		policies[id] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The QIDs' environmental scores by policy: a key is there when the
	// QID has a score under the policy, nil when it has no vector.
	type qidPolicy struct{ qid, policy int }
	env := map[qidPolicy]*float64{}
	err = eachRow(ctx, tx, "SELECT qid, policy, env_score FROM qid_scores WHERE "+d.inInts("qid"), []any{ints(d, qids)}, func(r *sql.Rows) error {
		var k qidPolicy
		var e sql.NullFloat64
		if err := r.Scan(&k.qid, &k.policy, &e); err != nil {
			return err
		}
		env[k] = nil
		if e.Valid {
			env[k] = &e.Float64
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	type risk struct {
		kev  bool
		epss *float64
	}
	risks := map[int]risk{}
	err = eachRow(ctx, tx, "SELECT qid, kev, epss FROM qid_risk WHERE "+d.inInts("qid"), []any{ints(d, qids)}, func(r *sql.Rows) error {
		var qid, kev int
		var epss sql.NullFloat64
		if err := r.Scan(&qid, &kev, &epss); err != nil {
			return err
		}
		rk := risk{kev: kev != 0}
		if epss.Valid {
			rk.epss = &epss.Float64
		}
		risks[qid] = rk
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(k Cursor) int64 {
		if k.Priority == "" {
			return 0
		}
		key := qidPolicy{k.QID, policies[k.HostID]}
		if _, ok := env[key]; !ok {
			key.policy = 0
		}
		r := risks[k.QID]
		return priority.Urgency(r.kev, r.epss, env[key])
	}, nil
}

// eachRow runs a query and fn on each of its rows.
func eachRow(ctx context.Context, tx *sql.Tx, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("findings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("findings: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("findings: %w", err)
	}
	return nil
}
