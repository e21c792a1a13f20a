package store

import (
	"context"
	"fmt"
	"qvt/internal/clock"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"qvt/internal/finding"
	"qvt/internal/guard"
	"qvt/internal/unixtime"
)

// The findings reader on PostgreSQL. It gives exactly the rows SQLite's
// gives (findings.go), in the same order, from one REPEATABLE READ
// snapshot:
//
//   - The hosts are listed and sorted in Go, as on SQLite: the order of
//     keys is that of their bytes, which a database's collation need not
//     follow.
//   - Their detections are read in that order, a chunk of hosts at a time,
//     through a server-side cursor fetched a batch at a time: memory holds
//     one batch, whatever the size of the store or of a host.
//   - The KB entries and scores a batch needs and the cache lacks are read
//     in one query: one round trip per batch instead of one per entry. A
//     second connection, in the same snapshot (exported by the first),
//     reads them while the cursor fetches the next batch; without one to
//     spare, the first reads them between two fetches. The cache and its
//     plan are SQLite's (kbcache.go). Joining the KB in the cursor's query
//     would send each QID's text once per finding instead: at 40 findings
//     a QID on average, forty times the bytes of the KB.
//   - The findings go to the caller's function on a goroutine of its own,
//     so that an export encodes while the reader waits for the server.

// pgChunkHosts is how many hosts one cursor reads: PostgreSQL sorts a
// chunk's detections by the hosts' order, so a chunk is small enough to
// sort in its working memory.
const pgChunkHosts = 1000

// pgFetch is how many detection rows one fetch of the cursor brings (a
// variable so that tests can make it small).
var pgFetch = 2048

// pgLower folds ASCII letters only, as SQLite's lower() does, so that a
// filter matches the same hosts and tags on both engines.
func pgLower(e string) string {
	return "translate(" + e + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
}

type pgReader struct {
	ctx    context.Context
	tx     pgx.Tx // hosts, tags, the plan and the detections' cursor
	kb     pgx.Tx // KB entries and scores: tx, or a second one in its snapshot
	cache  *kbCache
	plan   *plan
	clock  int64
	lists  jsonList
	loaded map[[2]int]*Shared // read ahead for the batch in hand
}

// pgDet is a detection row as the cursor gives it.
type pgDet struct {
	rank                                      int64 // the host's position in reading order
	qid, port, severity, timesFound           int64
	firstFound, lastFound, lastFixed          int64
	firstSeen, lastSeen, timesReopened        int64
	lastReopened, rev                         int64
	protocol, typ, status, results, vulnScore string
	breachDate, closed                        string
	qds                                       *int64
	priority, priorityReason, dueDate         string
	owner, exceptedUntil                      string
	exceptionID                               int64
}

const pgDetCols = `o.n - 1, d.qid, d.port, d.protocol, d.type, d.severity, d.status, d.times_found,
  d.first_found, d.last_found, d.last_fixed, d.results, d.vuln_score, d.breach_date,
  d.closed, d.first_seen, d.last_seen, d.times_reopened, d.last_reopened, d.rev,
  d.qds, d.priority, d.priority_reason, d.due_date, d.owner, d.exception_id, d.excepted_until`

func (d *pgDet) dests() []any {
	return []any{&d.rank, &d.qid, &d.port, &d.protocol, &d.typ, &d.severity, &d.status, &d.timesFound,
		&d.firstFound, &d.lastFound, &d.lastFixed, &d.results, &d.vulnScore, &d.breachDate,
		&d.closed, &d.firstSeen, &d.lastSeen, &d.timesReopened, &d.lastReopened, &d.rev,
		&d.qds, &d.priority, &d.priorityReason, &d.dueDate, &d.owner, &d.exceptionID, &d.exceptedUntil}
}

