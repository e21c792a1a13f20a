package web

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

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
// in reverse. Filtered by rating or status, the lower urgencies are read
// only within the span where the overview saw such findings
// (urgencyRange): Low findings sit at low urgencies, below most of their
// priority's entries.

// walkPriority reads up to n rows in the priority order (descending when
// desc), strictly after from when it is not nil.
func (s *Server) walkPriority(ctx context.Context, tx *sql.Tx, f *filter, desc bool, from *Cursor, n int) ([]Cursor, error) {
	if f.qids != nil {
		out, ok, err := s.walkQIDsByPriority(ctx, tx, f, desc, from, n)
		if ok || err != nil {
			return out, err
		}
	}
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
		if f.spans != nil && f.spans[priorityRank(p)].empty() {
			continue // no finding of this priority is in the filter's ranges
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

// qidWalkMax is the most QIDs a set may have for walkQIDsByPriority
// (gatherLimits.qidWalk); qidWalkBlind the most when no overview says
// which priorities each QID's findings have, so that each (QID,
// priority) range is probed. A set of more QIDs is a large share of the
// findings (a common title word), whose walk of detections_priority
// fills a page soon.
const qidWalkMax, qidWalkBlind = 256, 16

// walkQIDsByPriority reads up to n rows of a QID set in the priority order
// from detections_qid. The walk of detections_priority would pass, for a
// common QID of low urgency, every finding of its priority with a higher
// one: on ten million findings the first page of a QID of 95,000
// findings, all P4, took 2.2 s.
//
// A QID's findings have one urgency, or one for each environment policy
// that scores the QID differently (setUrgencies). Within a priority the
// set is then a few groups of findings of one urgency, highest first: a
// group is the QIDs of that urgency, each with the hosts whose policy
// gives it (qidUnit), and its findings are read from the QIDs' (QID,
// priority) ranges of detections_qid, which hold them by due date and
// key, the hosts of other policies left out here. ok is false when the
// set has too many QIDs for this walk.
func (s *Server) walkQIDsByPriority(ctx context.Context, tx *sql.Tx, f *filter, desc bool, from *Cursor, n int) (out []Cursor, ok bool, err error) {
	if len(f.qids) > s.gatherMax.qidWalk {
		return nil, false, nil
	}
	o, err := s.current(ctx, tx)
	if err != nil || o == nil && len(f.qids) > min(qidWalkBlind, s.gatherMax.qidWalk) {
		return nil, false, err
	}
	qids := slices.Clone(f.qids)
	slices.Sort(qids)
	qids = slices.Compact(qids)
	u, err := s.readUrgencies(ctx, tx, qids)
	if err != nil {
		return nil, false, err
	}
	units := map[int64][]qidUnit{} // of prioritized findings, by urgency
	for _, q := range qids {
		for ug, pols := range u.classes(q) {
			units[ug] = append(units[ug], qidUnit{q, pols})
		}
	}
	f.byQID = true
	prios := slices.Clone(priorityOrder)
	if desc {
		slices.Reverse(prios)
	}
	start := 0
	if from != nil {
		if start = slices.Index(prios, from.Priority); start < 0 {
			return nil, true, nil
		}
	}
	for i := start; i < len(prios) && len(out) < n; i++ {
		p := prios[i]
		if f.prios != nil && !slices.Contains(f.prios, p) {
			continue
		}
		has := func(q int) bool { return o == nil || o.qids[int32(q)].prios&(1<<priorityRank(p)) != 0 }
		// The groups of this priority: findings without a priority have
		// urgency 0 whatever their host.
		groups := map[int64][]qidUnit{}
		if p == "" {
			for _, q := range qids {
				if has(q) {
					groups[0] = append(groups[0], qidUnit{qid: q})
				}
			}
		} else {
			for ug, us := range units {
				for _, un := range us {
					if has(un.qid) {
						groups[ug] = append(groups[ug], un)
					}
				}
			}
		}
		order := slices.Sorted(maps.Keys(groups))
		if !desc {
			slices.Reverse(order) // highest first
		}
		for _, ug := range order {
			own := i == start && from != nil
			if own && (!desc && ug > from.Urgency || desc && ug < from.Urgency) {
				continue // before the cursor
			}
			own = own && ug == from.Urgency
			// Dated findings by due date, then undated ones; backwards
			// the other way round.
			parts := []bool{true, false}
			if desc {
				parts = []bool{false, true}
			}
			for j, dated := range parts {
				if len(out) >= n {
					return out, true, nil
				}
				var after *Cursor
				if own {
					switch mine := slices.Index(parts, from.Due != ""); {
					case j < mine:
						continue
					case j == mine:
						after = from
					}
				}
				keys, err := readGroup(ctx, tx, f, groups[ug], u.policies, p, dated, desc, after, n-len(out))
				if err != nil {
					return nil, true, err
				}
				for k := range keys {
					keys[k].Urgency = ug
				}
				out = append(out, keys...)
			}
		}
	}
	return out, true, nil
}

// qidUnit is the findings of one QID of one urgency: on the hosts whose
// environment policy is one of policies (0: none), or on every host when
// policies is nil.
type qidUnit struct {
	qid      int
	policies map[int]bool
}

// readGroup reads up to n findings of the units of one urgency with
// priority prio, dated or not, in the order of their due date and key
// (descending when desc), after from when it is not nil. It reads their
// QIDs' ranges a page at a time, twice as much each time, and leaves out
// the findings of hosts whose policy gives them another urgency.
func readGroup(ctx context.Context, tx *sql.Tx, f *filter, units []qidUnit, policies map[int64]int, prio string, dated, desc bool, after *Cursor, n int) ([]Cursor, error) {
	byQID := map[int]qidUnit{}
	var qids []int
	for _, un := range units {
		byQID[un.qid] = un
		qids = append(qids, un.qid)
	}
	slices.Sort(qids)
	var out []Cursor
	for size := n + f.extra(); ; size *= 2 {
		keys, err := readQIDRange(ctx, tx, f, qids, prio, dated, desc, after, size)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if un := byQID[k.QID]; (un.policies == nil || un.policies[policies[k.HostID]]) && !f.skip[keyOf(k)] {
				out = append(out, k)
			}
		}
		if len(out) >= n || len(keys) < size {
			return out[:min(len(out), n)], nil
		}
		after = &keys[len(keys)-1]
	}
}

// readQIDRange reads up to n findings of qids with priority prio, dated
// or not, from detections_qid in the order of their due date and key
// (descending when desc), after from when it is not nil. A single QID's
// range is read in the index's order; several QIDs' ranges are read
// whole and sorted by the engine.
func readQIDRange(ctx context.Context, tx *sql.Tx, f *filter, qids []int, prio string, dated, desc bool, after *Cursor, n int) ([]Cursor, error) {
	var sb strings.Builder
	sb.WriteString("SELECT " + setKeyCols + " FROM detections" +
		f.d.indexed("detections_qid") + " WHERE type <> 'Info' AND qid IN (" + placeholders(len(qids)) + ") AND priority = ?")
	var args []any
	for _, q := range qids {
		args = append(args, q)
	}
	args = append(args, prio)
	order := []string{"due_date", "host_id", "qid", "port"}
	if dated {
		sb.WriteString(" AND due_date > ''")
	} else {
		sb.WriteString(" AND due_date = ''")
		order = order[1:]
	}
	if len(qids) == 1 {
		// One QID: the key is (host, port), as in the index.
		order = slices.DeleteFunc(order, func(c string) bool { return c == "qid" })
	}
	// The other filters, tested on each entry: the QIDs are this range's,
	// and a tag's hosts must not lead PostgreSQL to the primary key
	// (sqlIn's walk).
	rest := *f
	rest.qids = nil
	where, wargs := rest.sqlIn(false, true, "", true)
	sb.WriteString(where)
	args = append(args, wargs...)
	args = orderAfter(&sb, args, order, desc, after, n)
	return readSetKeys(ctx, tx, sb.String(), args)
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
	if f.spans != nil {
		// Seek to the first urgency that can match; stop after the last.
		sp := f.spans[priorityRank(prio)]
		sb.WriteString(" AND urgency >= ? AND urgency <= ?")
		args = append(args, sp.lo, sp.hi)
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
func (s *Server) gatherQIDsByPriority(ctx context.Context, tx *sql.Tx, f *filter, desc bool, from *Cursor, n int) ([]Cursor, error) {
	q, args := qidSetSQL(f)
	keys, err := readSetKeys(ctx, tx, q, args)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	urgency, err := s.setUrgencies(ctx, tx, keys)
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
	return "SELECT " + setKeyCols + " FROM detections" +
		f.d.indexed("detections_qid") + " WHERE type <> 'Info'" + where, args
}

// setKeyCols are the columns of a QID set's key read from detections_qid
// (readSetKeys): a cursor of the priority order but the urgency, which
// the index does not hold.
const setKeyCols = "vuln_score, breach_date, host_id, qid, port, priority, due_date"

// readSetKeys runs a query of setKeyCols and returns its keys.
func readSetKeys(ctx context.Context, tx *sql.Tx, q string, args []any) ([]Cursor, error) {
	var keys []Cursor
	err := eachRow(ctx, tx, q, args, func(r *sql.Rows) error {
		var c Cursor
		if err := r.Scan(&c.Rating, &c.Deadline, &c.HostID, &c.QID, &c.Port, &c.Priority, &c.Due); err != nil {
			return err
		}
		keys = append(keys, c)
		return nil
	})
	return keys, err
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
func (s *Server) setUrgencies(ctx context.Context, tx *sql.Tx, keys []Cursor) (func(Cursor) int64, error) {
	var qids []int
	for _, k := range keys {
		qids = append(qids, k.QID)
	}
	slices.Sort(qids)
	u, err := s.readUrgencies(ctx, tx, slices.Compact(qids))
	if err != nil {
		return nil, err
	}
	return u.of, nil
}

// urgencies holds what the urgencies of a set of QIDs' findings are
// computed from.
type urgencies struct {
	policies map[int64]int          // the hosts with an environment policy
	used     []int                  // the policies of those hosts, each once
	env      map[qidPolicy]*float64 // a key when the QID has a score under the policy, nil when it has no vector
	risks    map[int]qidRisk
}

type qidPolicy struct{ qid, policy int }

type qidRisk struct {
	kev  bool
	epss *float64
}

// readUrgencies reads what the urgencies of the findings of qids (sorted,
// each once) are computed from.
func (s *Server) readUrgencies(ctx context.Context, tx *sql.Tx, qids []int) (*urgencies, error) {
	d := s.sql
	hp, err := s.hostPolicies(ctx, tx)
	if err != nil {
		return nil, err
	}
	u := &urgencies{policies: hp.hosts, used: hp.used, env: map[qidPolicy]*float64{}, risks: map[int]qidRisk{}}
	err = eachRow(ctx, tx, "SELECT qid, policy, env_score FROM qid_scores WHERE "+d.inInts("qid"), []any{ints(d, qids)}, func(r *sql.Rows) error {
		var k qidPolicy
		var e sql.NullFloat64
		if err := r.Scan(&k.qid, &k.policy, &e); err != nil {
			return err
		}
		u.env[k] = nil
		if e.Valid {
			u.env[k] = &e.Float64
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, tx, "SELECT qid, kev, epss FROM qid_risk WHERE "+d.inInts("qid"), []any{ints(d, qids)}, func(r *sql.Rows) error {
		var qid, kev int
		var epss sql.NullFloat64
		if err := r.Scan(&qid, &kev, &epss); err != nil {
			return err
		}
		rk := qidRisk{kev: kev != 0}
		if epss.Valid {
			rk.epss = &epss.Float64
		}
		u.risks[qid] = rk
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// policyCache holds the hosts' environment policies as of one state of
// the store: a request for a QID set in the priority order reads them,
// 80 ms a request on ten million findings whose 125,000 hosts of 250,000
// had a policy.
type policyCache struct {
	mu    sync.Mutex
	stamp string // the state of the store they are of (Server.stamp)
	cur   *hostPolicies
}

// hostPolicies is the hosts with an environment policy (none in most
// stores), and their policies, each once. Neither is changed once read.
type hostPolicies struct {
	hosts map[int64]int
	used  []int
}

// hostPolicies returns the hosts' environment policies, read from
// hosts_policy once for each state of the store (the overview's stamp):
// a host given another policy, by an import or a change of the policies,
// bumps meta.order, which the stamp holds.
func (s *Server) hostPolicies(ctx context.Context, tx *sql.Tx) (*hostPolicies, error) {
	stamp, err := s.stamp(ctx, tx)
	if err != nil {
		return nil, err
	}
	c := &s.policies
	c.mu.Lock()
	cur := c.cur
	if c.stamp != stamp {
		cur = nil
	}
	c.mu.Unlock()
	if cur != nil {
		return cur, nil
	}
	hp := &hostPolicies{hosts: map[int64]int{}}
	err = eachRow(ctx, tx, "SELECT id, policy FROM hosts WHERE policy <> 0", nil, func(r *sql.Rows) error {
		var id int64
		var p int
		if err := r.Scan(&id, &p); err != nil {
			return err
		}
		hp.hosts[id] = p
		if !slices.Contains(hp.used, p) {
			hp.used = append(hp.used, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.stamp, c.cur = stamp, hp
	c.mu.Unlock()
	return hp, nil
}

// of is a finding's urgency.
func (u *urgencies) of(k Cursor) int64 {
	if k.Priority == "" {
		return 0
	}
	return u.under(k.QID, u.policies[k.HostID])
}

// under is the urgency of a QID's prioritized findings on the hosts of an
// environment policy (0: none).
func (u *urgencies) under(qid, policy int) int64 {
	key := qidPolicy{qid, policy}
	if _, ok := u.env[key]; !ok {
		key.policy = 0
	}
	r := u.risks[qid]
	return priority.Urgency(r.kev, r.epss, u.env[key])
}

// classes returns the urgencies of a QID's prioritized findings, each
// with the environment policies (0: none) of the hosts whose findings
// have it; with nil policies when there is one urgency on every host.
func (u *urgencies) classes(qid int) map[int64]map[int]bool {
	out := map[int64]map[int]bool{u.under(qid, 0): {0: true}}
	for _, p := range u.used {
		ug := u.under(qid, p)
		if out[ug] == nil {
			out[ug] = map[int]bool{}
		}
		out[ug][p] = true
	}
	if len(out) == 1 {
		for ug := range out {
			out[ug] = nil
		}
	}
	return out
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
