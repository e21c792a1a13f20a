package web

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/exceptions"
	"qvt/internal/finding"
	"qvt/internal/store"
)

// The findings list reads one page of a filtered, sorted list of up to
// millions of findings in milliseconds. It never sorts the whole match:
//
//   - By default it walks an index whose order is the list's order, from
//     the cursor on, testing the filter on each entry, and stops after one
//     page. detections_status (migration 00005) holds the findings by
//     status, rating, deadline and key, with every column the filters
//     test: the rating order reads each rating's ranges (one per status)
//     in turn, the deadline order merges the ranges of every status and
//     rating, a few rows of each at a time (merge). The filters are
//     written so that PostgreSQL tests them in the index where it can
//     (closed as a range or a value, not an OR) and cannot leave the walk
//     for another index (qid + 0). The host order walks the table (its
//     primary key). The
//     priority order walks detections_priority (migration 00009), one
//     priority at a time (prioritylist.go).
//   - When the filter selects a small set (a host; a QID, CVE, title
//     word with a few thousand detections; a rare priority; or, for the
//     host order, a rare status, rating or deadline, which the overview
//     has counted), it reads that set and sorts it: a walk would pass
//     over most of an index to find a rare match.
//   - For a large QID set (a common QID), the walk reads only the ranges
//     where the overview saw its findings.
//   - In the priority order filtered by rating or status, the walk of
//     each priority starts at the highest urgency, and stops after the
//     lowest, at which the overview saw findings of those ratings and
//     statuses (urgencyRange).
//
// A page is then completed in one query by primary key (host, title,
// score) and one for its Jira issues.

// Row is one finding of a list page.
type Row struct {
	Key          string    `json:"key"`
	HostID       int64     `json:"host_id"`
	Address      string    `json:"ip"`
	Hostname     string    `json:"hostname"`
	QID          int       `json:"qid"`
	Port         int       `json:"port"`
	Protocol     string    `json:"protocol"`
	Title        string    `json:"title"`
	Status       string    `json:"status"`
	Closed       bool      `json:"closed"`        // closed for any reason, as in the export
	ClosedReason string    `json:"closed_reason"` // fixed, gone, ignored or disabled; "" while open
	Rating       string    `json:"vuln_score"`
	Deadline     string    `json:"breach_date"` // YYYY-MM-DD, "" for none
	FirstFound   time.Time `json:"first_found,omitzero"`
	LastFound    time.Time `json:"last_found,omitzero"`
	Score        *float64  `json:"env_score"`    // environmental CVSS score, nil without a vector
	Jira         string    `json:"jira"`         // issue key, "" when not published
	Overdue      bool      `json:"overdue"`      // open, not excepted, past its deadline
	DaysOverdue  int       `json:"days_overdue"` // days past the deadline while open, else 0
	DueSoon      bool      `json:"due_soon"`     // open and due within 7 days
	// Exploitation evidence and priority (docs/priority.md).
	KEV            bool     `json:"kev"`             // a CVE of the QID is in CISA's KEV catalog
	KEVRansomware  bool     `json:"kev_ransomware"`  // one of them is known to be used by ransomware
	EPSS           *float64 `json:"epss"`            // the QID's highest EPSS score, nil when none
	EPSSPercentile *float64 `json:"epss_percentile"` // its percentile
	QDS            *int     `json:"qds"`             // Qualys Detection Score, nil when Qualys gave none
	ThreatIntel    []string `json:"threat_intel"`    // the KB's THREAT_INTEL names
	Priority       string   `json:"priority"`        // P1 … P4, "" before the store is prioritized
	PriorityReason string   `json:"priority_reason"` // the rule that gave it
	DueDate        string   `json:"due_date"`        // YYYY-MM-DD, "" for none
	DueOverdue     bool     `json:"due_overdue"`     // open and past its due date
	// Who fixes it and what is accepted.
	Owner           string `json:"owner"`            // the owner the rules give it; "" for none
	Excepted        bool   `json:"excepted"`         // an active exception covers it today: not overdue nor due soon
	Exception       string `json:"exception"`        // that exception, EXC-12; "" when not excepted
	ExceptedUntil   string `json:"excepted_until"`   // its last day, YYYY-MM-DD; "" for none or not excepted
	ExceptionReason string `json:"exception_reason"` // its type, reason and approver; "" when not excepted
	urgency         int64
}

// cursor is the row's position in the list's orders.
func (r *Row) cursor(sort string) Cursor {
	c := Cursor{Rating: r.Rating, Deadline: r.Deadline, HostID: r.HostID, QID: r.QID, Port: r.Port}
	if sort == "priority" {
		c.Priority, c.Urgency, c.Due = r.Priority, r.urgency, r.DueDate
	}
	return c
}

// Page is one page of the list.
type Page struct {
	Query Query
	Rows  []Row
	Next  *Cursor // the next page starts after it; nil on the last page
	Prev  *Cursor // the previous page ends before it; nil on the first page
	Total int     // matching findings, -1 when not counted
	Plan  string  // "index" (walked an index), "masked" (its ranges of a QID set), "qids" (a QID set's ranges of detections_qid) or "set" (sorted a small set)
}

// The sizes up to which a set is read whole and sorted rather than found
// by walking an index in order. A walk that finds one match in 200
// entries reads 20,000 for a page; reading and sorting 50,000 entries of
// detections_status (which holds every column the filters and orders
// need) takes about 15 ms. A set of hosts or QIDs is read from the table,
// about 3 µs a row.
//
// hostRanges is the size up to which the host order reads the set of a
// status, rating or deadline filter: the walk of the table finds one
// match in total/size rows.
//
// qidWalk is the most QIDs a set larger than qids may have for the
// priority order to read it from its ranges of detections_qid
// (walkQIDsByPriority) rather than walk detections_priority.
//
// tagHosts is the most hosts a tag may have for the SQL to test them (0:
// any number); a larger tag's hosts are tested here (readTagged).
type gatherLimits struct{ ranges, hosts, qids, hostRanges, qidWalk, tagHosts int }

var defaultGather = gatherLimits{ranges: 50000, hosts: 5000, qids: 5000, hostRanges: 50000, qidWalk: qidWalkMax, tagHosts: 5000}

// priorityGather is the size up to which the priority order sorts the
// set of a rare status, rating or deadline (read from detections_status
// and the table) rather than walking detections_priority.
const priorityGather = 1000

// Where a set is read from.
type source int

const (
	fromHosts    source = iota // the primary key: a host filter
	fromQIDs                   // detections_qid, then the table: a QID, CVE or title filter
	fromRanges                 // detections_status: ranges of statuses and ratings
	fromPriority               // detections_priority: the ranges of the priorities chosen
	fromOwners                 // detections_owner: the findings of the owners chosen
)

// sqlRank orders ratings most severe first, as ratingOrder does.
const sqlRank = `CASE vuln_score WHEN 'Critical' THEN 0 WHEN 'High' THEN 1 WHEN 'Medium' THEN 2 WHEN 'Low' THEN 3 WHEN 'None' THEN 4 ELSE 5 END`

func rank(rating string) int {
	if i := slices.Index(ratingOrder, rating); i >= 0 {
		return i
	}
	return len(ratingOrder) - 1
}

// sqlPriorityRank orders priorities most urgent first, as priorityOrder.
const sqlPriorityRank = `CASE priority WHEN 'P1' THEN 0 WHEN 'P2' THEN 1 WHEN 'P3' THEN 2 WHEN 'P4' THEN 3 ELSE 4 END`

