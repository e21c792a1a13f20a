package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/ncruces/go-sqlite3"

	"qvt/internal/finding"
	"qvt/internal/priority"
	"qvt/internal/unixtime"
)

// Filter selects findings. Empty fields select everything. Open,
// Statuses and States each add findings: a finding matches when any of
// them selects it.
type Filter struct {
	Open      bool     // open findings: not closed for any reason
	Statuses  []string // Qualys statuses (New, Active, Re-Opened, Fixed), open or closed
	States    []string // states (finding.States): open ones by Qualys status, closed ones by reason
	MinRating string   // lowest vuln_score to include
	Hosts     []string // IP or IPv6 address, hostname or host id
	QIDs      []int
	CVEs      []string // findings whose QID lists one of these CVEs
	Tags      []string // findings on hosts with one of these Qualys tags (case-insensitive)
	// Open findings with a deadline (YYYY-MM-DD) from DueFrom ("": any
	// past day) to DueTo, both included; DueTo "" filters nothing.
	DueFrom, DueTo string
	// Exploitation evidence and priority (docs/priority.md).
	Priorities []string // P1 … P4
	KEV        bool     // only findings whose QID is in CISA's KEV catalog
	MinEPSS    *float64 // only findings whose QID's EPSS is at least this
	// Owners (docs: Owners and exceptions): findings of these owners, by
	// name in any case; "none" selects the findings no rule owns.
	Owners []string
	// Excepted, when set, selects the findings an active exception covers
	// today (true) or those none covers (false).
	Excepted *bool
}

// Shared is what the findings of one QID under one environment policy
// share: the KB and score fields. Every finding of the QID points at the
// same Shared, so an encoder can encode these fields once and keep the
// bytes in JSON for as long as the entry lives.
type Shared struct {
	Title, Category, VulnType, Diagnosis, Consequence, Solution string
	Patchable, Remote                                           bool
	VendorRefs, CVEs                                            []string
	CVEID, Version, Vector                                      string
	Base, Temporal, Env                                         *float64
	KBSeverity                                                  int
	Risk                                                        priority.Risk // KEV, EPSS and threat intel (qid_risk)
	Legacy                                                      Legacy
	JSON                                                        []byte // set by the JSON encoder
	size                                                        int    // what it counts in a kbCache
}

// Legacy holds what only the old tool's record shape needs.
type Legacy struct {
	ImpactC, ImpactI, ImpactA         string // KB CVSS_V3 (else CVSS) IMPACT
	BaseRating, TempRating, EnvRating string
}

// Row is one finding, with the entry its KB fields come from.
type Row struct {
	finding.Finding
	Shared *Shared
}

// kbCacheBytes bounds the per-QID cache (kbcache.go): QIDs repeat across
// hosts, but a whole KB in memory would be hundreds of megabytes. An entry
// counts twice its text, for the encoding an exporter keeps with it.
var kbCacheBytes = 48 << 20 // a variable so that tests can make it small

// Findings calls fn for each finding matching f, in key order. Keys are
// "<address>:<qid>:<port>" compared as text; findings are read host by
// host (the table's primary key starts with the host) and sorted per group
// of hosts whose keys can interleave, so no sort of the whole table is
// needed. When two hosts share an address, the finding found most
// recently wins. Both engines give the same rows in the same order; on
// PostgreSQL the reader is pg_read.go's.
func (s *Store) Findings(ctx context.Context, f Filter, fn func(*Row) error) error {
	if s.pg != nil {
		return s.pgFindings(ctx, f, fn)
	}
	if f.KEV || f.MinEPSS != nil {
		// On SQLite each host's detections are read by a statement of
		// their own, and a subquery on qid_risk in it would run again for
		// every host. What KEV and EPSS say is the QID's, joined in with
		// its KB fields: it is tested there.
		kev, least, inner := f.KEV, f.MinEPSS, fn
		f.KEV, f.MinEPSS = false, nil
		fn = func(r *Row) error {
			if kev && !r.KEV || least != nil && (r.EPSS == nil || *r.EPSS < *least) {
				return nil
			}
			return inner(r)
		}
	}
	if f.few() {
		return s.Read(ctx, func(c *sqlite3.Conn) error {
			r := &reader{c: c, kb: c, cache: newKBCache(kbCacheBytes)}
			defer r.close()
			return r.findings(f, fn)
		})
	}
	// A whole list spends most of its time loading KB entries: a second
	// connection, in the same snapshot, loads them on another core while
	// the first reads detections.
	return s.readPair(ctx, func(a, b *sqlite3.Conn) error {
		if b == nil {
			b = a
		}
		r := &reader{c: a, kb: b, cache: newKBCache(kbCacheBytes)}
		defer r.close()
		return r.findings(f, fn)
	})
}