// row is the finding of the detection on host h, as detection() reads it
// on SQLite.
func (d *pgDet) row(h *hostRow, today string) *Row {
	row := &Row{}
	f := &row.Finding
	f.QID = int(d.qid)
	f.Port = int(d.port)
	f.IP = h.addr
	f.HostID = h.id
	f.Hostname = h.hostname
	f.OS = h.os
	f.Key = finding.Key(h.addr, f.QID, f.Port)
	f.Protocol = d.protocol
	f.Type = d.typ
	f.Severity = int(d.severity)
	f.Status = d.status
	f.TimesFound = int(d.timesFound)
	f.FirstFound = pgTime(d.firstFound)
	f.LastFound = pgTime(d.lastFound)
	f.LastFixed = pgTime(d.lastFixed)
	f.Results = d.results
	f.VulnScore = d.vulnScore
	f.BreachDate = d.breachDate
	f.ClosedReason = d.closed
	f.Closed = f.ClosedReason != ""
	f.FirstSeen = pgTime(d.firstSeen)
	f.LastSeen = pgTime(d.lastSeen)
	f.TimesReopened = int(d.timesReopened)
	f.Tags = h.tags
	if d.qds != nil {
		q := int(*d.qds)
		f.QDS = &q
	}
	f.Priority, f.PriorityReason, f.DueDate = d.priority, d.priorityReason, d.dueDate
	f.Owner = d.owner
	setException(f, d.exceptionID, d.exceptedUntil, today)
	return row
}

func pgTime(t int64) *string {
	if t != 0 {
		s := unixtime.Format(t)
		return &s
	}
	return nil
}

// pgFindings is Findings on PostgreSQL.
func (s *Store) pgFindings(ctx context.Context, f Filter, fn func(*Row) error) error {
	today := clock.Today()
	return s.pgReadPair(ctx, func(tx, kb pgx.Tx) error {
		r := &pgReader{ctx: ctx, tx: tx, kb: tx, cache: newKBCache(kbCacheBytes)}
		hosts, err := r.hosts(f)
		if err != nil {
			return err
		}
		if err := r.withTags(hosts, len(hosts) <= 64); err != nil {
			return err
		}
		if !f.few() {
			if err := r.makePlan(hosts); err != nil {
				return err
			}
		}
		where, args, err := detectionFilter(f, r.cveQIDs)
		if err != nil {
			return err
		}
		// Two batches in flight keep both sides busy; each holds
		// thousands of findings with their results text.
		sendRows, waitRows := pipeStage(2, func(rows []*Row) error {
			for _, row := range rows {
				if err := fn(row); err != nil {
					return err
				}
			}
			return nil
		})
		// join gives groups their KB entries, then hands their findings on.
		join := func(ready []group) error {
			var reads []readRow
			for _, g := range ready {
				reads = append(reads, g.read...)
			}
			if err := r.readAhead(reads); err != nil {
				return err
			}
			var out []*Row
			for _, g := range ready {
				for _, rr := range g.read {
					if err := r.join(rr); err != nil {
						return err
					}
				}
				out = append(out, g.out...)
			}
			r.loaded = nil
			return sendRows(out)
		}
		sendGroups, waitGroups := join, func(err error) error { return err }
		if kb != nil {
			// With a second connection in the snapshot, the entries load
			// on it while the cursor fetches the next batch.
			r.kb = kb
			sendGroups, waitGroups = pipeStage(2, join)
		}
		// Groups whose findings are in order, waiting for their KB
		// entries: they are joined a fetch at a time.
		var ready []group
		pending := 0
		var g group
		groupPrefix := ""
		flush := func() {
			if len(g.read) == 0 {
				return
			}
			g.settle()
			ready = append(ready, g)
			pending += len(g.read)
			g = group{}
		}
		emit := func() error {
			if len(ready) == 0 {
				return nil
			}
			err := sendGroups(ready)
			ready, pending = nil, 0
			return err
		}
		err = r.each(hosts, where, args, func(d *pgDet) error {
			h := &hosts[d.rank]
			if prefix := h.addr + ":"; groupPrefix == "" || !hasPrefix(prefix, groupPrefix) {
				flush()
				groupPrefix = prefix
			}
			g.read = append(g.read, readRow{row: d.row(h, today), policy: h.policy, rank: int32(d.rank)})
			return nil
		}, func() error {
			if pending >= pgFetch {
				return emit()
			}
			return nil
		})
		if err == nil {
			flush()
			err = emit()
		}
		return waitRows(waitGroups(err))
	})
}