func priorityRank(p string) int {
	if i := slices.Index(priorityOrder, p); i >= 0 {
		return i
	}
	return len(priorityOrder) - 1
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareKeys orders two rows in a sort, ascending.
func compareKeys(sort string, a, b Cursor) int {
	pk := func() int {
		return cmp.Or(cmp.Compare(a.HostID, b.HostID), cmp.Compare(a.QID, b.QID), cmp.Compare(a.Port, b.Port))
	}
	deadline := func() int {
		return cmp.Or(cmp.Compare(b2i(a.Deadline == ""), b2i(b.Deadline == "")), strings.Compare(a.Deadline, b.Deadline))
	}
	switch sort {
	case "deadline":
		return cmp.Or(deadline(), pk())
	case "host":
		return pk()
	case "priority":
		// docs/priority.md: priority, then KEV, EPSS and environmental
		// score (urgency, highest first), then due date ("" last), then
		// the key.
		return cmp.Or(cmp.Compare(priorityRank(a.Priority), priorityRank(b.Priority)), cmp.Compare(b.Urgency, a.Urgency),
			cmp.Compare(b2i(a.Due == ""), b2i(b.Due == "")), strings.Compare(a.Due, b.Due), pk())
	}
	return cmp.Or(cmp.Compare(rank(a.Rating), rank(b.Rating)), deadline(), pk())
}

// sortExprs are the SQL expressions of a sort, in the order compareKeys
// compares them, and their values for a cursor.
func sortExprs(d dialect, sort string, c Cursor) ([]string, []any) {
	undated := b2i(c.Deadline == "")
	switch sort {
	case "deadline":
		return []string{d.undated(), "breach_date", "host_id", "qid", "port"},
			[]any{undated, c.Deadline, c.HostID, c.QID, c.Port}
	case "host":
		return []string{"host_id", "qid", "port"}, []any{c.HostID, c.QID, c.Port}
	case "priority":
		// Urgency sorts highest first: its negation ascends.
		return []string{sqlPriorityRank, "-urgency", d.undatedDue(), "due_date", "host_id", "qid", "port"},
			[]any{priorityRank(c.Priority), -c.Urgency, b2i(c.Due == ""), c.Due, c.HostID, c.QID, c.Port}
	}
	return []string{sqlRank, d.undated(), "breach_date", "host_id", "qid", "port"},
		[]any{rank(c.Rating), undated, c.Deadline, c.HostID, c.QID, c.Port}
}

// cond is a piece of a WHERE clause and its arguments.
type cond struct {
	sql  string
	args []any
	// inRange, when not nil, is the same condition for the entries of one
	// status's ranges of detections_status, without the status: a list of
	// open and closed states becomes a test of the closed column alone,
	// which PostgreSQL checks in the index, where it would visit the
	// table for each entry to test an OR (or the status).
	inRange func(status string) cond
}

// filter is a query resolved against the store: SQL conditions on
// detections columns, and the sets some filters select.
type filter struct {
	conds    []cond   // on columns every plan can test
	due      []string // the range of deadlines the due filter selects: [lo, hi), "" for open ends; nil for any
	ratings  []string // the ratings selected, in ratingOrder; nil for all
	prios    []string // the priorities selected, in priorityOrder; nil for all
	statuses []string // the statuses whose ranges hold the matches
	hostIDs  []int64  // nil: any host
	qids     []int    // nil: any QID
	none     bool     // the filter matches nothing (an unknown host, CVE, text)
	masked   bool     // only the ranges of mask can hold matches
	mask     uint32   // of rangeBit: where the QIDs' (and priorities') findings are
	pmasked  bool     // only the priorities of pmask can hold matches
	pmask    uint8    // bit i for priorityOrder[i]: the priorities of the QIDs' findings
	// spans, when not nil, holds for each priority (priorityOrder) the
	// urgencies that can hold matches (urgencyRange).
	spans  *[5]urgencySpan
	owners []string // nil: any owner
	// skip holds the excepted findings a list of what is overdue, due
	// soon or not excepted leaves out: read once, skipped in Go (excepted.go).
	skip map[pk]bool
	// byQID is set when the priority order read a QID set from its
	// ranges of detections_qid (walkQIDsByPriority).
	byQID bool
	// tagged is a large tag's hosts, tested on the rows read (readTagged)
	// rather than in the SQL; nil when the SQL tests the tag.
	tagged map[int64]bool
	d      dialect
}

// plus writes a column so that SQLite does not use an index for a
// condition on it: the primary-key walk must stay a primary-key walk.
func (f *filter) plus(col string, noIndex bool) string {
	if noIndex {
		return f.d.noIndex() + col
	}
	return col
}

// sql returns the conditions as one AND clause (starting with " AND ")
// and their arguments. noIndex keeps SQLite from using an index for them;
// withRanges adds the statuses and ratings, which the walk of
// detections_status has as ranges instead.
func (f *filter) sql(noIndex, withRanges bool) (string, []any) {
	return f.sqlIn(noIndex, withRanges, "", false)
}

// sqlIn is sql for the entries of one status's ranges of
// detections_status ("" for any), and, with walk, for a walk of an index
// in its order. PostgreSQL is then kept off detections_qid for a QID set
// (qid + 0), and off the primary key for a tag's hosts ({0} in a
// condition): planned on its own, each range of a walk for a title word
// read the thousands of findings of its QIDs from detections_qid and
// sorted them (120 ms a range, a dozen ranges), where the walk finds a
// page in a few hundred entries.
func (f *filter) sqlIn(noIndex, withRanges bool, status string, walk bool) (string, []any) {
	var sb strings.Builder
	var args []any
	if withRanges && !noIndex {
		sb.WriteString(" AND status IN (" + placeholders(len(f.statuses)) + ")")
		for _, st := range f.statuses {
			args = append(args, st)
		}
	}
	// {0} keeps PostgreSQL off an index in a walk, as qid + 0 below.
	plus0 := ""
	if walk && f.d.pg {
		plus0 = " + 0"
	}
	for _, c := range f.conds {
		if c.inRange != nil && status != "" {
			c = c.inRange(status)
		}
		sb.WriteString(" AND ")
		sql := strings.ReplaceAll(c.sql, "{0}", plus0)
		if noIndex {
			sb.WriteString(strings.ReplaceAll(sql, "{+}", f.d.noIndex()))
		} else {
			sb.WriteString(strings.ReplaceAll(sql, "{+}", ""))
		}
		args = append(args, c.args...)
	}
	if withRanges {
		// All ratings, when none is chosen: SQLite then seeks each
		// (status, rating) range of detections_status to its deadlines.
		ratings := f.allRatings()
		sb.WriteString(" AND " + f.plus("vuln_score", noIndex) + " IN (" + placeholders(len(ratings)) + ")")
		for _, r := range ratings {
			args = append(args, r)
		}
	}
	if f.owners != nil {
		sb.WriteString(" AND " + f.plus("owner", noIndex) + " IN (" + placeholders(len(f.owners)) + ")")
		for _, o := range f.owners {
			args = append(args, o)
		}
	}
	if f.hostIDs != nil {
		sb.WriteString(" AND host_id IN (" + placeholders(len(f.hostIDs)) + ")")
		for _, id := range f.hostIDs {
			args = append(args, id)
		}
	}
	if f.qids != nil {
		qid := f.plus("qid", noIndex) + plus0
		if len(f.qids) <= 64 {
			sb.WriteString(" AND " + qid + " IN (" + placeholders(len(f.qids)) + ")")
			for _, q := range f.qids {
				args = append(args, q)
			}
		} else {
			// One parameter however many QIDs a title search finds.
			sb.WriteString(" AND " + f.d.inInts(qid))
			args = append(args, ints(f.d, f.qids))
		}
	}
	return sb.String(), args
}

// allRatings is the ratings selected, or all of them.
func (f *filter) allRatings() []string {
	if f.ratings != nil {
		return f.ratings
	}
	return ratingOrder
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// resolve turns a query into conditions, looking up the hosts, CVEs and
// titles it names.
func (s *Server) resolve(ctx context.Context, tx *sql.Tx, q Query, today time.Time) (*filter, error) {
	f := &filter{d: s.sql}
	add := func(sql string, args ...any) { f.conds = append(f.conds, cond{sql: sql, args: args}) }
	all, err := statuses(ctx, tx, s.sql)
	if err != nil {
		return nil, err
	}
	// A finding with the Qualys status Fixed is closed as fixed, and only
	// it is (store.closedReason: Fixed comes before ignored and disabled,
	// and only open findings go): the Fixed range, a third of the index,
	// holds the fixed findings and no others, and is left out of the walk
	// of every other state.
	notFixed := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == "Fixed" })
	switch q.Status {
	case "":
		add("{+}closed = ''")
		f.statuses = notFixed
	default:
		if strings.Contains(q.Status, ",") {
			o, err := s.current(ctx, tx)
			if err != nil {
				return nil, err
			}
			f.statusList(q.states(), all, notFixed, o)
			break
		}
		fallthrough
	case "New", "Active", "Re-Opened":
		add("{+}status = ? AND {+}closed = ''", q.Status)
		f.statuses = []string{q.Status}
	case "closed":
		// Any reason: a range of the column, which PostgreSQL tests in
		// the index ('' sorts before any other text).
		add("{+}closed > ''")
		f.statuses = all
	case "all":
		f.statuses = all
	case finding.ClosedFixed:
		add("{+}closed = ?", q.Status)
		f.statuses = []string{"Fixed"}
	case finding.ClosedGone, finding.ClosedIgnored, finding.ClosedDisabled:
		add("{+}closed = ?", q.Status)
		f.statuses = notFixed
	}
	if q.Status == finding.ClosedGone || q.Status == finding.ClosedIgnored || q.Status == finding.ClosedDisabled {
		c := closedIndex([]byte(q.Status))
		// Gone, ignored and disabled findings are few, or none, and
		// scattered: a walk of the ranges that cannot hold one reads them
		// to the end for nothing. The overview of this very state of the
		// store says which can.
		o, err := s.current(ctx, tx)
		if err != nil {
			return nil, err
		}
		if o != nil {
			f.statuses = slices.DeleteFunc(f.statuses, func(st string) bool { return !o.holds(c, statusIndex(st)) })
		}
	}
	if len(f.statuses) == 0 {
		f.none = true // no range holds a match (and SQLite has no plan for "status IN ()")
	}
	day := today.UTC().Format(time.DateOnly)
	switch q.Due {
	case "overdue":
		add("{+}closed = '' AND {+}breach_date <> '' AND {+}breach_date < ?", day)
		f.due = []string{"0", day} // "" (no deadline) sorts before "0"
	case "week":
		week := today.UTC().AddDate(0, 0, 7).Format(time.DateOnly)
		add("{+}closed = '' AND {+}breach_date >= ? AND {+}breach_date <= ?", day, week)
		f.due = []string{day, week + "~"}
	}
	if len(q.Ratings) > 0 {
		for _, r := range ratingOrder {
			if slices.Contains(q.Ratings, r) {
				f.ratings = append(f.ratings, r)
			}
		}
	}
	if len(q.Priorities) > 0 {
		for _, p := range priorityOrder {
			if slices.Contains(q.Priorities, p) {
				f.prios = append(f.prios, p)
			}
		}
		args := make([]any, len(f.prios))
		for i, p := range f.prios {
			args[i] = p
		}
		add("{+}priority IN ("+placeholders(len(args))+")", args...)
	}
	if q.Tag != "" {
		// The tagged hosts are read once, not once per range walked.
		hosts, err := tagHosts(ctx, tx, s.sql, q.Tag)
		if err != nil {
			return nil, err
		}
		if len(hosts) == 0 {
			f.none = true
		}
		if most := s.gatherMax.tagHosts; most > 0 && len(hosts) > most {
			// A large tag's hosts cost each statement of a walk: on
			// PostgreSQL, planning for the array of hosts it is bound
			// to, each element estimated (12-19 ms a statement for a tag
			// of 20,000 hosts, and a list in the deadline order runs 29
			// of them: 285-420 ms a page on ten million findings); on
			// SQLite, the JSON list parsed and indexed anew (the same
			// page 202 ms). A tag that large holds a share of the
			// findings that a walk finds soon without it: 50-90 ms a
			// page on either engine.
			f.tagged = make(map[int64]bool, len(hosts))
			for _, id := range hosts {
				f.tagged[id] = true
			}
		} else {
			// PostgreSQL's plan of a walk, made generic (the statement is
			// prepared once and run many times), read every detection of
			// the tagged hosts by primary key for each range walked
			// (34,000 for a tag on a tenth of 10,000 hosts): host_id + 0
			// keeps it on the walk.
			add(s.sql.inInts("{+}host_id{0}"), ints(s.sql, hosts))
		}
	}
	if q.Host != "" {
		ids, err := hostIDs(ctx, tx, s.sql, q.Host)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			f.none = true
		}
		f.hostIDs = ids
	}
	if len(q.Owners) > 0 {
		// Named in any case, as qvt export --owner takes them: the stored
		// names they fold to, so that the owner index is read for them.
		stored, err := ownerNames(ctx, tx, s.sql)
		if err != nil {
			return nil, err
		}
		f.owners = []string{}
		for _, name := range stored {
			if slices.ContainsFunc(q.Owners, func(o string) bool { return strings.EqualFold(o, name) }) {
				f.owners = append(f.owners, name)
			}
		}
		if len(f.owners) == 0 {
			f.none = true
		}
	}
	if q.Excepted != "" || q.Due != "" {
		ex, err := exceptedKeys(ctx, tx, s.sql, day)
		if err != nil {
			return nil, err
		}
		if q.Excepted == "1" {
			// The few excepted findings' hosts: a set the list reads by
			// primary key; the columns are tested there.
			var hosts []int64
			for k := range ex {
				if f.hostIDs == nil || slices.Contains(f.hostIDs, k.host) {
					hosts = append(hosts, k.host)
				}
			}
			slices.Sort(hosts)
			f.hostIDs = slices.Compact(hosts)
			if len(f.hostIDs) == 0 || q.Due != "" {
				f.none = true // (an excepted finding is neither overdue nor due soon)
			}
			add("{+}exception_id <> 0 AND {+}excepted_until >= ?", day)
		} else if len(ex) > 0 {
			// Not excepted, overdue or due soon: an excepted finding is
			// neither of those.
			f.skip = ex
		}
	}
	var sets [][]int
	if q.QID != 0 {
		sets = append(sets, []int{q.QID})
	}
	if len(q.QIDs) > 0 {
		sets = append(sets, q.QIDs)
	}
	if q.CVE != "" {
		qids, err := cveQIDs(ctx, tx, q.CVE)
		if err != nil {
			return nil, err
		}
		sets = append(sets, qids)
	}
	if q.Text != "" {
		qids, err := s.titles.search(ctx, tx, q.Text)
		if err != nil {
			return nil, err
		}
		sets = append(sets, qids)
	}
	// KEV and EPSS are facts of the QID (qid_risk). SQLite tests each
	// entry walked against its QID's row, a lookup by primary key: as a
	// set of QIDs in one parameter (json_each), the thousands of QIDs an
	// EPSS threshold selects would be parsed and indexed anew by each of a
	// walk's dozens of range reads (measured on a million findings:
	// 40-160 ms a page, against 3-35 ms). PostgreSQL tests the set with
	// = ANY.
	if q.KEV {
		if s.sql.pg {
			qids, err := riskQIDs(ctx, tx, "kev = 1")
			if err != nil {
				return nil, err
			}
			sets = append(sets, qids)
		} else {
			add("EXISTS (SELECT 1 FROM qid_risk r WHERE r.qid = detections.qid AND r.kev = 1)")
		}
	}
	if q.MinEPSS != nil {
		if s.sql.pg {
			qids, err := riskQIDs(ctx, tx, "epss >= ?", *q.MinEPSS)
			if err != nil {
				return nil, err
			}
			sets = append(sets, qids)
		} else {
			add("EXISTS (SELECT 1 FROM qid_risk r WHERE r.qid = detections.qid AND r.epss >= ?)", *q.MinEPSS)
		}
	}
	for i, set := range sets {
		if i == 0 {
			f.qids = set
			continue
		}
		f.qids = slices.DeleteFunc(f.qids, func(q int) bool { _, ok := slices.BinarySearch(set, q); return !ok })
	}
	if sets != nil && len(f.qids) == 0 {
		f.none = true
	}
	return f, nil
}