// few tells a read of a few hosts or QIDs, which needs no plan for its
// KB cache and no second connection.
func (f Filter) few() bool {
	return len(f.Hosts) > 0 || len(f.QIDs) > 0 || len(f.CVEs) > 0 || len(f.Tags) > 0
}

type reader struct {
	c      *sqlite3.Conn // detections, hosts and the plan
	kb     *sqlite3.Conn // KB entries and scores: c, or a second connection in c's snapshot
	stmts  []*sqlite3.Stmt
	cache  *kbCache
	plan   *plan // nil for a read of a few hosts or QIDs
	clock  int64 // uses so far, for least-recently-used without a plan
	kbQ    *sqlite3.Stmt
	scoreQ *sqlite3.Stmt
	riskQ  *sqlite3.Stmt
	lists  jsonList
}

// readRow is a finding as read from its detection row, before its KB
// entry is joined in.
type readRow struct {
	row    *Row
	policy int   // the host's environment policy
	rank   int32 // the host's position in reading order
}

// group is the findings of hosts whose keys can interleave: as read (the
// order of the KB uses the plan foresaw) and as written (sorted by key,
// one per key).
type group struct {
	read []readRow
	out  []*Row
}

// makePlan reads, from the QID index, which hosts have each QID, and
// numbers them in reading order. One pass over the index costs a fraction
// of the KB reads it saves. Info detections are in the plan too (the
// index does not hold the type); plan.use skips them.
func (r *reader) makePlan(hosts []hostRow) error {
	rank := make(map[int64]int32, len(hosts))
	for i, h := range hosts {
		rank[h.id] = int32(i)
	}
	st, err := r.prepare("SELECT qid, host_id FROM detections INDEXED BY detections_qid ORDER BY qid")
	if err != nil {
		return err
	}
	r.plan = newPlan(func(yield func(int, int32) bool) {
		for st.Step() {
			if rk, ok := rank[st.ColumnInt64(1)]; ok && !yield(st.ColumnInt(0), rk) {
				return
			}
		}
	})
	if err := st.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func (r *reader) close() {
	for _, st := range r.stmts {
		st.Close()
	}
}

func (r *reader) prepare(q string) (*sqlite3.Stmt, error) {
	return r.prepareOn(r.c, q)
}

func (r *reader) prepareOn(c *sqlite3.Conn, q string) (*sqlite3.Stmt, error) {
	st, _, err := c.Prepare(q)
	if err != nil {
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	r.stmts = append(r.stmts, st)
	return st, nil
}

type hostRow struct {
	id       int64
	addr     string
	hostname string
	os       string
	policy   int
	tags     []string // its Qualys tags, shared by its findings; set by withTags
}

func (r *reader) findings(f Filter, fn func(*Row) error) error {
	today := clock.Today()
	hosts, err := r.hosts(f)
	if err != nil {
		return err
	}
	if err := r.withTags(hosts); err != nil {
		return err
	}
	if !f.few() {
		if err := r.makePlan(hosts); err != nil {
			return err
		}
	}
	where, args, err := r.detectionFilter(f)
	if err != nil {
		return err
	}
	dq, err := r.prepare(`SELECT qid, port, protocol, type, severity, status, times_found,
  first_found, last_found, last_fixed, results, vuln_score, breach_date,
  closed, first_seen, last_seen, times_reopened, qds, priority, priority_reason, due_date,
  owner, exception_id, excepted_until
FROM detections WHERE host_id = ?1 AND type <> 'Info'` + where)
	if err != nil {
		return err
	}
	for i, a := range args {
		if err := Bind(dq, i+2, a); err != nil {
			return err
		}
	}
	send, wait := r.emitter(fn)
	var g group
	flush := func() error {
		if len(g.read) == 0 {
			return nil
		}
		g.settle()
		err := send(g)
		g = group{}
		return err
	}
	read := func() error {
		groupPrefix := ""
		for i, h := range hosts {
			prefix := h.addr + ":"
			if groupPrefix == "" || !strings.HasPrefix(prefix, groupPrefix) {
				if err := flush(); err != nil {
					return err
				}
				groupPrefix = prefix
			}
			if err := dq.BindInt64(1, h.id); err != nil {
				return err
			}
			for dq.Step() {
				g.read = append(g.read, readRow{row: detection(dq, h, today), policy: h.policy, rank: int32(i)})
			}
			if err := dq.Err(); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			if err := dq.Reset(); err != nil {
				return fmt.Errorf("store: %w", err)
			}
		}
		return flush()
	}
	return wait(read())
}

// emitter returns how a group is handed on (send) and how the reading
// ends (wait, given the reader's error). Each group's KB entries are
// joined in reading order, then its findings go to fn in key order. With
// a second connection that happens on a goroutine of its own.
func (r *reader) emitter(fn func(*Row) error) (send func(group) error, wait func(error) error) {
	emit := func(g group) error {
		for _, rr := range g.read {
			if err := r.join(rr); err != nil {
				return err
			}
		}
		for _, row := range g.out {
			if err := fn(row); err != nil {
				return err
			}
		}
		return nil
	}
	if r.kb == r.c {
		return emit, func(err error) error { return err }
	}
	return pipeStage(16, emit)
}

// errStopped ends the reading of detections when their consumer failed;
// the consumer's error is the one returned.
var errStopped = errors.New("store: findings: stopped")

// settle puts a group's findings in key order, one per key: of two hosts
// with one address, the finding found most recently.
func (g *group) settle() {
	for _, rr := range g.read {
		g.out = append(g.out, rr.row)
	}
	slices.SortStableFunc(g.out, func(a, b *Row) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		// Most recently found first: it is the one kept.
		return strings.Compare(lastFound(b), lastFound(a))
	})
	g.out = slices.CompactFunc(g.out, func(a, b *Row) bool { return a.Key == b.Key })
}

func lastFound(r *Row) string {
	if r.LastFound == nil {
		return ""
	}
	return *r.LastFound
}

// hosts lists the hosts to read, sorted by key prefix ("<address>:").
func (r *reader) hosts(f Filter) ([]hostRow, error) {
	q, args := hostsQuery(f, func(e string) string { return "lower(" + e + ")" })
	st, err := r.prepare(q)
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if err := Bind(st, i+1, a); err != nil {
			return nil, err
		}
	}
	var hosts []hostRow
	var systems interner // a few operating systems, on every host
	for st.Step() {
		hosts = append(hosts, hostRow{
			id:       st.ColumnInt64(0),
			addr:     st.ColumnText(1),
			hostname: st.ColumnText(2),
			os:       systems.name(st.ColumnRawText(3)),
			policy:   st.ColumnInt(4),
		})
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	sortHosts(hosts)
	return hosts, nil
}

// hostsQuery is the query of the hosts a filter selects (? parameters).
// lower folds the case of an SQL expression: SQLite's lower() folds ASCII
// letters only, and PostgreSQL's lower() folds more, so PostgreSQL is
// given one that matches the same hosts and tags.
func hostsQuery(f Filter, lower func(string) string) (string, []any) {
	q := `SELECT id, COALESCE(NULLIF(ip, ''), ipv6), COALESCE(NULLIF(fqdn, ''), NULLIF(dns, ''), netbios), os, policy FROM hosts`
	var args []any
	var conds []string
	if len(f.Tags) > 0 {
		conds = append(conds, "id IN (SELECT host_id FROM host_tags WHERE "+lower("name")+" IN ("+strings.TrimSuffix(strings.Repeat(lower("?")+",", len(f.Tags)), ",")+"))")
		for _, t := range f.Tags {
			args = append(args, t)
		}
	}
	if len(f.Hosts) > 0 {
		var ors []string
		for _, h := range f.Hosts {
			if id, err := strconv.ParseInt(h, 10, 64); err == nil {
				ors = append(ors, "id = ?")
				args = append(args, id)
				continue
			}
			ors = append(ors, "ip = ? OR ipv6 = ? OR "+lower("fqdn")+" = "+lower("?")+" OR "+lower("dns")+" = "+lower("?")+" OR "+lower("netbios")+" = "+lower("?"))
			args = append(args, h, h, h, h, h)
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	return q, args
}

// sortHosts puts hosts in reading order: by key prefix ("<address>:"),
// compared as bytes, then by id.
func sortHosts(hosts []hostRow) {
	slices.SortFunc(hosts, func(a, b hostRow) int {
		if c := strings.Compare(a.addr+":", b.addr+":"); c != 0 {
			return c
		}
		return int(a.id - b.id)
	})
}

// withTags gives each host its tags: for a few hosts, a query each; for
// many, one pass over every host's tags.
func (r *reader) withTags(hosts []hostRow) error {
	if len(hosts) <= 64 {
		st, err := r.prepare("SELECT name FROM host_tags WHERE host_id = ? ORDER BY name")
		if err != nil {
			return err
		}
		for i := range hosts {
			st.BindInt64(1, hosts[i].id)
			tags := []string{}
			for st.Step() {
				tags = append(tags, st.ColumnText(0))
			}
			if err := st.Err(); err != nil {
				return fmt.Errorf("store: tags: %w", err)
			}
			st.Reset()
			hosts[i].tags = tags
		}
		return nil
	}
	all, err := r.hostTags()
	if err != nil {
		return fmt.Errorf("store: tags: %w", err)
	}
	for i := range hosts {
		if hosts[i].tags = all[hosts[i].id]; hosts[i].tags == nil {
			hosts[i].tags = []string{}
		}
	}
	return nil
}

// detectionFilter turns the detection filters into SQL, numbering
// parameters from ?2 (?1 is the host id).
func (r *reader) detectionFilter(f Filter) (string, []any, error) {
	return detectionFilter(f, r.cveQIDs)
}

// cveQIDs lists the QIDs whose KB entry lists the CVE (upper case).
func (r *reader) cveQIDs(cve string) ([]int, error) {
	st, err := r.prepare("SELECT DISTINCT qid FROM kb_cves WHERE cve_id = ?")
	if err != nil {
		return nil, err
	}
	st.BindText(1, cve)
	var qids []int
	for st.Step() {
		qids = append(qids, st.ColumnInt(0))
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	return qids, nil
}

// detectionFilter is the detection filters as SQL on both engines;
// cveQIDs looks up the QIDs of a CVE.
func detectionFilter(f Filter, cveQIDs func(cve string) ([]int, error)) (string, []any, error) {
	var sb strings.Builder
	var args []any
	in := func(col string, vals []any) {
		if !strings.HasPrefix(col, "OR ") {
			sb.WriteString(" AND ")
		} else {
			sb.WriteString(" ")
		}
		sb.WriteString(col + " IN (")
		for i, v := range vals {
			if i > 0 {
				sb.WriteString(",")
			}
			args = append(args, v)
			fmt.Fprintf(&sb, "?%d", len(args)+1)
		}
		sb.WriteString(")")
	}
	// ph binds vals and returns their placeholders.
	ph := func(vals []string) string {
		var p []string
		for _, v := range vals {
			args = append(args, v)
			p = append(p, fmt.Sprintf("?%d", len(args)+1))
		}
		return strings.Join(p, ",")
	}
	// Open, Statuses and States each select findings; a finding matches
	// when any of them selects it.
	var ors []string
	if f.Open {
		ors = append(ors, "closed = ''")
	}
	if len(f.Statuses) > 0 {
		ors = append(ors, "status IN ("+ph(f.Statuses)+")")
	}
	if len(f.States) > 0 {
		var open, closed []string
		for _, st := range f.States {
			switch {
			case slices.Contains(finding.OpenStatuses, st):
				open = append(open, st)
			case slices.Contains(finding.ClosedReasons, st):
				closed = append(closed, st)
			default:
				return "", nil, fmt.Errorf("unknown state %q (want one of %s)", st, strings.Join(finding.States, ", "))
			}
		}
		slices.Sort(open)
		switch open = slices.Compact(open); {
		case len(open) == len(finding.OpenStatuses):
			ors = append(ors, "closed = ''") // open, whatever its status
		case len(open) > 0:
			ors = append(ors, "(closed = '' AND status IN ("+ph(open)+"))")
		}
		if len(closed) > 0 {
			ors = append(ors, "closed IN ("+ph(closed)+")")
		}
	}
	if len(ors) > 0 {
		sb.WriteString(" AND (" + strings.Join(ors, " OR ") + ")")
	}
	// An excepted finding is open but not overdue nor due: the business
	// accepted it until its exception ends. The test is the readers' own
	// (setException), so an exception past its last day whose expiry no
	// write has recorded yet no longer hides a finding.
	today := clock.Today()
	notExcepted := func() string { return "(exception_id = 0 OR excepted_until < " + ph([]string{today}) + ")" }
	if f.DueTo != "" {
		sb.WriteString(" AND closed = '' AND breach_date <> '' AND " + notExcepted())
		if f.DueFrom != "" {
			sb.WriteString(" AND breach_date >= " + ph([]string{f.DueFrom}))
		}
		sb.WriteString(" AND breach_date <= " + ph([]string{f.DueTo}))
	}
	if f.MinRating != "" {
		rank := finding.RatingRank(f.MinRating)
		if rank < 0 {
			return "", nil, fmt.Errorf("unknown rating %q (want None, Low, Medium, High or Critical)", f.MinRating)
		}
		var vs []any
		for _, r := range finding.Ratings[rank:] {
			vs = append(vs, r)
		}
		in("vuln_score", vs)
	}
	qids := slices.Clone(f.QIDs)
	if len(f.CVEs) > 0 {
		var found []int
		for _, c := range f.CVEs {
			qs, err := cveQIDs(strings.ToUpper(strings.TrimSpace(c)))
			if err != nil {
				return "", nil, err
			}
			found = append(found, qs...)
		}
		if len(qids) > 0 {
			qids = slices.DeleteFunc(qids, func(q int) bool { return !slices.Contains(found, q) })
		} else {
			qids = found
		}
		if len(qids) == 0 {
			qids = []int{-1} // no QID lists these CVEs: match nothing
		}
	}
	if len(qids) > 0 {
		var vs []any
		for _, q := range qids {
			vs = append(vs, int64(q))
		}
		in("qid", vs)
	}
	if len(f.Priorities) > 0 {
		var vs []any
		for _, p := range f.Priorities {
			if !slices.Contains(finding.Priorities, p) {
				return "", nil, fmt.Errorf("unknown priority %q (want P1, P2, P3 or P4)", p)
			}
			vs = append(vs, p)
		}
		in("priority", vs)
	}
	if f.KEV {
		sb.WriteString(" AND qid IN (SELECT qid FROM qid_risk WHERE kev = 1)")
	}
	if f.MinEPSS != nil {
		args = append(args, *f.MinEPSS)
		fmt.Fprintf(&sb, " AND qid IN (SELECT qid FROM qid_risk WHERE epss >= ?%d)", len(args)+1)
	}
	if len(f.Owners) > 0 {
		// Both sides folded by the engine's own lower(), so that a name
		// matches alike on both engines whatever its letters.
		var names []string
		for _, o := range f.Owners {
			if o = strings.TrimSpace(o); strings.EqualFold(o, "none") {
				names = append(names, "''")
			} else if o != "" {
				names = append(names, "lower("+ph([]string{o})+")")
			}
		}
		if len(names) == 0 {
			return "", nil, fmt.Errorf("owner: no owner named")
		}
		sb.WriteString(" AND lower(owner) IN (" + strings.Join(names, ",") + ")")
	}
	if f.Excepted != nil {
		if *f.Excepted {
			sb.WriteString(" AND exception_id <> 0 AND excepted_until >= " + ph([]string{today}))
		} else {
			sb.WriteString(" AND " + notExcepted())
		}
	}
	return sb.String(), args, nil
}

// Bind binds a parameter of a query made outside the store's own
// statements (int, int64 or string), numbered from 1.
func Bind(st *sqlite3.Stmt, i int, a any) error {
	var err error
	switch v := a.(type) {
	case int64:
		err = st.BindInt64(i, v)
	case int:
		err = st.BindInt64(i, int64(v))
	case string:
		err = st.BindText(i, v)
	case float64:
		err = st.BindFloat(i, v)
	default:
		err = fmt.Errorf("unsupported parameter type %T", a)
	}
	if err != nil {
		return fmt.Errorf("store: bind: %w", err)
	}
	return nil
}

// detection reads a finding's own fields from its detection row: the
// columns of Findings' query, in its order (qid ... breach_date, then
// closed, first_seen, last_seen, times_reopened, the priority's, then
// owner, exception_id, excepted_until). today (YYYY-MM-DD) tells whether
// its exception still covers it.
func detection(st *sqlite3.Stmt, h hostRow, today string) *Row {
	row := &Row{}
	f := &row.Finding
	f.QID = st.ColumnInt(0)
	f.Port = st.ColumnInt(1)
	f.IP = h.addr
	f.HostID = h.id
	f.Hostname = h.hostname
	f.OS = h.os
	f.Key = finding.Key(h.addr, f.QID, f.Port)
	f.Protocol = st.ColumnText(2)
	f.Type = st.ColumnText(3)
	f.Severity = st.ColumnInt(4)
	f.Status = st.ColumnText(5)
	f.TimesFound = st.ColumnInt(6)
	f.FirstFound = optTime(st, 7)
	f.LastFound = optTime(st, 8)
	f.LastFixed = optTime(st, 9)
	f.Results = st.ColumnText(10)
	f.VulnScore = st.ColumnText(11)
	f.BreachDate = st.ColumnText(12)
	f.ClosedReason = st.ColumnText(13)
	f.Closed = f.ClosedReason != ""
	f.FirstSeen = optTime(st, 14)
	f.LastSeen = optTime(st, 15)
	f.TimesReopened = st.ColumnInt(16)
	f.Tags = h.tags
	if st.ColumnType(17) != sqlite3.NULL {
		q := st.ColumnInt(17)
		f.QDS = &q
	}
	f.Priority = st.ColumnText(18)
	f.PriorityReason = st.ColumnText(19)
	f.DueDate = st.ColumnText(20)
	f.Owner = st.ColumnText(21)
	setException(f, st.ColumnInt64(22), st.ColumnText(23), today)
	return row
}

// NoExpiry is excepted_until for an exception without an expiry.
const NoExpiry = "9999-12-31"

// setException fills a finding's exception fields from its detection's
// exception_id and excepted_until: excepted while the exception covers
// today, whether or not its expiry has been recorded yet.
func setException(f *finding.Finding, id int64, until, today string) {
	if id == 0 || until < today {
		return
	}
	f.Excepted = true
	f.Exception = exceptions.Name(id)
	if until != NoExpiry {
		f.ExceptedUntil = until
	}
}

// join fills in a finding's KB and score fields.
func (r *reader) join(rr readRow) error {
	kb, err := r.shared(rr.row.QID, rr.policy, rr.rank)
	if err != nil {
		return err
	}
	joinShared(&rr.row.Finding, kb)
	rr.row.Shared = kb
	return nil
}

// joinShared copies a finding's KB and score fields from its entry.
func joinShared(f *finding.Finding, kb *Shared) {
	if f.Severity == 0 {
		f.Severity = kb.KBSeverity
	}
	f.Title, f.Category, f.VulnType = kb.Title, kb.Category, kb.VulnType
	f.Diagnosis, f.Consequence, f.Solution = kb.Diagnosis, kb.Consequence, kb.Solution
	f.Patchable, f.Remote = kb.Patchable, kb.Remote
	f.VendorRefs, f.CVEs = kb.VendorRefs, kb.CVEs
	f.CVEID, f.CVSSVersion, f.CVSSVector = kb.CVEID, kb.Version, kb.Vector
	f.Base, f.Temporal, f.EnvScore = kb.Base, kb.Temporal, kb.Env
	r := &kb.Risk
	f.KEV, f.KEVCVEs, f.KEVDateAdded, f.KEVDueDate, f.KEVRansomware = r.KEV, r.KEVCVEs, r.KEVDateAdded, r.KEVDueDate, r.KEVRansomware
	f.EPSS, f.EPSSPercentile, f.EPSSCVE, f.ThreatIntel = r.EPSS, r.Percentile, r.EPSSCVE, r.ThreatIntel
}

func optTime(st *sqlite3.Stmt, i int) *string {
	if t := st.ColumnInt64(i); t != 0 {
		s := unixtime.Format(t)
		return &s
	}
	return nil
}

// shared returns the KB and score fields of a QID under a policy, from
// the cache or the store.
func (r *reader) shared(qid, policy int, rank int32) (*Shared, error) {
	var next int64
	if r.plan != nil {
		next = r.plan.use(qid, rank)
	} else {
		r.clock++
		next = -r.clock // the least recently used has the largest
	}
	k := [2]int{qid, policy}
	if e := r.cache.get(k, next); e != nil {
		return e, nil
	}
	e, err := r.loadShared(qid, policy)
	if err != nil {
		return nil, err
	}
	r.cache.put(k, e, next)
	return e, nil
}

func (r *reader) loadShared(qid, policy int) (*Shared, error) {
	if r.kbQ == nil {
		var err error
		if r.kbQ, err = r.prepareOn(r.kb, `SELECT title, category, vuln_type, diagnosis, consequence, solution,
  patchable, remote, vendor_refs, severity, cves,
  COALESCE(NULLIF(cvss3_impact_c, ''), cvss_impact_c), COALESCE(NULLIF(cvss3_impact_i, ''), cvss_impact_i),
  COALESCE(NULLIF(cvss3_impact_a, ''), cvss_impact_a)
FROM kb_vulns WHERE qid = ?`); err != nil {
			return nil, err
		}
		if r.scoreQ, err = r.prepareOn(r.kb, `SELECT cve_id, cvss_version, cvss_vector, base, temporal, env_score,
  base_rating, temporal_rating, env_rating FROM qid_scores WHERE qid = ? AND policy = ?`); err != nil {
			return nil, err
		}
		if r.riskQ, err = r.prepareOn(r.kb, `SELECT `+riskSelect+` FROM qid_risk WHERE qid = ?`); err != nil {
			return nil, err
		}
	}
	e := &Shared{VendorRefs: []string{}, CVEs: []string{}, Risk: noRisk()}
	st := r.kbQ
	st.BindInt64(1, int64(qid))
	if st.Step() {
		e.Title = st.ColumnText(0)
		e.Category = st.ColumnText(1)
		e.VulnType = st.ColumnText(2)
		e.Diagnosis = st.ColumnText(3)
		e.Consequence = st.ColumnText(4)
		e.Solution = st.ColumnText(5)
		e.Patchable = st.ColumnBool(6)
		e.Remote = st.ColumnBool(7)
		e.VendorRefs = r.lists.list(st.ColumnRawText(8), "id")
		e.KBSeverity = st.ColumnInt(9)
		e.CVEs = r.lists.list(st.ColumnRawText(10), "")
		e.Legacy.ImpactC = st.ColumnText(11)
		e.Legacy.ImpactI = st.ColumnText(12)
		e.Legacy.ImpactA = st.ColumnText(13)
	}
	err := st.Err()
	st.Reset()
	if err != nil {
		return nil, fmt.Errorf("store: qid %d: %w", qid, err)
	}
	st = r.scoreQ
	st.BindInt64(1, int64(qid))
	st.BindInt64(2, int64(policy))
	if st.Step() {
		e.CVEID = st.ColumnText(0)
		e.Version = st.ColumnText(1)
		e.Vector = st.ColumnText(2)
		e.Base = optFloat(st, 3)
		e.Temporal = optFloat(st, 4)
		e.Env = optFloat(st, 5)
		e.Legacy.BaseRating = st.ColumnText(6)
		e.Legacy.TempRating = st.ColumnText(7)
		e.Legacy.EnvRating = st.ColumnText(8)
	}
	err = st.Err()
	st.Reset()
	if err != nil {
		return nil, fmt.Errorf("store: qid %d: %w", qid, err)
	}
	st = r.riskQ
	st.BindInt64(1, int64(qid))
	if st.Step() {
		readRisk(&e.Risk, st, 0, &r.lists)
	}
	err = st.Err()
	st.Reset()
	if err != nil {
		return nil, fmt.Errorf("store: qid %d: %w", qid, err)
	}
	e.setSize()
	return e, nil
}

// riskSelect are qid_risk's columns as readRisk reads them.
const riskSelect = `kev, kev_cves, kev_date_added, kev_due_date, kev_ransomware, epss, epss_percentile, epss_cve, threat_intel`

// noRisk is the risk of a QID nothing is known of: empty lists, as the
// export contract wants.
func noRisk() priority.Risk {
	return priority.Risk{KEVCVEs: []string{}, ThreatIntel: []string{}}
}

// readRisk reads riskSelect's columns from i.
func readRisk(r *priority.Risk, st Cols, i int, lists *jsonList) {
	r.KEV = st.ColumnBool(i)
	r.KEVCVEs = lists.list(st.ColumnRawText(i+1), "")
	r.KEVDateAdded = st.ColumnText(i + 2)
	r.KEVDueDate = st.ColumnText(i + 3)
	r.KEVRansomware = st.ColumnBool(i + 4)
	r.EPSS = optCol(st, i+5)
	r.Percentile = optCol(st, i+6)
	r.EPSSCVE = st.ColumnText(i + 7)
	r.ThreatIntel = lists.list(st.ColumnRawText(i+8), "")
}

// setSize sets what the entry counts in a kbCache.
func (e *Shared) setSize() {
	e.size = 2 * (256 + len(e.Title) + len(e.Category) + len(e.Diagnosis) + len(e.Consequence) + len(e.Solution) +
		32*(len(e.VendorRefs)+len(e.CVEs)) + len(e.Vector))
}

func optFloat(st *sqlite3.Stmt, i int) *float64 {
	if st.ColumnType(i) == sqlite3.NULL {
		return nil
	}
	f := st.ColumnFloat(i)
	return &f
}

// jsonList reads the lists the store keeps as JSON (kb_vulns.cves, an
// array of strings, and kb_vulns.vendor_refs, an array of objects whose
// "id" it takes). It reuses one decoder: an export reads such a list for
// every KB entry it loads, and a reflective decode of each costs more than
// the rest of the entry.
type jsonList struct {
	r   bytes.Reader
	dec *jsontext.Decoder
}

// list returns the strings of a JSON array: its string elements, or the
// member key of its object elements. It returns an empty list for
// anything else, as a column written by an older qvt may hold.
func (l *jsonList) list(b []byte, key string) []string {
	out := []string{}
	if len(b) <= 2 {
		return out
	}
	l.r.Reset(b)
	if l.dec == nil {
		l.dec = jsontext.NewDecoder(&l.r)
	} else {
		l.dec.Reset(&l.r)
	}
	d := l.dec
	if t, err := d.ReadToken(); err != nil || t.Kind() != '[' {
		return []string{}
	}
	for d.PeekKind() != ']' {
		switch d.PeekKind() {
		case '"':
			t, err := d.ReadToken()
			if err != nil {
				return []string{}
			}
			out = append(out, t.String())
		case '{':
			d.ReadToken()
			for d.PeekKind() == '"' {
				k, err := d.ReadToken()
				if err != nil {
					return []string{}
				}
				if k.String() == key && d.PeekKind() == '"' {
					v, err := d.ReadToken()
					if err != nil {
						return []string{}
					}
					if id := v.String(); id != "" {
						out = append(out, id)
					}
				} else if err := d.SkipValue(); err != nil {
					return []string{}
				}
			}
			if t, err := d.ReadToken(); err != nil || t.Kind() != '}' {
				return []string{}
			}
		default:
			return []string{}
		}
	}
	return out
}
