package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"qvt/internal/finding"
	"qvt/internal/unixtime"
)

// Filter selects findings. Empty fields select everything.
type Filter struct {
	Statuses  []string // Qualys statuses (New, Active, Re-Opened, Fixed)
	MinRating string   // lowest vuln_score to include
	Hosts     []string // IP or IPv6 address, hostname or host id
	QIDs      []int
	CVEs      []string // findings whose QID lists one of these CVEs
}

// ParseStatuses reads a --status value: "open" (New, Active, Re-Opened),
// "fixed", or a comma-separated list of Qualys statuses, case-insensitive.
func ParseStatuses(s string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		switch strings.ToLower(part) {
		case "":
			continue
		case "open":
			out = append(out, "New", "Active", "Re-Opened")
		case "fixed", "closed":
			out = append(out, "Fixed")
		case "new":
			out = append(out, "New")
		case "active":
			out = append(out, "Active")
		case "re-opened", "reopened":
			out = append(out, "Re-Opened")
		default:
			return nil, fmt.Errorf("unknown status %q (want open, fixed, or New, Active, Re-Opened, Fixed)", part)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// kbEntry is what findings of one QID under one environment policy share.
// Its strings are shared by every finding of the QID, so encoders can
// recognise a repeat by comparing them (equal pointers compare in O(1)).
type kbEntry struct {
	title, category, vulnType, diagnosis, consequence, solution string
	patchable, remote                                           bool
	vendorRefs, cves                                            []string
	cveID, version, vector                                      string
	base, temporal, env                                         *float64
	kbSeverity                                                  int
	legacy                                                      Legacy
}

// Legacy holds what only the old tool's record shape needs.
type Legacy struct {
	ImpactC, ImpactI, ImpactA         string // KB CVSS_V3 (else CVSS) IMPACT
	BaseRating, TempRating, EnvRating string
}

// Row is one finding with the extras the legacy export needs.
type Row struct {
	finding.Finding
	Legacy *Legacy
}

// kbCacheSize bounds the per-QID cache: QIDs repeat across hosts, but a
// full KB held in memory would be hundreds of megabytes.
const kbCacheSize = 4096

// Findings calls fn for each finding matching f, in key order. Keys are
// "<address>:<qid>:<port>" compared as text; findings are read host by
// host (the table's primary key starts with the host) and sorted per group
// of hosts whose keys can interleave, so no sort of the whole table is
// needed. When two hosts share an address, the finding found most
// recently wins.
func (s *Store) Findings(ctx context.Context, f Filter, fn func(*Row) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(driver.Conn).Raw()
		old := c.SetInterrupt(ctx)
		defer c.SetInterrupt(old)
		r := &reader{c: c, kb: map[[2]int]*kbEntry{}}
		defer r.close()
		if err := c.Exec("BEGIN"); err != nil { // one snapshot for the whole read
			return fmt.Errorf("store: %w", err)
		}
		defer c.Exec("COMMIT")
		return r.findings(f, fn)
	})
}

type reader struct {
	c     *sqlite3.Conn
	stmts []*sqlite3.Stmt
	kb    map[[2]int]*kbEntry
	kbQ   *sqlite3.Stmt
}

func (r *reader) close() {
	for _, st := range r.stmts {
		st.Close()
	}
}

func (r *reader) prepare(q string) (*sqlite3.Stmt, error) {
	st, _, err := r.c.Prepare(q)
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
}