// statusList selects the findings in these states (a list of status
// filters, status=New,gone): open ones by Qualys status, closed ones by
// reason, in the ranges that can hold them (notFixed: every status range
// but Fixed's), and of those, when o (the overview of this state of the
// store) is not nil, only the ranges it says hold a closed one.
func (f *filter) statusList(states, all, notFixed []string, o *Overview) {
	var open, closed []string
	for _, st := range states {
		if slices.Contains(finding.OpenStatuses, st) {
			open = append(open, st)
		} else {
			closed = append(closed, st)
		}
	}
	var ors []string
	var args []any
	ranges := map[string]bool{}
	switch {
	case len(open) == len(finding.OpenStatuses):
		ors = append(ors, "{+}closed = ''")
		for _, st := range notFixed {
			ranges[st] = true
		}
	case len(open) > 0:
		ors = append(ors, "({+}closed = '' AND {+}status IN ("+placeholders(len(open))+"))")
		for _, st := range open {
			args = append(args, st)
			ranges[st] = true
		}
	}
	if len(closed) > 0 {
		ors = append(ors, "{+}closed IN ("+placeholders(len(closed))+")")
		for _, st := range closed {
			args = append(args, st)
			if st == finding.ClosedFixed {
				ranges["Fixed"] = true
			} else {
				for _, r := range notFixed {
					if o == nil || o.holds(closedIndex([]byte(st)), statusIndex(r)) {
						ranges[r] = true
					}
				}
			}
		}
	}
	allOpen := len(open) == len(finding.OpenStatuses)
	inRange := func(status string) cond {
		var states []string
		if allOpen || slices.Contains(open, status) {
			states = append(states, "")
		}
		states = append(states, closed...)
		return closedIn(states)
	}
	f.conds = append(f.conds, cond{"(" + strings.Join(ors, " OR ") + ")", args, inRange})
	for _, st := range all {
		if ranges[st] {
			f.statuses = append(f.statuses, st)
		}
	}
}

