package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"qvt/internal/nvd"
	"qvt/internal/qualys"
)

// PostgreSQL's write path. A statement per row costs a network round trip
// per row; here a batch is copied (COPY, pgx's binary protocol) into
// temporary staging tables and applied with a few set-based statements,
// whose results are those of SQLite's row-by-row path (hosts.go, write.go,
// scores.go) row for row: the same rows, revisions, history and Stats.
//
// Staging tables are created once per transaction (ON COMMIT DROP, so a
// pooled connection or a PgBouncer in transaction mode never sees them
// again) and emptied before each use.

// pgStage makes sure the staging table name exists in this transaction,
// created by ddl (which names it pg_temp.name), and is empty.
func (tx *Tx) pgStage(name, ddl string) error {
	if tx.pgStaged == nil {
		tx.pgStaged = map[string]bool{}
	}
	q := "TRUNCATE pg_temp." + name
	if !tx.pgStaged[name] {
		q = ddl
	}
	if _, err := tx.pg.Exec(tx.ctx, q); err != nil {
		return fmt.Errorf("store: staging %s: %w", name, err)
	}
	tx.pgStaged[name] = true
	return nil
}

// pgCopy copies n rows into the staging table name; row(i, vals) appends
// row i's values in the order of cols.
func (tx *Tx) pgCopy(name string, cols []string, n int, row func(i int, vals []any) []any) error {
	return tx.pgCopyTo(pgx.Identifier{"pg_temp", name}, cols, n, row)
}

// pgCopyInto copies n rows into the store's table name.
func (tx *Tx) pgCopyInto(name string, cols []string, n int, row func(i int, vals []any) []any) error {
	return tx.pgCopyTo(pgx.Identifier{name}, cols, n, row)
}

func (tx *Tx) pgCopyTo(table pgx.Identifier, cols []string, n int, row func(i int, vals []any) []any) error {
	if n == 0 {
		return nil
	}
	src := &copySource{n: n, i: -1, row: row}
	if _, err := tx.pg.CopyFrom(tx.ctx, table, cols, src); err != nil {
		return fmt.Errorf("store: copying into %s: %w", table.Sanitize(), err)
	}
	return nil
}

// copySource feeds CopyFrom one row at a time from one reused slice: pgx
// encodes each row before it asks for the next.
type copySource struct {
	n, i int
	row  func(i int, vals []any) []any
	vals []any
}

func (s *copySource) Next() bool { s.i++; return s.i < s.n }

func (s *copySource) Values() ([]any, error) {
	s.vals = s.row(s.i, s.vals[:0])
	return s.vals, nil
}

func (s *copySource) Err() error { return nil }