func (r *reader) findings(f Filter, fn func(*Row) error) error {
	hosts, err := r.hosts(f)
	if err != nil {
		return err
	}
	where, args, err := r.detectionFilter(f)
	if err != nil {
		return err
	}
	dq, err := r.prepare(`SELECT qid, port, protocol, type, severity, status, times_found,
  first_found, last_found, last_fixed, results, vuln_score, breach_date
FROM detections WHERE host_id = ?1 AND type <> 'Info'` + where)
	if err != nil {
		return err
	}
	for i, a := range args {
		if err := bindAny(dq, i+2, a); err != nil {
			return err
		}
	}
	var group []*Row
	flush := func() error {
		slices.SortStableFunc(group, func(a, b *Row) int {
			if c := strings.Compare(a.Key, b.Key); c != 0 {
				return c
			}
			// Most recently found first: it is the one kept.
			return strings.Compare(lastFound(b), lastFound(a))
		})
		prev := ""
		for _, row := range group {
			if row.Key == prev {
				continue
			}
			prev = row.Key
			if err := fn(row); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	groupPrefix := ""
	for _, h := range hosts {
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
			row, err := r.row(dq, h)
			if err != nil {
				return err
			}
			group = append(group, row)
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

func lastFound(r *Row) string {
	if r.LastFound == nil {
		return ""
	}
	return *r.LastFound
}

// hosts lists the hosts to read, sorted by key prefix ("<address>:").
func (r *reader) hosts(f Filter) ([]hostRow, error) {
	q := `SELECT id, COALESCE(NULLIF(ip, ''), ipv6), COALESCE(NULLIF(fqdn, ''), NULLIF(dns, ''), netbios), os, policy FROM hosts`
	var args []any
	if len(f.Hosts) > 0 {
		var ors []string
		for _, h := range f.Hosts {
			if id, err := strconv.ParseInt(h, 10, 64); err == nil {
				ors = append(ors, "id = ?")
				args = append(args, id)
				continue
			}
			ors = append(ors, "ip = ? OR ipv6 = ? OR lower(fqdn) = lower(?) OR lower(dns) = lower(?) OR lower(netbios) = lower(?)")
			args = append(args, h, h, h, h, h)
		}
		q += " WHERE " + strings.Join(ors, " OR ")
	}
	st, err := r.prepare(q)
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if err := bindAny(st, i+1, a); err != nil {
			return nil, err
		}
	}
	var hosts []hostRow
	for st.Step() {
		hosts = append(hosts, hostRow{
			id:       st.ColumnInt64(0),
			addr:     st.ColumnText(1),
			hostname: st.ColumnText(2),
			os:       st.ColumnText(3),
			policy:   st.ColumnInt(4),
		})
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	slices.SortFunc(hosts, func(a, b hostRow) int {
		if c := strings.Compare(a.addr+":", b.addr+":"); c != 0 {
			return c
		}
		return int(a.id - b.id)
	})
	return hosts, nil
}

// detectionFilter turns the detection filters into SQL, numbering
// parameters from ?2 (?1 is the host id).
func (r *reader) detectionFilter(f Filter) (string, []any, error) {
	var sb strings.Builder
	var args []any
	in := func(col string, vals []any) {
		sb.WriteString(" AND " + col + " IN (")
		for i, v := range vals {
			if i > 0 {
				sb.WriteString(",")
			}
			args = append(args, v)
			fmt.Fprintf(&sb, "?%d", len(args)+1)
		}
		sb.WriteString(")")
	}
	if len(f.Statuses) > 0 {
		var vs []any
		for _, s := range f.Statuses {
			vs = append(vs, s)
		}
		in("status", vs)
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
		st, err := r.prepare("SELECT DISTINCT qid FROM kb_cves WHERE cve_id = ?")
		if err != nil {
			return "", nil, err
		}
		var cveQIDs []int
		for _, c := range f.CVEs {
			st.BindText(1, strings.ToUpper(strings.TrimSpace(c)))
			for st.Step() {
				cveQIDs = append(cveQIDs, st.ColumnInt(0))
			}
			if err := st.Err(); err != nil {
				return "", nil, err
			}
			st.Reset()
		}
		if len(qids) > 0 {
			qids = slices.DeleteFunc(qids, func(q int) bool { return !slices.Contains(cveQIDs, q) })
		} else {
			qids = cveQIDs
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
	return sb.String(), args, nil
}

func bindAny(st *sqlite3.Stmt, i int, a any) error {
	switch v := a.(type) {
	case int64:
		return st.BindInt64(i, v)
	case string:
		return st.BindText(i, v)
	}
	return fmt.Errorf("store: unsupported parameter %T", a)
}

func (r *reader) row(st *sqlite3.Stmt, h hostRow) (*Row, error) {
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
	kb, err := r.kbEntry(f.QID, h.policy)
	if err != nil {
		return nil, err
	}
	if f.Severity == 0 {
		f.Severity = kb.kbSeverity
	}
	f.Title, f.Category, f.VulnType = kb.title, kb.category, kb.vulnType
	f.Diagnosis, f.Consequence, f.Solution = kb.diagnosis, kb.consequence, kb.solution
	f.Patchable, f.Remote = kb.patchable, kb.remote
	f.VendorRefs, f.CVEs = kb.vendorRefs, kb.cves
	f.CVEID, f.CVSSVersion, f.CVSSVector = kb.cveID, kb.version, kb.vector
	f.Base, f.Temporal, f.EnvScore = kb.base, kb.temporal, kb.env
	row.Legacy = &kb.legacy
	return row, nil
}

func optTime(st *sqlite3.Stmt, i int) *string {
	if t := st.ColumnInt64(i); t != 0 {
		s := unixtime.Format(t)
		return &s
	}
	return nil
}

// kbEntry returns the KB and score fields of a QID under a policy, from a
// bounded cache.
func (r *reader) kbEntry(qid, policy int) (*kbEntry, error) {
	k := [2]int{qid, policy}
	if e, ok := r.kb[k]; ok {
		return e, nil
	}
	if r.kbQ == nil {
		st, err := r.prepare(`SELECT k.title, k.category, k.vuln_type, k.diagnosis, k.consequence, k.solution,
  k.patchable, k.remote, k.vendor_refs, k.severity,
  COALESCE(NULLIF(k.cvss3_impact_c, ''), k.cvss_impact_c), COALESCE(NULLIF(k.cvss3_impact_i, ''), k.cvss_impact_i),
  COALESCE(NULLIF(k.cvss3_impact_a, ''), k.cvss_impact_a),
  (SELECT json_group_array(cve_id) FROM (SELECT cve_id FROM kb_cves c WHERE c.qid = k.qid ORDER BY ord)),
  s.cve_id, s.cvss_version, s.cvss_vector, s.base, s.temporal, s.env_score,
  s.base_rating, s.temporal_rating, s.env_rating
FROM (SELECT ?1 AS qid) q
LEFT JOIN kb_vulns k ON k.qid = q.qid
LEFT JOIN qid_scores s ON s.qid = q.qid AND s.policy = ?2`)
		if err != nil {
			return nil, err
		}
		r.kbQ = st
	}
	st := r.kbQ
	defer st.Reset()
	st.BindInt64(1, int64(qid))
	st.BindInt64(2, int64(policy))
	e := &kbEntry{vendorRefs: []string{}, cves: []string{}}
	if st.Step() {
		e.title = st.ColumnText(0)
		e.category = st.ColumnText(1)
		e.vulnType = st.ColumnText(2)
		e.diagnosis = st.ColumnText(3)
		e.consequence = st.ColumnText(4)
		e.solution = st.ColumnText(5)
		e.patchable = st.ColumnBool(6)
		e.remote = st.ColumnBool(7)
		e.vendorRefs = refIDs(st.ColumnRawText(8))
		e.kbSeverity = st.ColumnInt(9)
		e.legacy.ImpactC = st.ColumnText(10)
		e.legacy.ImpactI = st.ColumnText(11)
		e.legacy.ImpactA = st.ColumnText(12)
		if st.ColumnType(13) != sqlite3.NULL {
			if err := st.ColumnJSON(13, &e.cves); err != nil {
				return nil, fmt.Errorf("store: qid %d: cve list: %w", qid, err)
			}
		}
		e.cveID = st.ColumnText(14)
		e.version = st.ColumnText(15)
		e.vector = st.ColumnText(16)
		e.base = optFloat(st, 17)
		e.temporal = optFloat(st, 18)
		e.env = optFloat(st, 19)
		e.legacy.BaseRating = st.ColumnText(20)
		e.legacy.TempRating = st.ColumnText(21)
		e.legacy.EnvRating = st.ColumnText(22)
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("store: qid %d: %w", qid, err)
	}
	if len(r.kb) >= kbCacheSize {
		for k := range r.kb { // drop an arbitrary entry
			delete(r.kb, k)
			break
		}
	}
	r.kb[k] = e
	return e, nil
}

func optFloat(st *sqlite3.Stmt, i int) *float64 {
	if st.ColumnType(i) == sqlite3.NULL {
		return nil
	}
	f := st.ColumnFloat(i)
	return &f
}

// refIDs extracts the ids from the vendor_refs JSON column.
func refIDs(b []byte) []string {
	var refs []struct {
		ID string `json:"id"`
	}
	if len(b) <= 2 {
		return []string{}
	}
	if err := json.Unmarshal(b, &refs); err != nil {
		return []string{}
	}
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		if r.ID != "" {
			ids = append(ids, r.ID)
		}
	}
	return ids
}