// closedIn is the condition "closed is one of states" ("" for open).
// Several are also bounded by the least and the greatest: PostgreSQL
// tests a list of values on a column after the order's as a filter, after
// a visit to the table, and a range in the index.
func closedIn(states []string) cond {
	if len(states) == 0 {
		return cond{sql: "1 = 0"}
	}
	if len(states) == 1 {
		return cond{sql: "{+}closed = ?", args: []any{states[0]}}
	}
	args := []any{slices.Min(states), slices.Max(states)}
	for _, st := range states {
		args = append(args, st)
	}
	return cond{sql: "{+}closed >= ? AND {+}closed <= ? AND {+}closed IN (" + placeholders(len(states)) + ")", args: args}
}

// hostIDs finds the hosts a person names: by id, address, a network
// (CIDR: 10.1.0.0/16), DNS, NetBIOS or fully qualified name, or the
// short name of a DNS or fully qualified name ("web-01" for
// web-01.corp.example.com); names in any case.
func hostIDs(ctx context.Context, tx *sql.Tx, d dialect, name string) ([]int64, error) {
	if prefix, err := netip.ParsePrefix(name); err == nil {
		return networkHosts(ctx, tx, prefix.Masked())
	}
	id, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		id = -1
	}
	short := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(name) + ".%" // LIKE ignores ASCII case
	rows, err := tx.QueryContext(ctx, hostQuery(d), id, name, short)
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	return scanIDs(rows)
}

// hostQuery finds hosts by ?1 (an id), ?2 (an address or name) and ?3
// (?2 escaped for LIKE, with ".%" after it: a short name). On
// PostgreSQL each condition is a seek or a range of an index (migration
// 00013; the short name's LIKE a range of a text_pattern_ops index), so
// that no request reads every host.
func hostQuery(d dialect) string {
	return `SELECT id FROM hosts WHERE id = ?1 OR ip = ?2 OR ipv6 = ?2
  OR ` + d.equalFold("fqdn", "?2") + ` OR ` + d.equalFold("dns", "?2") + ` OR ` + d.equalFold("netbios", "?2") + `
  OR ` + d.likeFold("fqdn", "?3") + ` OR ` + d.likeFold("dns", "?3") + ` ORDER BY id`
}

// networkHosts lists the hosts whose IPv4 or IPv6 address is in a network.
func networkHosts(ctx context.Context, tx *sql.Tx, network netip.Prefix) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, "SELECT id, ip, ipv6 FROM hosts ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("hosts in %s: %w", network, err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		var ip, ipv6 string
		if err := rows.Scan(&id, &ip, &ipv6); err != nil {
			return nil, fmt.Errorf("hosts in %s: %w", network, err)
		}
		for _, a := range []string{ip, ipv6} {
			if addr, err := netip.ParseAddr(a); err == nil && network.Contains(addr.Unmap()) {
				ids = append(ids, id)
				break
			}
		}
	}
	return ids, rows.Err()
}

func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// cveQIDs lists, ascending, the QIDs whose KB entry lists a CVE.
func cveQIDs(ctx context.Context, tx *sql.Tx, cve string) ([]int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT qid FROM kb_cves WHERE cve_id = ? ORDER BY qid", cve)
	if err != nil {
		return nil, fmt.Errorf("CVE %s: %w", cve, err)
	}
	defer rows.Close()
	qids := []int{}
	for rows.Next() {
		var q int
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		qids = append(qids, q)
	}
	return qids, rows.Err()
}

// riskQIDs lists, ascending, the QIDs whose qid_risk row meets a
// condition.
func riskQIDs(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT qid FROM qid_risk WHERE "+where+" ORDER BY qid", args...)
	if err != nil {
		return nil, fmt.Errorf("qid_risk: %w", err)
	}
	defer rows.Close()
	qids := []int{}
	for rows.Next() {
		var q int
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		qids = append(qids, q)
	}
	return qids, rows.Err()
}

// statuses lists the statuses findings have, ascending, by skipping from
// one to the next in detections_status: a handful of seeks.
func statuses(ctx context.Context, tx *sql.Tx, d dialect) ([]string, error) {
	var out []string
	for {
		q := "SELECT min(status) FROM detections" + d.indexed("detections_status") + " WHERE type <> 'Info'"
		var args []any
		if len(out) > 0 {
			q += " AND status > ?"
			args = append(args, out[len(out)-1])
		}
		var st sql.NullString
		if err := tx.QueryRowContext(ctx, q, args...).Scan(&st); err != nil {
			return nil, fmt.Errorf("statuses: %w", err)
		}
		if !st.Valid {
			return out, nil
		}
		out = append(out, st.String)
	}
}

// stream is one ordered read of an index: a range (fixed conditions) read
// in the order of its columns.
type stream struct {
	index  string   // INDEXED BY this; "" walks the primary key
	status string   // the status of a range of detections_status; "" for others
	prio   bool     // read the priority order's cursor columns too
	fixed  string   // conditions that select the range
	args   []any    // their arguments
	order  []string // the columns the range is ordered by, ending with the key
}

// phase is a group of streams whose rows are merged; phases are read one
// after the other.
type phase struct {
	streams []stream
	has     func(c Cursor) bool // whether a row belongs to this phase
}