// pgExec runs a statement with parameters and returns the rows it changed.
func (tx *Tx) pgExec(q string, args ...any) (int64, error) {
	tag, err := tx.pg.Exec(tx.ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return tag.RowsAffected(), nil
}

// columnsOf is the column list of an INSERT statement: the text between
// its first parentheses.
func columnsOf(insert string) string {
	return insert[strings.Index(insert, "(")+1 : strings.Index(insert, ")")]
}

// conflictOf is an upsert's ON CONFLICT clause to its end.
func conflictOf(upsert string) string {
	return upsert[strings.Index(upsert, "ON CONFLICT"):]
}

// split cuts items into runs in which no key repeats: within a run the
// set-based statements may treat rows as independent, and runs are
// applied in order, as SQLite applies rows.
func split[T any](items []T, key func(T) string) [][]T {
	var out [][]T
	seen := map[string]bool{}
	start := 0
	for i, it := range items {
		k := key(it)
		if seen[k] {
			out = append(out, items[start:i])
			clear(seen)
			start = i
		}
		seen[k] = true
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}

const stageHostsDDL = `CREATE TEMP TABLE qvt_stage_hosts (LIKE hosts INCLUDING DEFAULTS, rescanned boolean NOT NULL, renamed boolean NOT NULL) ON COMMIT DROP`

var stageHostCols = strings.Split(strings.Join(strings.Fields(columnsOf(upsertHost)), ""), ",")

const stageTagsDDL = `CREATE TEMP TABLE qvt_stage_tags (host_id bigint NOT NULL, ord bigint NOT NULL, name text NOT NULL, tag_id bigint NOT NULL) ON COMMIT DROP`

// qvt_stage_dets holds a batch's detections; fresh marks those of hosts
// the store did not hold, finding those that count as a reported
// finding (as SQLite's loop counts them).
const stageDetsDDL = `CREATE TEMP TABLE qvt_stage_dets (LIKE detections INCLUDING DEFAULTS, ord bigint NOT NULL, fresh boolean NOT NULL, finding boolean NOT NULL) ON COMMIT DROP`

var stageDetCols = []string{"ord", "host_id", "qid", "port", "protocol", "type", "severity", "status",
	"first_found", "last_found", "times_found", "last_fixed", "last_reopened", "times_reopened", "results",
	"ignored", "disabled", "extra", "vuln_score", "breach_date", "closed",
	"qds", "priority", "priority_reason", "due_date", "urgency", "priority_cause", "fresh", "finding"}

// qvt_apply says which staged detections of known hosts change the store
// and in which step: SQLite upserts a batch row by row, and a later row of
// the same finding (the second of a tcp/udp pair) overrides an earlier one
// only when it was found more recently. Those rows are applied in steps,
// the k-th of each finding in step k, so that every change (and the
// history row it makes) happens as SQLite makes it; sorted input has one
// step.
const stageApplyDDL = `CREATE TEMP TABLE qvt_apply (ord bigint NOT NULL, step bigint NOT NULL, touched boolean NOT NULL, is_new boolean NOT NULL) ON COMMIT DROP`

// pgApply fills qvt_apply from the staged detections of known hosts and
// the stored ones, and returns the counts of its rows that are rescans
// (SQLite's touchDetection would match them: found again with status,
// closed reason, rating, deadline, type, first found and last fixed as
// they were) and new findings, and the number of steps.
//
// A staged row applies when it is newer than the finding as it stands
// before it: the store's row when its last_seen is older than the batch,
// or, at the same last_seen, when it was found later; and than the rows
// of the batch before it (rn, prev_max).
const pgApply = `WITH w AS (
  SELECT s.ord, s.host_id, s.qid, s.port, s.finding, s.last_found,
    s.type, s.status, s.first_found, s.last_fixed, s.vuln_score, s.breach_date, s.closed, s.priority, s.due_date,
    d.host_id IS NOT NULL AS stored, d.last_seen AS d_seen, d.last_found AS d_lf,
    d.type AS d_type, d.status AS d_status, d.first_found AS d_ff, d.last_fixed AS d_lfx,
    d.vuln_score AS d_vs, d.breach_date AS d_bd, d.closed AS d_closed, d.priority AS d_prio, d.due_date AS d_due,
    row_number() OVER k AS rn,
    max(s.last_found) OVER (k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_max
  FROM pg_temp.qvt_stage_dets s
  LEFT JOIN detections d ON d.host_id = s.host_id AND d.qid = s.qid AND d.port = s.port
  WHERE NOT s.fresh
  WINDOW k AS (PARTITION BY s.host_id, s.qid, s.port ORDER BY s.ord)
), a AS (
  SELECT w.*,
    row_number() OVER k AS step,
    lag(type) OVER k AS p_type, lag(status) OVER k AS p_status, lag(first_found) OVER k AS p_ff,
    lag(last_fixed) OVER k AS p_lfx, lag(vuln_score) OVER k AS p_vs, lag(breach_date) OVER k AS p_bd,
    lag(closed) OVER k AS p_closed, lag(priority) OVER k AS p_prio, lag(due_date) OVER k AS p_due
  FROM w
  WHERE CASE WHEN NOT stored OR d_seen < $1 THEN rn = 1 OR last_found > prev_max
    WHEN d_seen = $1 THEN last_found > GREATEST(d_lf, prev_max)
    ELSE false END
  WINDOW k AS (PARTITION BY host_id, qid, port ORDER BY ord)
), ins AS (
  INSERT INTO pg_temp.qvt_apply (ord, step, touched, is_new)
  SELECT ord, step,
    CASE WHEN step = 1 THEN stored AND (d_type, d_status, d_ff, d_lfx, d_vs, d_bd, d_closed, d_prio, d_due)
        IS NOT DISTINCT FROM (type, status, first_found, last_fixed, vuln_score, breach_date, closed, priority, due_date)
      ELSE (p_type, p_status, p_ff, p_lfx, p_vs, p_bd, p_closed, p_prio, p_due)
        IS NOT DISTINCT FROM (type, status, first_found, last_fixed, vuln_score, breach_date, closed, priority, due_date) END,
    finding AND NOT stored AND rn = 1
  FROM a
  RETURNING step, touched, is_new
)
SELECT count(*) FILTER (WHERE touched), count(*) FILTER (WHERE is_new), COALESCE(max(step), 0) FROM ins`

// detInsertCols are upsertDetection's columns, which the statements below
// select from the staging table.
var detInsertCols = columnsOf(upsertDetection)

// detSelect selects the staged rows as upsertDetection's values: $1 is the
// time of the data (first_seen and last_seen), $2 the revision.
const detSelect = `SELECT s.host_id, s.qid, s.port, s.protocol, s.type, s.severity, s.status,
 s.first_found, s.last_found, s.times_found, s.last_fixed, s.last_reopened, s.times_reopened, s.results,
 s.ignored, s.disabled, s.extra, s.vuln_score, s.breach_date, $1::bigint, $1::bigint, s.closed, $2::bigint,
 s.qds, s.priority, s.priority_reason, s.due_date, s.urgency, s.priority_cause
FROM pg_temp.qvt_stage_dets s`

// pgPutHosts is PutHosts on PostgreSQL.
func (tx *Tx) pgPutHosts(hs []HostRecord, seen, rev int64) error {
	// A host twice in one batch is written twice, in order.
	for _, run := range split(hs, func(r HostRecord) string { return strconv.FormatInt(r.Host.ID, 10) }) {
		if err := tx.pgPutHostRun(run, seen, rev); err != nil {
			return err
		}
	}
	return nil
}

// pgHost is a host of a batch with what the store held for it.
type pgHost struct {
	rec  *HostRecord
	prev hostPrev
}

func (tx *Tx) pgPutHostRun(hs []HostRecord, seen, rev int64) error {
	tx.Stats.Hosts += len(hs)
	prev, err := tx.pgHostStates(hs, seen)
	if err != nil {
		return err
	}
	var (
		hosts    []pgHost
		dets     []detRow
		detFlags []uint8 // 1: fresh, 2: finding
		nTags    int
		anyFresh bool
		rescans  bool
		renames  bool
	)
	for i := range hs {
		r := &hs[i]
		p := prev[r.Host.ID]
		if p.older {
			tx.Stats.Stale++
			continue
		}
		if p.reorders || !p.exists {
			tx.reorder()
		}
		hosts = append(hosts, pgHost{r, p})
		nTags += len(r.Host.Tags)
		anyFresh = anyFresh || !p.exists
		rescans = rescans || p.rescanned
		renames = renames || p.renamed
		h := r.Host
		for j := range h.Detections {
			d := &h.Detections[j]
			tx.Stats.Detections++
			row, err := newDetRow(h, d, j, r.Derived)
			if err != nil {
				return err
			}
			finding := d.Type != "Info" && (j == 0 || h.Detections[j-1].QID != d.QID || h.Detections[j-1].Port != d.Port)
			var fl uint8
			if !p.exists {
				fl |= 1
			}
			if finding {
				fl |= 2
				tx.Stats.Reported++
				if !p.exists {
					tx.Stats.New++
				}
			}
			dets = append(dets, row)
			detFlags = append(detFlags, fl)
		}
	}
	if len(hosts) == 0 {
		return nil
	}

	// Hosts and their tags.
	if err := tx.pgStage("qvt_stage_hosts", stageHostsDDL); err != nil {
		return err
	}
	cols := append(append([]string{}, stageHostCols...), "rescanned", "renamed")
	err = tx.pgCopy("qvt_stage_hosts", cols, len(hosts), func(i int, v []any) []any {
		r, h := hosts[i].rec, hosts[i].rec.Host
		return append(v, h.ID, h.AssetID, h.IP, h.IPv6, h.TrackingMethod, h.NetworkID, h.OS, h.OSCPE,
			h.DNS, h.DNSHostname, h.DNSDomain, h.FQDN, h.NetBIOS, h.QGHostID, h.LastScan, h.LastVMScanned,
			int64(h.LastVMScannedDuration), h.LastVMAuthScanned, h.LastPCScanned, int64(r.Policy), seen,
			hosts[i].prev.rescanned, hosts[i].prev.renamed)
	})
	if err != nil {
		return err
	}
	hostCols := columnsOf(upsertHost)
	if _, err := tx.pgExec(`INSERT INTO hosts (` + hostCols + `) SELECT ` + hostCols +
		` FROM pg_temp.qvt_stage_hosts ` + conflictOf(upsertHost)); err != nil {
		return fmt.Errorf("store: hosts: %w", err)
	}
	// The tags of the hosts the store held go, to be written again: a
	// seek per host (a join with the staged hosts may read all of
	// host_tags), and none for a batch of new hosts (a first import).
	var known []int64
	for _, h := range hosts {
		if h.prev.exists {
			known = append(known, h.rec.Host.ID)
		}
	}
	if len(known) > 0 {
		if _, err := tx.pgExec(`DELETE FROM host_tags WHERE host_id = ANY($1::bigint[])`, known); err != nil {
			return fmt.Errorf("store: host tags: %w", err)
		}
	}
	if nTags > 0 {
		if err := tx.pgStage("qvt_stage_tags", stageTagsDDL); err != nil {
			return err
		}
		type tagRef struct{ h, t int }
		refs := make([]tagRef, 0, nTags)
		for i, h := range hosts {
			for j := range h.rec.Host.Tags {
				refs = append(refs, tagRef{i, j})
			}
		}
		err := tx.pgCopy("qvt_stage_tags", []string{"host_id", "ord", "name", "tag_id"}, len(refs), func(i int, v []any) []any {
			h := hosts[refs[i].h].rec.Host
			t := h.Tags[refs[i].t]
			return append(v, h.ID, int64(i), t.Name, t.ID)
		})
		if err != nil {
			return err
		}
		// The first of a name wins, as SQLite's ON CONFLICT DO NOTHING.
		if _, err := tx.pgExec(`INSERT INTO host_tags (host_id, name, tag_id)
SELECT DISTINCT ON (host_id, name) host_id, name, tag_id FROM pg_temp.qvt_stage_tags ORDER BY host_id, name, ord
ON CONFLICT DO NOTHING`); err != nil {
			return fmt.Errorf("store: host tags: %w", err)
		}
	}

	// Detections. Those of hosts the store did not hold are plain inserts,
	// the first of a finding's rows kept (insertDetection): unless the
	// store holds detections of such a host without the host (nothing qvt
	// writes), they are copied straight into the table, the first import's
	// path. The rest go through the staging table.
	direct := false
	if anyFresh {
		var ids []int64
		for _, h := range hosts {
			if !h.prev.exists {
				ids = append(ids, h.rec.Host.ID)
			}
		}
		var orphans bool
		// One primary-key seek per host: during a first import the
		// table's statistics still say it is empty, and a plain = ANY
		// would be planned as a scan of every row written so far, batch
		// after batch.
		if err := tx.pg.QueryRow(tx.ctx, `SELECT EXISTS (SELECT 1 FROM unnest($1::bigint[]) AS u(id)
CROSS JOIN LATERAL (SELECT 1 FROM detections d WHERE d.host_id = u.id LIMIT 1) AS x)`, ids).Scan(&orphans); err != nil {
			return fmt.Errorf("store: detections: %w", err)
		}
		direct = !orphans
	}
	var staged, copied []int // indexes into dets
	type detKey struct{ host, qid, port int64 }
	var firsts map[detKey]bool
	for i := range dets {
		if !direct || detFlags[i]&1 == 0 {
			staged = append(staged, i)
			continue
		}
		r := &dets[i]
		k := detKey{r.hostID, r.qid, r.port}
		if firsts == nil {
			firsts = map[detKey]bool{}
		}
		if !firsts[k] {
			firsts[k] = true
			copied = append(copied, i)
		}
	}
	if len(copied) > 0 {
		cols := strings.Split(strings.Join(strings.Fields(detInsertCols), ""), ",")
		err := tx.pgCopyInto("detections", cols, len(copied), func(i int, v []any) []any {
			return dets[copied[i]].copyValues(v, seen, rev)
		})
		if err != nil {
			return err
		}
		tx.usedRev()
	}
	if len(staged) > 0 {
		if err := tx.pgStage("qvt_stage_dets", stageDetsDDL); err != nil {
			return err
		}
		if !tx.pgSorts {
			// The window functions of pgApply sort the batch: in memory,
			// not in temporary files (the setting ends with the transaction).
			if _, err := tx.pg.Exec(tx.ctx, "SELECT set_config('work_mem', '64MB', true)"); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			tx.pgSorts = true
		}
		err := tx.pgCopy("qvt_stage_dets", stageDetCols, len(staged), func(j int, v []any) []any {
			i := staged[j]
			r := &dets[i]
			return append(v, int64(i), r.hostID, r.qid, r.port, r.protocol, r.typ, r.severity, r.status,
				r.firstFound, r.lastFound, r.timesFound, r.lastFixed, r.lastReopened, r.timesReopened, r.results,
				b2i(r.ignored), b2i(r.disabled), r.extra, r.vulnScore, r.breachDate, r.closed,
				r.qdsValue(), r.priority, r.priorityReason, r.dueDate, r.urgency, r.priorityCause,
				detFlags[i]&1 != 0, detFlags[i]&2 != 0)
		})
		if err != nil {
			return err
		}
		// No ANALYZE of the staging table: the planner estimates its rows
		// from its size, which is enough for the hash joins below, and an
		// ANALYZE costs as much as the statements.
		if anyFresh && !direct {
			n, err := tx.pgExec(`INSERT INTO detections (`+detInsertCols+`) SELECT DISTINCT ON (s.host_id, s.qid, s.port) `+
				strings.TrimPrefix(detSelect, "SELECT ")+` WHERE s.fresh ORDER BY s.host_id, s.qid, s.port, s.ord ON CONFLICT DO NOTHING`, seen, rev)
			if err != nil {
				return fmt.Errorf("store: detections: %w", err)
			}
			if n > 0 {
				tx.usedRev()
			}
		}
		if len(hosts) > 0 && !allFresh(hosts) {
			if err := tx.pgStage("qvt_apply", stageApplyDDL); err != nil {
				return err
			}
			var touched, fresh, steps int64
			if err := tx.pg.QueryRow(tx.ctx, pgApply, seen).Scan(&touched, &fresh, &steps); err != nil {
				return fmt.Errorf("store: detections: %w", err)
			}
			tx.Stats.Rescanned += int(touched)
			tx.Stats.New += int(fresh)
			for step := int64(1); step <= steps; step++ {
				var used bool
				err := tx.pg.QueryRow(tx.ctx, `WITH u AS (INSERT INTO detections (`+detInsertCols+`) `+detSelect+
					` JOIN pg_temp.qvt_apply a ON a.ord = s.ord WHERE a.step = $3 `+conflictOf(upsertDetection)+
					` RETURNING rev) SELECT EXISTS (SELECT 1 FROM u WHERE rev = $2)`, seen, rev, step).Scan(&used)
				if err != nil {
					return fmt.Errorf("store: detections: %w", err)
				}
				if used {
					tx.usedRev()
				}
			}
		}
	}

	// Findings the host's later scan no longer reports close as gone.
	if rescans {
		n, err := tx.pgExec(`UPDATE detections d SET closed = 'gone', rev = $1 FROM pg_temp.qvt_stage_hosts h
WHERE h.rescanned AND d.host_id = h.id AND d.last_seen < $2 AND d.closed = ''`, rev, seen)
		if err != nil {
			return fmt.Errorf("store: closing gone detections: %w", err)
		}
		if n > 0 {
			tx.usedRev()
		}
	}
	// Findings show the host's address, name and OS.
	if renames {
		n, err := tx.pgExec(`UPDATE detections d SET rev = $1 FROM pg_temp.qvt_stage_hosts h WHERE h.renamed AND d.host_id = h.id`, rev)
		if err != nil {
			return fmt.Errorf("store: renamed hosts: %w", err)
		}
		if n > 0 {
			tx.usedRev()
		}
	}
	return nil
}

func allFresh(hs []pgHost) bool {
	for _, h := range hs {
		if h.prev.exists {
			return false
		}
	}
	return true
}

func b2i(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// pgHostStates reads what the store holds of a batch's hosts, in one
// query, and judges each as hostState does.
func (tx *Tx) pgHostStates(hs []HostRecord, seen int64) (map[int64]hostPrev, error) {
	ids := make([]int64, len(hs))
	byID := make(map[int64]*HostRecord, len(hs))
	for i := range hs {
		ids[i] = hs[i].Host.ID
		byID[hs[i].Host.ID] = &hs[i]
	}
	out := make(map[int64]hostPrev, len(hs))
	// A primary-key seek per host, whatever the statistics say (see the
	// detections' check in PutHosts).
	rows, err := tx.pg.Query(tx.ctx, `SELECT h.id, h.last_vm_scanned, h.seen, h.ip, h.ipv6, h.fqdn, h.dns, h.netbios, h.os, h.policy
FROM unnest($1::bigint[]) AS u(id)
CROSS JOIN LATERAL (SELECT * FROM hosts WHERE hosts.id = u.id) AS h`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: hosts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, stored, policy                         int64
			scanned, ip, ipv6, fqdn, dns, netbios, os_ string
		)
		if err := rows.Scan(&id, &scanned, &stored, &ip, &ipv6, &fqdn, &dns, &netbios, &os_, &policy); err != nil {
			return nil, fmt.Errorf("store: hosts: %w", err)
		}
		r := byID[id]
		h := r.Host
		out[id] = hostPrev{
			exists:    true,
			rescanned: scanned != "" && h.LastVMScanned > scanned,
			older:     stored > seen,
			renamed:   ip != h.IP || ipv6 != h.IPv6 || fqdn != h.FQDN || dns != h.DNS || netbios != h.NetBIOS || os_ != h.OS,
			reorders:  seen > stored || policy != int64(r.Policy),
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: hosts: %w", err)
	}
	return out, nil
}

// PutVulns and PutCVEs on PostgreSQL: the batch is staged, one upsert
// writes the entries whose hash changed and names them (RETURNING), and
// their CVE lists or metrics are rewritten and their QIDs queued for
// rescoring by a statement each.

const stageVulnsDDL = `CREATE TEMP TABLE qvt_stage_vulns (LIKE kb_vulns INCLUDING DEFAULTS) ON COMMIT DROP`
const stageKBCVEsDDL = `CREATE TEMP TABLE qvt_stage_kb_cves (LIKE kb_cves INCLUDING DEFAULTS) ON COMMIT DROP`
const changedQIDsDDL = `CREATE TEMP TABLE qvt_changed_qids (qid bigint PRIMARY KEY) ON COMMIT DROP`

var vulnCols = columnsOf(upsertVuln)

func (tx *Tx) pgPutVulns(vs []*qualys.Vuln) error {
	for _, run := range split(vs, func(v *qualys.Vuln) string { return strconv.Itoa(v.QID) }) {
		if err := tx.pgPutVulnRun(run); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) pgPutVulnRun(vs []*qualys.Vuln) error {
	tx.Stats.Vulns += len(vs)
	for _, st := range [][2]string{{"qvt_stage_vulns", stageVulnsDDL}, {"qvt_stage_kb_cves", stageKBCVEsDDL}, {"qvt_changed_qids", changedQIDsDDL}} {
		if err := tx.pgStage(st[0], st[1]); err != nil {
			return err
		}
	}
	cols := strings.Split(strings.Join(strings.Fields(vulnCols), ""), ",")
	err := tx.pgCopy("qvt_stage_vulns", cols, len(vs), func(i int, up []any) []any {
		v := vs[i]
		j := jsonVuln(v)
		up = append(up, int64(v.QID), v.VulnType, int64(v.Severity), v.Title, v.Category, v.DetectionInfo,
			v.LastCustomized, v.LastModified, v.Published, b2i(v.Patchable), v.Diagnosis, v.Consequence, v.Solution)
		for _, c := range []*qualys.CVSS{&v.CVSS, &v.CVSSv3} {
			up = append(up, c.Base, c.Temporal, c.Vector)
			if c == &v.CVSSv3 {
				up = append(up, c.Version)
			}
			up = append(up, c.Impact.Confidentiality, c.Impact.Integrity, c.Impact.Availability)
		}
		return append(up, b2i(v.PCIFlag), v.SupportedModules, b2i(v.Remote), j.authTypes, v.AdditionalInfo,
			b2i(v.Disabled), j.vendorRefs, j.bugtraqs, j.software, j.threatIntel, j.exploits, j.malware,
			jsonStrings(v.CVEs), int64(hashVuln(v)))
	})
	if err != nil {
		return err
	}
	type ref struct{ v, c int }
	var refs []ref
	for i, v := range vs {
		for j := range v.CVEs {
			refs = append(refs, ref{i, j})
		}
	}
	err = tx.pgCopy("qvt_stage_kb_cves", []string{"qid", "ord", "cve_id"}, len(refs), func(i int, vals []any) []any {
		v := vs[refs[i].v]
		return append(vals, int64(v.QID), int64(refs[i].c), v.CVEs[refs[i].c])
	})
	if err != nil {
		return err
	}
	n, err := tx.pgExec(`WITH up AS (INSERT INTO kb_vulns (` + vulnCols + `) SELECT ` + vulnCols +
		` FROM pg_temp.qvt_stage_vulns ` + conflictOf(upsertVuln) + ` RETURNING qid)
INSERT INTO pg_temp.qvt_changed_qids SELECT qid FROM up`)
	if err != nil {
		return fmt.Errorf("store: kb: %w", err)
	}
	tx.Stats.VulnsChanged += int(n)
	if n == 0 {
		return nil
	}
	for _, q := range []string{
		`DELETE FROM kb_cves k USING pg_temp.qvt_changed_qids c WHERE k.qid = c.qid`,
		`INSERT INTO kb_cves (qid, ord, cve_id) SELECT s.qid, s.ord, s.cve_id FROM pg_temp.qvt_stage_kb_cves s
JOIN pg_temp.qvt_changed_qids c ON c.qid = s.qid ON CONFLICT DO NOTHING`,
		`INSERT INTO rescore_queue (qid) SELECT qid FROM pg_temp.qvt_changed_qids ON CONFLICT DO NOTHING`,
	} {
		if _, err := tx.pgExec(q); err != nil {
			return fmt.Errorf("store: kb: %w", err)
		}
	}
	return nil
}

const stageCVEsDDL = `CREATE TEMP TABLE qvt_stage_cves (LIKE nvd_cves INCLUDING DEFAULTS) ON COMMIT DROP`
const stageMetricsDDL = `CREATE TEMP TABLE qvt_stage_metrics (LIKE nvd_metrics INCLUDING DEFAULTS) ON COMMIT DROP`
const changedCVEsDDL = `CREATE TEMP TABLE qvt_changed_cves (id text PRIMARY KEY) ON COMMIT DROP`

var cveCols = columnsOf(upsertCVE)

func (tx *Tx) pgPutCVEs(cs []*nvd.CVE) error {
	for _, run := range split(cs, func(c *nvd.CVE) string { return c.ID }) {
		if err := tx.pgPutCVERun(run); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) pgPutCVERun(cs []*nvd.CVE) error {
	tx.Stats.CVEs += len(cs)
	for _, st := range [][2]string{{"qvt_stage_cves", stageCVEsDDL}, {"qvt_stage_metrics", stageMetricsDDL}, {"qvt_changed_cves", changedCVEsDDL}} {
		if err := tx.pgStage(st[0], st[1]); err != nil {
			return err
		}
	}
	cols := strings.Split(strings.Join(strings.Fields(cveCols), ""), ",")
	err := tx.pgCopy("qvt_stage_cves", cols, len(cs), func(i int, up []any) []any {
		c := cs[i]
		up = append(up, c.ID, c.SourceIdentifier, c.Published, c.LastModified, c.Status, c.Description, jsonStrings(c.CWEs))
		if k := c.KEV; k != nil {
			up = append(up, k.Added, k.Due, k.RequiredAction, k.Name)
		} else {
			up = append(up, "", "", "", "")
		}
		return append(up, int64(hashCVE(c)))
	})
	if err != nil {
		return err
	}
	type ref struct{ c, m int }
	var refs []ref
	for i, c := range cs {
		for j := range c.Metrics {
			refs = append(refs, ref{i, j})
		}
	}
	err = tx.pgCopy("qvt_stage_metrics", []string{"cve_id", "ord", "version", "source", "type", "vector", "base_score", "severity"},
		len(refs), func(i int, vals []any) []any {
			c := cs[refs[i].c]
			m := &c.Metrics[refs[i].m]
			return append(vals, c.ID, int64(refs[i].m), m.Version, m.Source, m.Type, m.Vector, m.BaseScore, m.Severity)
		})
	if err != nil {
		return err
	}
	n, err := tx.pgExec(`WITH up AS (INSERT INTO nvd_cves (` + cveCols + `) SELECT ` + cveCols +
		` FROM pg_temp.qvt_stage_cves ` + conflictOf(upsertCVE) + ` RETURNING id)
INSERT INTO pg_temp.qvt_changed_cves SELECT id FROM up`)
	if err != nil {
		return fmt.Errorf("store: nvd: %w", err)
	}
	tx.Stats.CVEsChanged += int(n)
	if n == 0 {
		return nil
	}
	for _, q := range []string{
		`DELETE FROM nvd_metrics m USING pg_temp.qvt_changed_cves c WHERE m.cve_id = c.id`,
		`INSERT INTO nvd_metrics (cve_id, ord, version, source, type, vector, base_score, severity)
SELECT s.cve_id, s.ord, s.version, s.source, s.type, s.vector, s.base_score, s.severity
FROM pg_temp.qvt_stage_metrics s JOIN pg_temp.qvt_changed_cves c ON c.id = s.cve_id`,
		`INSERT INTO rescore_queue (qid) SELECT k.qid FROM kb_cves k JOIN pg_temp.qvt_changed_cves c ON c.id = k.cve_id ON CONFLICT DO NOTHING`,
	} {
		if _, err := tx.pgExec(q); err != nil {
			return fmt.Errorf("store: nvd: %w", err)
		}
	}
	return nil
}

// Scores on PostgreSQL: PutScore is called once per QID and policy, in a
// loop over the KB; the rows wait in the transaction and are written with
// one COPY and one upsert per scoreFlush of them, and before any other
// statement of the transaction runs (so that everything after a PutScore
// sees it, as on SQLite) and before the commit.

// scoreRow is a qid_scores row.
type scoreRow struct {
	qid, policy                               int64
	cve, version, vector, source              string
	has                                       bool
	base, temporal, env                       float64
	rating, baseRating, tempRating, envRating string
	kbSeverity, published                     int64
}

var scoreFlush = 10000 // a variable for tests

const stageScoresDDL = `CREATE TEMP TABLE qvt_stage_scores (LIKE qid_scores INCLUDING DEFAULTS, ord bigint NOT NULL) ON COMMIT DROP`

var scoreCols = columnsOf(upsertScore)

// pgFlush writes the scores waiting in the transaction.
func (tx *Tx) pgFlush() error {
	if len(tx.pgScores) == 0 {
		return nil
	}
	rows := tx.pgScores
	tx.pgScores = nil
	if err := tx.pgStage("qvt_stage_scores", stageScoresDDL); err != nil {
		return err
	}
	cols := append(strings.Split(strings.Join(strings.Fields(scoreCols), ""), ","), "ord")
	err := tx.pgCopy("qvt_stage_scores", cols, len(rows), func(i int, v []any) []any {
		s := &rows[i]
		v = append(v, s.qid, s.policy, s.cve, s.version, s.vector, s.source)
		if s.has {
			v = append(v, s.base, s.temporal, s.env)
		} else {
			v = append(v, nil, nil, nil)
		}
		return append(v, s.rating, s.baseRating, s.tempRating, s.envRating, s.kbSeverity, s.published, int64(i))
	})
	if err != nil {
		return err
	}
	// The last score of a QID and policy wins, as SQLite's upserts in turn.
	if _, err := tx.pgExec(`INSERT INTO qid_scores (` + scoreCols + `) SELECT DISTINCT ON (qid, policy) ` + scoreCols +
		` FROM pg_temp.qvt_stage_scores ORDER BY qid, policy, ord DESC ` + conflictOf(upsertScore)); err != nil {
		return fmt.Errorf("store: scores: %w", err)
	}
	return nil
}

// cursorRows is how many rows pgCursor fetches at a time.
var cursorRows = 5000 // a variable for tests

// pgCursor runs query through a server-side cursor and calls fn for each
// row with no statement in progress, so that fn may write in the same
// transaction (a pgx connection runs one statement at a time), while
// memory holds one chunk of rows.
func (tx *Tx) pgCursor(query string, fn func(Cols) error, args ...any) error {
	if err := tx.pgFlush(); err != nil {
		return err
	}
	tx.pgCursors++
	name := "qvt_cursor_" + strconv.Itoa(tx.pgCursors)
	if _, err := tx.pg.Exec(tx.ctx, "DECLARE "+name+" NO SCROLL CURSOR FOR "+rebind(query), args...); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	c := &pgCols{}
	for {
		// Described each time, not from pgx's statement cache: the same
		// FETCH text names another transaction's cursor of other columns.
		rows, err := tx.pg.Query(tx.ctx, "FETCH FORWARD "+strconv.Itoa(cursorRows)+" FROM "+name, pgx.QueryExecModeDescribeExec)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		var chunk [][]any
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				rows.Close()
				return fmt.Errorf("store: %w", err)
			}
			chunk = append(chunk, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		for _, v := range chunk {
			c.vals = v
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(chunk) < cursorRows {
			break
		}
	}
	if _, err := tx.pg.Exec(tx.ctx, "CLOSE "+name); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

const stageRerateDDL = `CREATE TEMP TABLE qvt_rerate (host_id bigint NOT NULL, qid bigint NOT NULL, port bigint NOT NULL,
 vuln_score text NOT NULL, breach_date text NOT NULL, priority text NOT NULL, priority_reason text NOT NULL,
 due_date text NOT NULL, urgency bigint NOT NULL, priority_cause text NOT NULL) ON COMMIT DROP`

// pgRerate is the rest of Rerate on PostgreSQL: the detections of queued
// QIDs stream through a cursor (q is rerateQuery), the changed ratings
// and priorities are copied into a staging table a chunk at a time, and
// one UPDATE applies them.
func (tx *Tx) pgRerate(q string, rate func(RateInput) Derived, tags bool, rev int64) error {
	if err := tx.pgStage("qvt_rerate", stageRerateDDL); err != nil {
		return err
	}
	type change struct {
		host, qid, port int64
		d               Derived
	}
	var buf []change
	flush := func() error {
		err := tx.pgCopy("qvt_rerate", []string{"host_id", "qid", "port", "vuln_score", "breach_date",
			"priority", "priority_reason", "due_date", "urgency", "priority_cause"}, len(buf), func(i int, v []any) []any {
			c := &buf[i]
			return append(v, c.host, c.qid, c.port, c.d.VulnScore, c.d.BreachDate,
				c.d.Priority, c.d.PriorityReason, c.d.DueDate, c.d.Urgency, c.d.Cause)
		})
		buf = buf[:0]
		return err
	}
	var risks riskCache
	shown := false
	err := tx.pgCursor(q, func(st Cols) error {
		in := rateInput(st, &risks, tags)
		d := rate(in)
		if unchanged(st, &d) {
			return nil
		}
		shown = shown || visibleChange(st, &d)
		buf = append(buf, change{st.ColumnInt64(0), int64(in.QID), st.ColumnInt64(2), d})
		tx.Stats.Rerated++
		tx.reorder()
		if len(buf) >= cursorRows {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if shown {
		tx.usedRev()
	}
	_, err = tx.pgExec(`UPDATE detections d SET `+strings.ReplaceAll(rerateSet("d"), "?", "$1")+`
FROM pg_temp.qvt_rerate r WHERE d.host_id = r.host_id AND d.qid = r.qid AND d.port = r.port`, rev)
	return err
}