// pipeStage runs fn on a goroutine of its own, for each item sent, in
// order: the consumer of the findings (an export encoding its records)
// works while the reader waits for the server, as SQLite's reader does
// (reader.emitter). send hands on an item; wait ends the hand-off, given
// the sender's error, once fn has seen every item sent, and returns fn's
// error first. After fn fails, send returns errStopped.
// Up to buffer items wait between the two sides.
func pipeStage[T any](buffer int, fn func(T) error) (send func(T) error, wait func(error) error) {
	ch := make(chan T, buffer)
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		var err error
		for v := range ch {
			if err != nil {
				continue
			}
			if err = guard.Call(func() error { return fn(v) }); err != nil {
				close(stop) // the sender stops at its next item
			}
		}
		errc <- err
	}()
	send = func(v T) error {
		select {
		case ch <- v:
			return nil
		case <-stop:
			return errStopped
		}
	}
	wait = func(serr error) error {
		close(ch)
		if err := <-errc; err != nil {
			return err
		}
		return serr
	}
	return send, wait
}

// pgPairExported is called when pgReadPair has exported the first
// connection's snapshot, before the second imports it (a variable so that
// a test can commit a change in between).
var pgPairExported = func() {}

// pgReadPair is pgRead with a second connection in the same snapshot (an
// exported snapshot), for a reader that queries while it reads a cursor.
// When the pool has no connection to spare at once, it does not wait (a
// few readers holding one each and waiting for a second would never end):
// fn gets a nil second transaction.
func (s *Store) pgReadPair(ctx context.Context, fn func(a, b pgx.Tx) error) error {
	return s.pgRead(ctx, func(a pgx.Tx) error {
		if st := s.pg.Stat(); st.IdleConns() == 0 && st.TotalConns() >= st.MaxConns() {
			return fn(a, nil)
		}
		var snap string
		if err := a.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
			return fmt.Errorf("store: exporting the snapshot: %w", err)
		}
		pgPairExported()
		actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		conn, err := s.pg.Acquire(actx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("store: %w", ctx.Err())
			}
			return fn(a, nil)
		}
		defer conn.Release()
		b, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		defer b.Rollback(context.Background())
		// The id is the server's own (hex digits and dashes).
		if _, err := b.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snap+"'"); err != nil {
			return fmt.Errorf("store: importing the snapshot: %w", err)
		}
		if err := fn(a, b); err != nil {
			return err
		}
		return b.Commit(ctx)
	})
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// pgChanged is Changed on PostgreSQL.
func (s *Store) pgChanged(ctx context.Context, since int64, fn func(*Published) error) error {
	today := clock.Today()
	return s.pgRead(ctx, func(tx pgx.Tx) error {
		r := &pgReader{ctx: ctx, tx: tx, kb: tx, cache: newKBCache(kbCacheBytes)}
		hosts, err := r.hosts(Filter{})
		if err != nil {
			return err
		}
		if since == 0 {
			if err := r.makePlan(hosts); err != nil {
				return err
			}
		} else if hosts, err = r.changedHosts(hosts, since); err != nil {
			return err
		}
		if err := r.withTags(hosts, false); err != nil {
			return err
		}
		type changed struct {
			rr readRow
			p  *Published
		}
		var batch []changed
		emit := func() error {
			reads := make([]readRow, len(batch))
			for i, c := range batch {
				reads[i] = c.rr
			}
			if err := r.readAhead(reads); err != nil {
				return err
			}
			for _, c := range batch {
				if err := r.join(c.rr); err != nil {
					return err
				}
				c.p.Row = *c.rr.row
				if err := fn(c.p); err != nil {
					return err
				}
			}
			batch, r.loaded = batch[:0], nil
			return nil
		}
		err = r.each(hosts, " AND d.rev > ?2", []any{since}, func(d *pgDet) error {
			h := &hosts[d.rank]
			p := &Published{Tags: h.tags, Closed: d.closed, FirstSeen: d.firstSeen, LastSeen: d.lastSeen,
				TimesReopened: int(d.timesReopened), LastReopened: d.lastReopened, Rev: d.rev}
			batch = append(batch, changed{rr: readRow{row: d.row(h, today), policy: h.policy, rank: int32(d.rank)}, p: p})
			return nil
		}, func() error {
			if len(batch) >= pgFetch {
				return emit()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return emit()
	})
}

// changedHosts keeps, in their order, the hosts with a finding changed
// after revision since. A day's publish finds the few changed findings
// of ten million with one sequential scan of the table (seconds), where
// a seek into every host's rows reads the whole table at random (a
// minute); no index on rev, which would cost every write that moves a
// finding its HOT update.
func (r *pgReader) changedHosts(hosts []hostRow, since int64) ([]hostRow, error) {
	rows, err := r.tx.Query(r.ctx, "SELECT DISTINCT host_id FROM detections WHERE rev > $1 AND type <> 'Info'", since)
	if err != nil {
		return nil, fmt.Errorf("store: changed hosts: %w", err)
	}
	defer rows.Close()
	changed := map[int64]bool{}
	var id int64
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: changed hosts: %w", err)
		}
		changed[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: changed hosts: %w", err)
	}
	return slices.DeleteFunc(hosts, func(h hostRow) bool { return !changed[h.id] }), nil
}

// hosts lists the hosts f selects, in reading order.
func (r *pgReader) hosts(f Filter) ([]hostRow, error) {
	q, args := hostsQuery(f, pgLower)
	rows, err := r.tx.Query(r.ctx, rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: hosts: %w", err)
	}
	defer rows.Close()
	var hosts []hostRow
	var systems interner // a few operating systems, on every host
	var os []byte
	for rows.Next() {
		var h hostRow
		var policy int64
		if err := rows.Scan(&h.id, &h.addr, &h.hostname, &os, &policy); err != nil {
			return nil, fmt.Errorf("store: hosts: %w", err)
		}
		h.os = systems.name(os)
		h.policy = int(policy)
		hosts = append(hosts, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: hosts: %w", err)
	}
	sortHosts(hosts)
	return hosts, nil
}

// withTags gives each host its tags, sorted as bytes (as SQLite's BINARY
// collation sorts them; a database's collation may not): of the hosts
// themselves when few, else of every host.
func (r *pgReader) withTags(hosts []hostRow, few bool) error {
	q := "SELECT host_id, name FROM host_tags"
	var args []any
	if few {
		ids := make([]int64, len(hosts))
		for i, h := range hosts {
			ids[i] = h.id
		}
		q += " WHERE host_id = ANY($1)"
		args = append(args, ids)
	}
	rows, err := r.tx.Query(r.ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: tags: %w", err)
	}
	defer rows.Close()
	all := map[int64][]string{}
	var sets interner
	var id int64
	var name []byte
	for rows.Next() {
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("store: tags: %w", err)
		}
		all[id] = append(all[id], sets.name(name))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: tags: %w", err)
	}
	for i := range hosts {
		t := all[hosts[i].id]
		if t == nil {
			hosts[i].tags = []string{}
			continue
		}
		slices.Sort(t)
		hosts[i].tags = sets.set(t)
		delete(all, hosts[i].id)
	}
	return nil
}

// makePlan is reader.makePlan on PostgreSQL: which hosts, in reading
// order, have each QID.
func (r *pgReader) makePlan(hosts []hostRow) error {
	rank := make(map[int64]int32, len(hosts))
	for i, h := range hosts {
		rank[h.id] = int32(i)
	}
	rows, err := r.tx.Query(r.ctx, "SELECT qid, host_id FROM detections ORDER BY qid")
	if err != nil {
		return fmt.Errorf("store: plan: %w", err)
	}
	defer rows.Close()
	var qid, host int64
	r.plan = newPlan(func(yield func(int, int32) bool) {
		for rows.Next() {
			if err := rows.Scan(&qid, &host); err != nil {
				return
			}
			if rk, ok := rank[host]; ok && !yield(int(qid), rk) {
				return
			}
		}
	})
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: plan: %w", err)
	}
	return nil
}

func (r *pgReader) cveQIDs(cve string) ([]int, error) {
	rows, err := r.tx.Query(r.ctx, "SELECT DISTINCT qid FROM kb_cves WHERE cve_id = $1", cve)
	if err != nil {
		return nil, err
	}
	qids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	out := make([]int, len(qids))
	for i, q := range qids {
		out[i] = int(q)
	}
	return out, nil
}

// each reads the detections of hosts (Info left out) that pass where (SQL
// over detections d, parameters from ?2), in reading order: by host, then
// by QID and port. It calls fn for each, and batchEnd after each fetch,
// when the connection is free for other queries.
func (r *pgReader) each(hosts []hostRow, where string, args []any, fn func(*pgDet) error, batchEnd func() error) error {
	// The chunk's hosts in reading order, and for each its detections in
	// the order of the primary key: LATERAL makes this a loop over the
	// hosts with a seek in the key each (a join would scan the whole
	// table for every chunk), and the sort is only of each host's rows.
	q := rebind(`DECLARE qvt_detections NO SCROLL CURSOR FOR SELECT ` + pgDetCols + `
FROM unnest(?1::bigint[]) WITH ORDINALITY AS o(id, n)
CROSS JOIN LATERAL (SELECT * FROM detections d WHERE d.host_id = o.id AND d.type <> 'Info'` + where + `
  ORDER BY d.qid, d.port) d
ORDER BY o.n, d.qid, d.port`)
	fetch := fmt.Sprintf("FETCH FORWARD %d FROM qvt_detections", pgFetch)
	var d pgDet
	dests := d.dests()
	for start := 0; start < len(hosts); start += pgChunkHosts {
		chunk := hosts[start:min(start+pgChunkHosts, len(hosts))]
		ids := make([]int64, len(chunk))
		for i, h := range chunk {
			ids[i] = h.id
		}
		if _, err := r.tx.Exec(r.ctx, q, append([]any{ids}, args...)...); err != nil {
			return fmt.Errorf("store: detections: %w", err)
		}
		for {
			rows, err := r.tx.Query(r.ctx, fetch)
			if err != nil {
				return fmt.Errorf("store: detections: %w", err)
			}
			n := 0
			for rows.Next() {
				n++
				if err := rows.Scan(dests...); err != nil {
					rows.Close()
					return fmt.Errorf("store: detections: %w", err)
				}
				d.rank += int64(start)
				if err := fn(&d); err != nil {
					rows.Close()
					return err
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("store: detections: %w", err)
			}
			if err := batchEnd(); err != nil {
				return err
			}
			if n < pgFetch {
				break
			}
		}
		if _, err := r.tx.Exec(r.ctx, "CLOSE qvt_detections"); err != nil {
			return fmt.Errorf("store: detections: %w", err)
		}
	}
	return nil
}

// readAhead reads in one query the KB entries and scores the rows need
// and the cache lacks.
func (r *pgReader) readAhead(rows []readRow) error {
	var qids, policies []int64
	seen := map[[2]int]bool{}
	for _, rr := range rows {
		k := [2]int{rr.row.QID, rr.policy}
		if seen[k] || r.cache.has(k) {
			continue
		}
		seen[k] = true
		qids = append(qids, int64(k[0]))
		policies = append(policies, int64(k[1]))
	}
	if len(qids) == 0 {
		return nil
	}
	loaded, err := r.load(qids, policies)
	if err != nil {
		return err
	}
	r.loaded = loaded
	return nil
}

// load reads the KB entries and scores of (qid, policy) pairs, as
// reader.loadShared does on SQLite: a QID missing from the KB or the
// scores has empty fields.
func (r *pgReader) load(qids, policies []int64) (map[[2]int]*Shared, error) {
	rows, err := r.kb.Query(r.ctx, `SELECT q.qid, q.policy,
  COALESCE(k.title, ''), COALESCE(k.category, ''), COALESCE(k.vuln_type, ''), COALESCE(k.diagnosis, ''),
  COALESCE(k.consequence, ''), COALESCE(k.solution, ''), COALESCE(k.patchable, 0), COALESCE(k.remote, 0),
  COALESCE(k.vendor_refs, ''), COALESCE(k.severity, 0), COALESCE(k.cves, ''),
  COALESCE(NULLIF(k.cvss3_impact_c, ''), k.cvss_impact_c, ''), COALESCE(NULLIF(k.cvss3_impact_i, ''), k.cvss_impact_i, ''),
  COALESCE(NULLIF(k.cvss3_impact_a, ''), k.cvss_impact_a, ''),
  COALESCE(s.cve_id, ''), COALESCE(s.cvss_version, ''), COALESCE(s.cvss_vector, ''), s.base, s.temporal, s.env_score,
  COALESCE(s.base_rating, ''), COALESCE(s.temporal_rating, ''), COALESCE(s.env_rating, ''),
  COALESCE(x.kev, 0), COALESCE(x.kev_cves, '[]'), COALESCE(x.kev_date_added, ''), COALESCE(x.kev_due_date, ''),
  COALESCE(x.kev_ransomware, 0), x.epss, x.epss_percentile, COALESCE(x.epss_cve, ''), COALESCE(x.threat_intel, '[]')
FROM unnest($1::bigint[], $2::bigint[]) AS q(qid, policy)
LEFT JOIN kb_vulns k ON k.qid = q.qid
LEFT JOIN qid_scores s ON s.qid = q.qid AND s.policy = q.policy
LEFT JOIN qid_risk x ON x.qid = q.qid`, qids, policies)
	if err != nil {
		return nil, fmt.Errorf("store: kb: %w", err)
	}
	defer rows.Close()
	out := make(map[[2]int]*Shared, len(qids))
	var qid, policy, patchable, remote, severity, kev, ransomware int64
	var refs, cves, kevCVEs, ti []byte
	for rows.Next() {
		e := &Shared{}
		x := &e.Risk
		err := rows.Scan(&qid, &policy, &e.Title, &e.Category, &e.VulnType, &e.Diagnosis, &e.Consequence, &e.Solution,
			&patchable, &remote, &refs, &severity, &cves, &e.Legacy.ImpactC, &e.Legacy.ImpactI, &e.Legacy.ImpactA,
			&e.CVEID, &e.Version, &e.Vector, &e.Base, &e.Temporal, &e.Env,
			&e.Legacy.BaseRating, &e.Legacy.TempRating, &e.Legacy.EnvRating,
			&kev, &kevCVEs, &x.KEVDateAdded, &x.KEVDueDate, &ransomware, &x.EPSS, &x.Percentile, &x.EPSSCVE, &ti)
		if err != nil {
			return nil, fmt.Errorf("store: kb: %w", err)
		}
		e.Patchable, e.Remote, e.KBSeverity = patchable != 0, remote != 0, int(severity)
		e.VendorRefs = r.lists.list(refs, "id")
		e.CVEs = r.lists.list(cves, "")
		x.KEV, x.KEVRansomware = kev != 0, ransomware != 0
		x.KEVCVEs, x.ThreatIntel = r.lists.list(kevCVEs, ""), r.lists.list(ti, "")
		e.setSize()
		out[[2]int{int(qid), int(policy)}] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: kb: %w", err)
	}
	return out, nil
}

// shared is reader.shared on PostgreSQL: from the cache, the entries
// read ahead, or the store.
func (r *pgReader) shared(qid, policy int, rank int32) (*Shared, error) {
	var next int64
	if r.plan != nil {
		next = r.plan.use(qid, rank)
	} else {
		r.clock++
		next = -r.clock
	}
	k := [2]int{qid, policy}
	if e := r.cache.get(k, next); e != nil {
		return e, nil
	}
	e := r.loaded[k]
	if e == nil {
		// Cached when read ahead, evicted since by an entry needed sooner.
		m, err := r.load([]int64{int64(qid)}, []int64{int64(policy)})
		if err != nil {
			return nil, err
		}
		if e = m[k]; e == nil {
			return nil, fmt.Errorf("store: kb: qid %d policy %d not read", qid, policy)
		}
	}
	r.cache.put(k, e, next)
	return e, nil
}

// join is reader.join on PostgreSQL.
func (r *pgReader) join(rr readRow) error {
	kb, err := r.shared(rr.row.QID, rr.policy, rr.rank)
	if err != nil {
		return err
	}
	joinShared(&rr.row.Finding, kb)
	rr.row.Shared = kb
	return nil
}

// pgReadOnly connects to the PostgreSQL database at loc (one connection,
// no pool, no migration) and runs fn in a read-only transaction, so that
// a look at a store can change nothing, not even an older schema.
func pgReadOnly(ctx context.Context, loc string, fn func(pgx.Tx) error) error {
	shown := Shown(loc)
	cfg, err := pgx.ParseConfig(loc)
	if err != nil {
		// pgx's message may quote the URL: say only where it failed.
		return fmt.Errorf("store: %s: not a valid PostgreSQL URL", shown)
	}
	cfg.RuntimeParams["application_name"] = "qvt"
	connectCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	if err != nil {
		return fmt.Errorf("store: %s: %w", shown, err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("store: %s: %w", shown, err)
	}
	defer tx.Rollback(context.Background())
	return fn(tx)
}