// phases lays out the index walk of a sort, ascending.
func (f *filter) phases(sort string) []phase {
	dated := []string{"breach_date", "host_id", "qid", "port"}
	undated := []string{"host_id", "qid", "port"}
	// A deadline is, on PostgreSQL, a range of the column, which it tests
	// in the index ('' sorts before any other text). SQLite seeks the
	// range of a due filter's dates only while this is no range.
	hasDate := "breach_date <> ''"
	if f.d.pg {
		hasDate = "breach_date > ''"
	}
	// The ranges of one rating, with or without a deadline, one per status.
	ranges := func(r string, withDate bool) []stream {
		var out []stream
		for _, st := range f.statuses {
			if f.masked && f.mask&rangeBit(st, r) == 0 {
				continue // none of the QIDs has a finding there
			}
			if withDate {
				out = append(out, stream{index: "detections_status", status: st, fixed: "status = ? AND vuln_score = ? AND " + hasDate, args: []any{st, r}, order: dated})
			} else {
				out = append(out, stream{index: "detections_status", status: st, fixed: "status = ? AND vuln_score = ? AND breach_date = ''", args: []any{st, r}, order: undated})
			}
		}
		return out
	}
	selected := func(r string) bool { return f.ratings == nil || slices.Contains(f.ratings, r) }
	switch sort {
	case "host":
		return []phase{{streams: []stream{{order: []string{"host_id", "qid", "port"}}}, has: func(Cursor) bool { return true }}}
	case "deadline":
		var withDate, without []stream
		for _, r := range ratingOrder {
			if selected(r) {
				withDate = append(withDate, ranges(r, true)...)
				without = append(without, ranges(r, false)...)
			}
		}
		return []phase{
			{streams: withDate, has: func(c Cursor) bool { return c.Deadline != "" }},
			{streams: without, has: func(c Cursor) bool { return c.Deadline == "" }},
		}
	}
	// The rating order: each rating's ranges, dated findings (by deadline)
	// before those without a deadline. Unselected ratings keep their
	// (empty) place so that any cursor finds its phase.
	var out []phase
	for _, r := range ratingOrder {
		for _, withDate := range []bool{true, false} {
			p := phase{has: func(c Cursor) bool { return c.Rating == r && (c.Deadline != "") == withDate }}
			if selected(r) {
				p.streams = ranges(r, withDate)
			}
			out = append(out, p)
		}
	}
	return out
}

// cursorValue is a cursor's value of a key column.
func cursorValue(c Cursor, col string) any {
	switch col {
	case "vuln_score":
		return c.Rating
	case "breach_date":
		return c.Deadline
	case "host_id":
		return c.HostID
	case "qid":
		return c.QID
	case "due_date":
		return c.Due
	}
	return c.Port
}

// walk reads up to n rows in the order of sort (descending when desc),
// strictly after from when it is not nil.
func (s *Server) walk(ctx context.Context, tx *sql.Tx, f *filter, sort string, desc bool, from *Cursor, n int) ([]Cursor, error) {
	if sort == "priority" {
		return s.walkPriority(ctx, tx, f, desc, from, n)
	}
	phases := f.phases(sort)
	if desc {
		slices.Reverse(phases)
	}
	start := 0
	if from != nil {
		start = slices.IndexFunc(phases, func(p phase) bool { return p.has(*from) })
		if start < 0 {
			return nil, nil
		}
	}
	var out []Cursor
	for i := start; i < len(phases) && len(out) < n; i++ {
		var after *Cursor
		if i == start {
			after = from
		}
		got, err := s.merge(ctx, tx, f, phases[i].streams, sort, desc, after, n-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// merge reads up to n rows of a phase's streams in the order of sort,
// after from when it is not nil. It reads each stream a few rows at a
// time, twice as many each time it runs out, and takes the least row of
// those read: a page drawn mostly from a few of a dozen streams reads
// about a page, not a page from each. Reading a page from every stream
// cost the deadline order of a title word 15 pages, each entry of which
// PostgreSQL visits in the table until vacuum has marked its pages.
func (s *Server) merge(ctx context.Context, tx *sql.Tx, f *filter, streams []stream, sort string, desc bool, from *Cursor, n int) ([]Cursor, error) {
	if len(streams) == 1 {
		return s.readStream(ctx, tx, f, streams[0], sort == "host", desc, from, n)
	}
	type head struct {
		st    stream
		buf   []Cursor // read, not yet taken
		after *Cursor  // the next read starts after it
		size  int      // rows the next read asks for
		done  bool     // the stream has no more rows
	}
	first := max(mergeFirst, n/max(len(streams), 1)+1)
	heads := make([]*head, len(streams))
	for i, st := range streams {
		heads[i] = &head{st: st, after: from, size: first}
	}
	before := func(a, b Cursor) bool {
		if desc {
			return compareKeys(sort, b, a) < 0
		}
		return compareKeys(sort, a, b) < 0
	}
	var out []Cursor
	for len(out) < n {
		var least *head
		for _, h := range heads {
			if len(h.buf) == 0 && !h.done {
				want := min(h.size, n-len(out))
				keys, err := s.readStream(ctx, tx, f, h.st, sort == "host", desc, h.after, want)
				if err != nil {
					return nil, err
				}
				h.buf, h.done, h.size = keys, len(keys) < want, 2*h.size
			}
			if len(h.buf) > 0 && (least == nil || before(h.buf[0], least.buf[0])) {
				least = h
			}
		}
		if least == nil {
			break
		}
		c := least.buf[0]
		least.buf, least.after = least.buf[1:], &c
		out = append(out, c)
	}
	return out, nil
}

// mergeFirst is the fewest rows merge reads of a stream at a time.
const mergeFirst = 8

func (s *Server) readStream(ctx context.Context, tx *sql.Tx, f *filter, st stream, noIndex, desc bool, after *Cursor, n int) ([]Cursor, error) {
	var sb strings.Builder
	sb.WriteString("SELECT " + keyCols(st.prio) + " FROM detections")
	sb.WriteString(f.d.indexed(st.index))
	sb.WriteString(" WHERE type <> 'Info'")
	args := slices.Clone(st.args)
	if st.fixed != "" {
		sb.WriteString(" AND " + st.fixed)
	}
	// The priority order's ranges are not the status and rating ones:
	// those are tested on each entry.
	where, wargs := f.sqlIn(noIndex, st.index == "" || st.prio, st.status, true)
	sb.WriteString(where)
	args = append(args, wargs...)
	args = orderAfter(&sb, args, st.order, desc, after, n+f.extra())
	keys, err := readKeys(ctx, tx, sb.String(), args, st.prio)
	return f.drop(keys, n), err
}

// orderAfter ends a read of columns in order (descending when desc): the
// rows after a cursor when it is not nil, in that order, at most limit.
// It returns args with the values it adds.
func orderAfter(sb *strings.Builder, args []any, order []string, desc bool, after *Cursor, limit int) []any {
	op, dir := ">", ""
	if desc {
		op, dir = "<", " DESC"
	}
	if after != nil {
		sb.WriteString(" AND (" + strings.Join(order, ", ") + ") " + op + " (" + placeholders(len(order)) + ")")
		for _, col := range order {
			args = append(args, cursorValue(*after, col))
		}
	}
	sb.WriteString(" ORDER BY " + strings.Join(order, dir+", ") + dir + " LIMIT ?")
	return append(args, limit)
}

// keyCols are the columns of a cursor (readKeys): with prio, those of the
// priority order too, which only the priority order reads (they are not
// in detections_status).
func keyCols(prio bool) string {
	if prio {
		return "vuln_score, breach_date, host_id, qid, port, priority, urgency, due_date"
	}
	return "vuln_score, breach_date, host_id, qid, port"
}

func readKeys(ctx context.Context, tx *sql.Tx, query string, args []any, prio bool) ([]Cursor, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	defer rows.Close()
	var out []Cursor
	for rows.Next() {
		var c Cursor
		dest := []any{&c.Rating, &c.Deadline, &c.HostID, &c.QID, &c.Port}
		if prio {
			dest = append(dest, &c.Priority, &c.Urgency, &c.Due)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("findings: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	return out, nil
}

// from writes the FROM clause of a set's read, and tells whether SQLite
// must be kept off the other indexes.
func (src source) from(d dialect) (string, bool) {
	switch src {
	case fromQIDs:
		return " FROM detections" + d.indexed("detections_qid"), false
	case fromRanges:
		return " FROM detections" + d.indexed("detections_status"), false
	case fromPriority:
		return " FROM detections" + d.indexed("detections_priority"), false
	case fromOwners:
		return " FROM detections" + d.indexed("detections_owner"), false
	}
	return " FROM detections", true
}

// gather reads up to n rows of a small set in the order of sort, after
// from.
func (s *Server) gather(ctx context.Context, tx *sql.Tx, f *filter, src source, sort string, desc bool, from *Cursor, n int) ([]Cursor, error) {
	if src == fromQIDs && sort == "priority" {
		return s.gatherQIDsByPriority(ctx, tx, f, desc, from, n)
	}
	q, args := gatherSQL(f, src, sort, desc, from, n)
	keys, err := readKeys(ctx, tx, q, args, sort == "priority")
	return f.drop(keys, n), err
}

// gatherSQL is gather's query.
func gatherSQL(f *filter, src source, sort string, desc bool, from *Cursor, n int) (string, []any) {
	var sb strings.Builder
	table, noIndex := src.from(f.d)
	sb.WriteString("SELECT " + keyCols(sort == "priority") + table + " WHERE type <> 'Info'")
	where, args := f.sql(noIndex, true)
	sb.WriteString(where)
	exprs, vals := sortExprs(f.d, sort, Cursor{})
	op, dir := ">", ""
	if desc {
		op, dir = "<", " DESC"
	}
	if from != nil {
		exprs, vals = sortExprs(f.d, sort, *from)
		sb.WriteString(" AND (" + strings.Join(exprs, ", ") + ") " + op + " (" + placeholders(len(exprs)) + ")")
		args = append(args, vals...)
	}
	sb.WriteString(" ORDER BY " + strings.Join(exprs, dir+", ") + dir + " LIMIT ?")
	args = append(args, n+f.extra())
	return sb.String(), args
}

// maskQIDs limits the walk for a large QID set (a common QID, CVE or
// title word) to the ranges where the QIDs have findings, which the
// overview noted: a common QID's findings are mostly of one rating, and
// the ranges of the others would be read to the end for nothing. Only an
// overview of this very state of the store is used.
func (s *Server) maskQIDs(ctx context.Context, tx *sql.Tx, f *filter) error {
	o, err := s.current(ctx, tx)
	if o == nil || err != nil {
		return err
	}
	f.masked, f.mask = true, 0
	f.pmasked, f.pmask = true, 0
	for _, q := range f.qids {
		f.mask |= o.qids[int32(q)].mask
		f.pmask |= o.qids[int32(q)].prios
	}
	return nil
}

// maskPriorities limits the walk of the rating and deadline orders, when
// the list is filtered by priority, to the ranges where the overview saw
// findings of those priorities: priorities follow ratings (P4 findings
// are seldom Critical), and a walk of the Critical ranges for P4 findings
// would read them to the end, each entry looked up in the table for its
// priority. Only an overview of this very state of the store is used.
func (s *Server) maskPriorities(ctx context.Context, tx *sql.Tx, f *filter) error {
	o, err := s.current(ctx, tx)
	if o == nil || err != nil {
		return err
	}
	var m uint32
	for _, p := range f.prios {
		m |= o.prioMask[priorityRank(p)]
	}
	if f.masked {
		f.mask &= m
	} else {
		f.masked, f.mask = true, m
	}
	return nil
}

// urgencyRange limits the priority order's walk of each priority, when
// the list is filtered by rating or status, to the urgencies the
// overview saw findings of those ratings and statuses at: a rating's
// findings gather at a few urgencies (Low findings at the low ones), and
// the walk would otherwise pass every entry of the priority above them
// (at ten million findings, 790,000 P2 entries before P2's first Low
// one). Only an overview of this very state of the store is used: its
// stamp moves with every change of an urgency (meta.order).
func (s *Server) urgencyRange(ctx context.Context, tx *sql.Tx, f *filter) error {
	o, err := s.current(ctx, tx)
	if o == nil || err != nil {
		return err
	}
	var spans [5]urgencySpan
	for pi := range spans {
		spans[pi] = emptySpan()
		for _, st := range f.statuses {
			for _, r := range f.allRatings() {
				spans[pi].join(o.urgencies[pi][statusIndex(st)*6+rank(r)])
			}
		}
	}
	f.spans = &spans
	return nil
}

// countRanges counts, up to limit, the entries of detections_status in
// the ranges of the filter's statuses, ratings and deadlines: an upper
// bound of its matches that costs no more than limit entries to read.
func countRanges(ctx context.Context, tx *sql.Tx, f *filter, limit int) (int, error) {
	q := "SELECT 1 FROM detections" + f.d.indexed("detections_status") + " WHERE type <> 'Info' AND status IN (" + placeholders(len(f.statuses)) + ")"
	var args []any
	for _, st := range f.statuses {
		args = append(args, st)
	}
	ratings := f.allRatings()
	q += " AND vuln_score IN (" + placeholders(len(ratings)) + ")"
	for _, r := range ratings {
		args = append(args, r)
	}
	if f.due != nil {
		q += " AND breach_date >= ? AND breach_date < ?"
		args = append(args, f.due[0], f.due[1])
	}
	return boundedCount(ctx, tx, f.d, q, args, limit)
}

// rangeEntries counts, up to limit, the entries of detections_status in
// the ranges of the filter's statuses, ratings and deadlines, which a set
// read from them passes over (countRanges). The overview has counted
// them, when it describes this state of the store and the filter has no
// deadline: on PostgreSQL, counting them visits the table for each entry
// until vacuum has marked its pages all-visible (0.1 to 0.4 s for 20,000
// entries right after a first import).
func (s *Server) rangeEntries(ctx context.Context, tx *sql.Tx, f *filter, limit int) (int, error) {
	o, err := s.counted(ctx, tx)
	if err != nil {
		return 0, err
	}
	if o == nil || f.due != nil {
		return countRanges(ctx, tx, f, limit)
	}
	n := 0
	seen := map[int]bool{} // statuses the overview does not name share a cell
	for _, st := range f.statuses {
		si := statusIndex(st)
		if seen[si] {
			continue
		}
		seen[si] = true
		for _, r := range f.allRatings() {
			for c := range o.cells {
				for _, k := range o.cells[c][si][rank(r)] {
					n += int(k)
				}
			}
		}
	}
	return min(n, limit), nil
}

// countPriorities counts, up to limit, the entries of detections_priority
// in the ranges of the filter's priorities.
func countPriorities(ctx context.Context, tx *sql.Tx, f *filter, limit int) (int, error) {
	return countIn(ctx, tx, f, "detections_priority", "type <> 'Info' AND priority", f.prios, limit)
}

// countIn counts, up to limit, the entries of index whose column (the
// end of where) is one of values.
func countIn(ctx context.Context, tx *sql.Tx, f *filter, index, where string, values []string, limit int) (int, error) {
	q := "SELECT 1 FROM detections" + f.d.indexed(index) + " WHERE " + where + " IN (" + placeholders(len(values)) + ")"
	args := make([]any, 0, len(values)+1)
	for _, v := range values {
		args = append(args, v)
	}
	return boundedCount(ctx, tx, f.d, q, args, limit)
}

// countOwners counts, up to limit, the entries of detections_owner of
// the filter's owners.
func countOwners(ctx context.Context, tx *sql.Tx, f *filter, limit int) (int, error) {
	return countIn(ctx, tx, f, "detections_owner", "owner", f.owners, limit)
}

// countQIDs counts, up to limit, the detections of the filter's QIDs: an
// upper bound of its matches read from detections_qid alone.
func countQIDs(ctx context.Context, tx *sql.Tx, f *filter, limit int) (int, error) {
	q := "SELECT 1 FROM detections" + f.d.indexed("detections_qid") + " WHERE "
	var args []any
	if len(f.qids) <= 64 {
		q += "qid IN (" + placeholders(len(f.qids)) + ")"
		for _, id := range f.qids {
			args = append(args, id)
		}
	} else {
		q += f.d.inInts("qid")
		args = append(args, ints(f.d, f.qids))
	}
	return boundedCount(ctx, tx, f.d, q, args, limit)
}

// count counts the matches of a set, up to limit.
func count(ctx context.Context, tx *sql.Tx, f *filter, src source, limit int) (int, error) {
	table, noIndex := src.from(f.d)
	where, args := f.sql(noIndex, true)
	return boundedCount(ctx, tx, f.d, "SELECT 1"+table+" WHERE type <> 'Info'"+where, args, limit)
}

// plan chooses how to read the list: the smallest set the filter selects,
// if one is small enough to sort; else a walk. It returns the number of
// matches when it counted them all, else -1.
func (s *Server) plan(ctx context.Context, tx *sql.Tx, f *filter, sort string) (src source, gather bool, total int, err error) {
	try := func(src source, max int) (bool, error) {
		n, err := count(ctx, tx, f, src, max+1)
		if err != nil || n > max {
			return false, err
		}
		total = n
		return true, nil
	}
	total = -1
	if f.hostIDs != nil {
		if ok, err := try(fromHosts, s.gatherMax.hosts); ok || err != nil {
			return fromHosts, ok, total, err
		}
	}
	if f.qids != nil {
		// Counted in detections_qid alone (Info and closed detections
		// included): counting the matches would read the table. In the
		// priority order a common QID's findings are spread over the
		// priorities and found one in dozens of entries (measured on a
		// million findings: 9,500 detections walked in 300-800 ms, sorted
		// in 90-130 ms, 16-23 ms since the set is read from
		// detections_qid alone), so its set is sorted up to four times
		// larger.
		limit := s.gatherMax.qids
		if sort == "priority" {
			limit *= 4
		}
		n, err := countQIDs(ctx, tx, f, limit+1)
		if err != nil {
			return 0, false, -1, err
		}
		if n <= limit {
			return fromQIDs, true, -1, nil
		}
	}
	if f.owners != nil {
		// An owner's findings, from detections_owner: a team owns a share
		// of the findings, which a walk would find one in many entries
		// (each looked up in the table for its owner).
		n, err := countOwners(ctx, tx, f, s.gatherMax.ranges+1)
		if err != nil {
			return 0, false, -1, err
		}
		if n <= s.gatherMax.ranges {
			return fromOwners, true, -1, nil
		}
	}
	// The rating and deadline orders walk the status ranges already; the
	// host order walks the table, where a rare status, rating or deadline
	// is scattered. The ranges are counted alone: counting the
	// matches of a filter that is not a range (a tag, closed) may read
	// the whole index.
	if f.prios != nil && sort != "priority" {
		// A priority's findings are read from its ranges of
		// detections_priority: P1 is a few in a hundred.
		n, err := countPriorities(ctx, tx, f, s.gatherMax.ranges+1)
		if err != nil {
			return 0, false, -1, err
		}
		if n <= s.gatherMax.ranges {
			return fromPriority, true, -1, nil
		}
	}
	switch sort {
	case "host":
		// Empty ranges hold no match: a walk would pass over the whole
		// table to find none.
		n, err := s.rangeEntries(ctx, tx, f, s.gatherMax.hostRanges+1)
		if err != nil || n > s.gatherMax.hostRanges {
			return 0, false, -1, err
		}
		if n == 0 {
			return fromRanges, true, 0, nil
		}
		return fromRanges, true, -1, nil
	case "priority":
		// The priority order walks detections_priority, which covers the
		// status, rating and deadline filters: even a rare one (an
		// ignored finding in a hundred, due within the week) fills a page
		// in a few thousand entries, where reading its set from
		// detections_status would look each entry up in the table for
		// its priority (measured: 5-25 ms walked, 25-300 ms sorted). Only
		// a set that is next to nothing (a rating no finding has) is
		// read, rather than walking the whole index to find it empty.
		n, err := s.rangeEntries(ctx, tx, f, priorityGather+1)
		if err != nil || n > priorityGather {
			return 0, false, -1, err
		}
		if n == 0 {
			return fromRanges, true, 0, nil
		}
		return fromRanges, true, -1, nil
	}
	return 0, false, -1, nil
}

// Findings reads one page of the findings list.
func (s *Server) Findings(ctx context.Context, q Query) (*Page, error) {
	tx, err := s.st.BeginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	defer tx.Rollback()
	return s.findings(ctx, tx, q, false)
}

// findings reads a page; forceWalk (tests) walks an index even for a
// small set.
func (s *Server) findings(ctx context.Context, tx *sql.Tx, q Query, forceWalk bool) (*Page, error) {
	today := s.now()
	page := &Page{Query: q, Total: -1, Rows: []Row{}}
	f, err := s.resolve(ctx, tx, q, today)
	if err != nil {
		return nil, err
	}
	n := q.limit()
	if f.none {
		page.Total, page.Plan = 0, "set"
		return page, nil
	}
	read := func(desc bool, from *Cursor, n int) ([]Cursor, error) {
		return s.walk(ctx, tx, f, q.Sort, desc, from, n)
	}
	page.Plan = "index"
	if !forceWalk {
		src, gather, total, err := s.plan(ctx, tx, f, q.Sort)
		if err != nil {
			return nil, err
		}
		if gather && total == 0 {
			page.Total, page.Plan = 0, "set"
			return page, nil
		}
		if gather {
			if total > 0 && len(f.skip) > 0 {
				n, err := skippedMatches(ctx, tx, f)
				if err != nil {
					return nil, err
				}
				total -= n
			}
			page.Total, page.Plan = total, "set"
			read = func(desc bool, from *Cursor, n int) ([]Cursor, error) {
				return s.gather(ctx, tx, f, src, q.Sort, desc, from, n)
			}
		} else {
			if f.qids != nil {
				if err := s.maskQIDs(ctx, tx, f); err != nil {
					return nil, err
				}
			}
			if f.prios != nil && q.Sort != "priority" && q.Sort != "host" {
				if err := s.maskPriorities(ctx, tx, f); err != nil {
					return nil, err
				}
			}
			if f.masked || f.pmasked {
				page.Plan = "masked"
			}
		}
	}
	if page.Plan != "set" && q.Sort == "priority" && (f.ratings != nil || q.Status != "") {
		if err := s.urgencyRange(ctx, tx, f); err != nil {
			return nil, err
		}
	}
	if f.tagged != nil {
		// The counts were of every host's findings.
		page.Total = -1
		all := read
		read = func(desc bool, from *Cursor, n int) ([]Cursor, error) {
			return readTagged(f.tagged, func(from *Cursor, n int) ([]Cursor, error) { return all(desc, from, n) }, from, n)
		}
	}
	var keys []Cursor
	if q.Before != nil {
		// The page before a row: read backwards from it, one row more to
		// know whether there is a page before this one.
		keys, err = read(!q.Desc, q.Before, n+1)
		if err != nil {
			return nil, err
		}
		if len(keys) > n {
			keys = keys[:n]
			page.Prev = &keys[n-1]
		}
		slices.Reverse(keys)
		if len(keys) > 0 {
			page.Next = &keys[len(keys)-1]
		}
		if page.Prev != nil {
			page.Prev = &keys[0]
		}
	} else {
		keys, err = read(q.Desc, q.After, n+1)
		if err != nil {
			return nil, err
		}
		if len(keys) > n {
			keys = keys[:n]
			page.Next = &keys[n-1]
		}
		if q.After != nil && len(keys) > 0 {
			page.Prev = &keys[0]
		}
	}
	if f.byQID {
		page.Plan = "qids"
	}
	if page.Total < 0 && q.rangesOnly() {
		// Counting a walk's matches would read the whole index; the
		// overview has counted the lists of a status, rating and deadline.
		o, err := s.counted(ctx, tx)
		if err != nil {
			return nil, err
		}
		if o != nil {
			if n, ok := o.count(q); ok {
				page.Total = n
			}
		}
	}
	page.Rows, err = s.rows(ctx, tx, keys, today)
	return page, err
}

// readTagged reads up to n rows after from, of those read reads in its
// order, whose hosts are tagged: it reads them a few pages at a time,
// twice as many each time.
func readTagged(tagged map[int64]bool, read func(from *Cursor, n int) ([]Cursor, error), from *Cursor, n int) ([]Cursor, error) {
	var out []Cursor
	for size := 8 * n; ; size *= 2 {
		keys, err := read(from, size)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if tagged[k.HostID] {
				out = append(out, k)
			}
		}
		if len(out) >= n || len(keys) < size {
			return out[:min(len(out), n)], nil
		}
		from = &keys[len(keys)-1]
	}
}

// First is the position in the list of the page's first row (1 for the
// first page), 0 when not known (a cursor without its start).
func (p *Page) First() int {
	switch {
	case len(p.Rows) == 0:
		return 0
	case p.Query.After == nil && p.Query.Before == nil:
		return 1
	}
	return p.Query.Start
}

// Range says which rows of the list the page holds: "1–100 of 6,251",
// "101–200", "100 shown of 6,251".
func (p *Page) Range() string {
	total := ""
	if p.Total >= 0 {
		total = " of " + num(p.Total)
	}
	if len(p.Rows) == 0 {
		return "none" + total
	}
	if f := p.First(); f > 0 {
		return num(f) + "–" + num(f+len(p.Rows)-1) + total
	}
	return num(len(p.Rows)) + " shown" + total
}

// NextStart and PrevStart are the positions of the first rows of the next
// and previous pages, 0 when not known.
func (p *Page) NextStart() int {
	if f := p.First(); f > 0 {
		return f + len(p.Rows)
	}
	return 0
}

func (p *Page) PrevStart() int {
	if f := p.First(); f > 0 {
		return max(1, f-p.Query.limit())
	}
	return 0
}

// rows completes a page's rows, in one query: SQLite prepares a join of
// four tables in about as long as it takes to run it for a hundred rows.
func (s *Server) rows(ctx context.Context, tx *sql.Tx, keys []Cursor, today time.Time) ([]Row, error) {
	if len(keys) == 0 {
		return []Row{}, nil
	}
	var sb strings.Builder
	args := make([]any, 0, 4*len(keys))
	sb.WriteString("WITH p(h, q, t, i) AS (VALUES ")
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(s.sql.keyRow())
		args = append(args, k.HostID, k.QID, k.Port, i)
	}
	sb.WriteString(`) SELECT p.i, COALESCE(NULLIF(h.ip, ''), h.ipv6), COALESCE(NULLIF(h.fqdn, ''), NULLIF(h.dns, ''), h.netbios),
  d.protocol, d.status, d.closed, d.first_found, d.last_found, COALESCE(k.title, ''), s.env_score,
  d.priority, d.priority_reason, d.due_date, d.urgency, d.qds,
  COALESCE(r.kev, 0), COALESCE(r.kev_ransomware, 0), r.epss, r.epss_percentile, COALESCE(r.threat_intel, '[]'),
  d.owner, d.exception_id, d.excepted_until
FROM p` + s.sql.fixedJoin() + `detections d ON d.host_id = p.h AND d.qid = p.q AND d.port = p.t
JOIN hosts h ON h.id = d.host_id
LEFT JOIN kb_vulns k ON k.qid = d.qid
LEFT JOIN qid_scores s ON s.qid = d.qid AND s.policy = h.policy
LEFT JOIN qid_risk r ON r.qid = d.qid`)
	rs, err := tx.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	defer rs.Close()
	day := today.UTC().Format(time.DateOnly)
	soon := today.UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	out := make([]Row, len(keys))
	var excIDs []int64
	seen := 0
	for rs.Next() {
		var i int
		var score, epss, pct sql.NullFloat64
		var qds sql.NullInt64
		var first, last, kev, ransom int64
		var ti, until string
		var exc int64
		var r Row
		if err := rs.Scan(&i, &r.Address, &r.Hostname, &r.Protocol, &r.Status, &r.ClosedReason, &first, &last, &r.Title, &score,
			&r.Priority, &r.PriorityReason, &r.DueDate, &r.urgency, &qds, &kev, &ransom, &epss, &pct, &ti,
			&r.Owner, &exc, &until); err != nil {
			return nil, fmt.Errorf("findings: %w", err)
		}
		r.KEV, r.KEVRansomware = kev != 0, ransom != 0
		if epss.Valid {
			r.EPSS = &epss.Float64
		}
		if pct.Valid {
			r.EPSSPercentile = &pct.Float64
		}
		if qds.Valid {
			v := int(qds.Int64)
			r.QDS = &v
		}
		r.ThreatIntel = names(ti)
		k := keys[i]
		r.HostID, r.QID, r.Port, r.Rating, r.Deadline = k.HostID, k.QID, k.Port, k.Rating, k.Deadline
		if score.Valid {
			r.Score = &score.Float64
		}
		r.Key = finding.Key(r.Address, r.QID, r.Port)
		if first > 0 {
			r.FirstFound = time.Unix(first, 0).UTC()
		}
		if last > 0 {
			r.LastFound = time.Unix(last, 0).UTC()
		}
		r.Closed = r.ClosedReason != ""
		// Excepted while the exception's last day is today or later; an
		// expired one hides nothing, whether a write recorded it or not.
		if exc != 0 && until >= day {
			r.Excepted, r.Exception = true, exceptionName(exc)
			if until != store.NoExpiry {
				r.ExceptedUntil = until
			}
			excIDs = append(excIDs, exc)
		}
		r.DueOverdue = !r.Closed && !r.Excepted && r.DueDate != "" && r.DueDate < day
		if !r.Closed && !r.Excepted && r.Deadline != "" {
			r.Overdue = r.Deadline < day
			r.DueSoon = !r.Overdue && r.Deadline <= soon
			if r.Overdue {
				r.DaysOverdue = daysBetween(r.Deadline, day)
			}
		}
		out[i] = r
		seen++
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("findings: %w", err)
	}
	if seen != len(keys) {
		return nil, fmt.Errorf("findings: %d of %d rows of the page are missing", len(keys)-seen, len(keys))
	}
	jira, err := s.jiraKeys(ctx, tx, out)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Jira = jira(&out[i])
	}
	if len(excIDs) > 0 {
		slices.Sort(excIDs)
		reasons, err := exceptionReasons(ctx, tx, slices.Compact(excIDs))
		if err != nil {
			return nil, err
		}
		for i := range out {
			if out[i].Excepted {
				id, _ := exceptions.ParseName(out[i].Exception)
				out[i].ExceptionReason = reasons[id]
			}
		}
	}
	return out, nil
}

// names reads a JSON list of names (qid_risk's threat_intel), never nil.
func names(s string) []string {
	var out []string
	if len(s) > 2 {
		json.Unmarshal([]byte(s), &out) //nolint:errcheck // qvt writes the column: a bad one reads as none
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// daysBetween is the number of days from one YYYY-MM-DD date to another.
func daysBetween(from, to string) int {
	a, err1 := time.Parse(time.DateOnly, from)
	b, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int(b.Sub(a).Hours() / 24)
}

// jiraKeys looks up the Jira issues of rows: the finding's own issue, else
// that of its QID's or its host's group, as publish_map records them.
func (s *Server) jiraKeys(ctx context.Context, tx *sql.Tx, rows []Row) (func(*Row) string, error) {
	items := map[string]bool{}
	for _, r := range rows {
		items[r.Key] = true
		items["qid:"+strconv.Itoa(r.QID)] = true
		items["host:"+strconv.FormatInt(r.HostID, 10)] = true
	}
	args := []any{}
	for it := range items {
		args = append(args, it)
	}
	got := map[string]string{}
	rs, err := tx.QueryContext(ctx, "SELECT item, remote FROM publish_map WHERE target = 'jira' AND remote <> '' AND item IN ("+placeholders(len(args))+")", args...)
	if err != nil {
		return nil, fmt.Errorf("findings: publish map: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var item, remote string
		if err := rs.Scan(&item, &remote); err != nil {
			return nil, err
		}
		got[item] = remote
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return func(r *Row) string {
		return cmp.Or(got[r.Key], got["qid:"+strconv.Itoa(r.QID)], got["host:"+strconv.FormatInt(r.HostID, 10)])
	}, nil
}
