package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"qvt/internal/assess"
	"qvt/internal/nvd"
	"qvt/internal/priority"
	"qvt/internal/unixtime"
)

// QueueAll queues every QID the store knows for rescoring: after a change
// of scoring policy nothing needs to be fetched again, only recomputed.
func (tx *Tx) QueueAll() error {
	if err := tx.exec("INSERT INTO rescore_queue (qid) SELECT qid FROM kb_vulns WHERE true ON CONFLICT DO NOTHING"); err != nil {
		return err
	}
	return tx.exec("INSERT INTO rescore_queue (qid) SELECT DISTINCT qid FROM detections WHERE true ON CONFLICT DO NOTHING")
}

// QueueQIDs queues QIDs for rescoring.
func (tx *Tx) QueueQIDs(qids []int) error {
	if tx.pg != nil {
		ids := make([]int64, len(qids))
		for i, q := range qids {
			ids[i] = int64(q)
		}
		_, err := tx.pgExec("INSERT INTO rescore_queue (qid) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING", ids)
		return err
	}
	for _, q := range qids {
		if err := tx.queue(int64(q)); err != nil {
			return err
		}
	}
	return nil
}

// Queued counts the QIDs waiting to be rescored or re-prioritized.
func (tx *Tx) Queued() (int, error) {
	n := 0
	err := tx.query("SELECT (SELECT count(*) FROM rescore_queue) + (SELECT count(*) FROM risk_queue)", func(st Cols) error {
		n = st.ColumnInt(0)
		return nil
	})
	return n, err
}

// ScoreInputs streams, for each queued QID that has a KB entry, what
// scoring it needs: its vectors, its CVE list and the NVD metrics of the
// CVEs NVD knows.
func (tx *Tx) ScoreInputs(fn func(*assess.QIDInput) error) error {
	q := `SELECT k.qid, k.severity, k.cvss3_vector, k.cvss3_version, k.cvss_vector,
  c.cve_id, n.id IS NOT NULL, m.version, m.source, m.type, m.vector, m.base_score, k.published
FROM rescore_queue r
JOIN kb_vulns k ON k.qid = r.qid
LEFT JOIN kb_cves c ON c.qid = k.qid
LEFT JOIN nvd_cves n ON n.id = c.cve_id
LEFT JOIN nvd_metrics m ON m.cve_id = n.id
ORDER BY k.qid, c.ord, m.ord`
	if tx.pg == nil {
		// SQLite walks the queue, in order, and looks each QID up (CROSS
		// JOIN keeps that order of the loops). Left to choose, it walks
		// the KB instead and reads all of it, tens of megabytes, even for
		// an empty queue (an EPSS file queues only risk_queue).
		q = strings.Replace(strings.Replace(q, "JOIN kb_vulns k", "CROSS JOIN kb_vulns k", 1),
			"ORDER BY k.qid", "ORDER BY r.qid", 1)
	}
	var cur *assess.QIDInput
	flush := func() error {
		if cur == nil {
			return nil
		}
		in := cur
		cur = nil
		return fn(in)
	}
	// fn writes the scores (PutScore) while the rows stream.
	err := tx.each(q, func(st Cols) error {
		qid := st.ColumnInt(0)
		if cur == nil || cur.QID != qid {
			if err := flush(); err != nil {
				return err
			}
			cur = &assess.QIDInput{
				QID:        qid,
				Severity:   st.ColumnInt(1),
				KBv3Vector: st.ColumnText(2),
				KBv3Ver:    st.ColumnText(3),
				KBv2Vector: st.ColumnText(4),
				NVD:        map[string][]nvd.Metric{},
			}
			if t, ok := unixtime.Parse(st.ColumnText(12)); ok {
				cur.Published = t
			}
		}
		if st.ColumnType(5) == sqlite3.NULL {
			return nil
		}
		cve := st.ColumnText(5)
		if n := len(cur.CVEs); n == 0 || cur.CVEs[n-1] != cve {
			cur.CVEs = append(cur.CVEs, cve)
		}
		if !st.ColumnBool(6) {
			return nil // NVD does not know this CVE
		}
		ms := cur.NVD[cve]
		if st.ColumnType(7) != sqlite3.NULL {
			ms = append(ms, nvd.Metric{
				Version:   st.ColumnText(7),
				Source:    st.ColumnText(8),
				Type:      st.ColumnText(9),
				Vector:    st.ColumnText(10),
				BaseScore: st.ColumnFloat(11),
			})
		}
		cur.NVD[cve] = ms
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

const upsertScore = `INSERT INTO qid_scores (qid, policy, cve_id, cvss_version, cvss_vector, vector_source,
 base, temporal, env_score, rating, base_rating, temporal_rating, env_rating, kb_severity, kb_published)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (qid, policy) DO UPDATE SET cve_id = excluded.cve_id, cvss_version = excluded.cvss_version,
 cvss_vector = excluded.cvss_vector, vector_source = excluded.vector_source, base = excluded.base,
 temporal = excluded.temporal, env_score = excluded.env_score, rating = excluded.rating,
 base_rating = excluded.base_rating, temporal_rating = excluded.temporal_rating, env_rating = excluded.env_rating,
 kb_severity = excluded.kb_severity, kb_published = excluded.kb_published`

// PutScore stores the scoring of a QID under an environment policy, with
// the QID's KB severity and publication time.
func (tx *Tx) PutScore(policy int, s *assess.Score, kbSeverity int, published int64) error {
	if tx.pg != nil {
		tx.Stats.Scored++
		r := scoreRow{qid: int64(s.QID), policy: int64(policy), cve: s.CVEID, version: s.Version, vector: s.Vector,
			source: s.Source, has: s.HasVector, base: s.Base, temporal: s.Temporal, env: s.Env, rating: s.Rating,
			baseRating: s.BaseRating, tempRating: s.TempRating, envRating: s.EnvRating,
			kbSeverity: int64(kbSeverity), published: published}
		tx.pgScores = append(tx.pgScores, r)
		if len(tx.pgScores) >= scoreFlush {
			return tx.pgFlush()
		}
		return nil
	}
	b, err := tx.bind(upsertScore)
	if err != nil {
		return err
	}
	tx.Stats.Scored++
	b.int(int64(s.QID))
	b.int(int64(policy))
	b.text(s.CVEID)
	b.text(s.Version)
	b.text(s.Vector)
	b.text(s.Source)
	if s.HasVector {
		b.float(s.Base)
		b.float(s.Temporal)
		b.float(s.Env)
	} else {
		b.null()
		b.null()
		b.null()
	}
	b.text(s.Rating)
	b.text(s.BaseRating)
	b.text(s.TempRating)
	b.text(s.EnvRating)
	b.int(int64(kbSeverity))
	b.int(published)
	if err := b.run(); err != nil {
		return fmt.Errorf("store: qid %d: %w", s.QID, err)
	}
	return nil
}

// QIDRating is what rating a detection needs from its QID.
type QIDRating struct {
	Rating     string // the QID's CVSS rating under the policy; "" when it has no vector
	KBSeverity int
	Published  int64    // the QID's publication, Unix seconds
	Env        *float64 // the environmental score under the policy
	// Risk is what KEV, EPSS and threat intelligence say of the QID (the
	// fields priority rules read; KEVCVEs is left out); nil when nothing.
	// The QID's entries under every policy share it.
	Risk *priority.Risk
}

// QIDKey keys ratings by QID and environment policy.
type QIDKey struct {
	QID, Policy int
}

// Ratings loads the rating and KB severity of every scored (QID, policy):
// a few bytes per QID, what an import of detections needs to rate them as
// they stream in. Every QID of the KB is scored, so this reads only the
// small scores table, never the KB.
func (tx *Tx) Ratings() (map[QIDKey]QIDRating, error) {
	out := map[QIDKey]QIDRating{}
	var risks riskCache
	err := tx.query(`SELECT s.qid, s.policy, s.rating, s.kb_severity, s.kb_published, s.env_score,
  r.qid, r.kev, r.kev_ransomware, r.kev_date_added, r.epss, r.epss_percentile, r.threat_intel
FROM qid_scores s LEFT JOIN qid_risk r ON r.qid = s.qid`, func(st Cols) error {
		qid := st.ColumnInt(0)
		out[QIDKey{qid, st.ColumnInt(1)}] = QIDRating{Rating: st.ColumnText(2), KBSeverity: st.ColumnInt(3),
			Published: st.ColumnInt64(4), Env: optCol(st, 5), Risk: risks.get(qid, st, 6)}
		return nil
	})
	return out, err
}

// optCol reads a nullable REAL column.
func optCol(st Cols, i int) *float64 {
	if st.ColumnType(i) == sqlite3.NULL {
		return nil
	}
	v := st.ColumnFloat(i)
	return &v
}

// riskCache reads qid_risk's columns (from i: qid, kev, kev_ransomware,
// kev_date_added, epss, epss_percentile, threat_intel) once per QID, and
// shares threat-intel lists: a few combinations of a few names serve a
// whole KB.
type riskCache struct {
	byQID map[int]*priority.Risk
	lists map[string][]string
}

func (c *riskCache) get(qid int, st Cols, i int) *priority.Risk {
	if st.ColumnType(i) == sqlite3.NULL {
		return nil
	}
	if r, ok := c.byQID[qid]; ok {
		return r
	}
	if c.byQID == nil {
		c.byQID, c.lists = map[int]*priority.Risk{}, map[string][]string{}
	}
	r := &priority.Risk{KEV: st.ColumnBool(i + 1), KEVRansomware: st.ColumnBool(i + 2), KEVDateAdded: st.ColumnText(i + 3),
		EPSS: optCol(st, i+4), Percentile: optCol(st, i+5)}
	if ti := st.ColumnText(i + 6); len(ti) > 2 {
		l, ok := c.lists[ti]
		if !ok {
			json.Unmarshal([]byte(ti), &l) //nolint:errcheck // qvt writes the column: a bad one reads as none
			c.lists[ti] = l
		}
		r.ThreatIntel = l
	}
	c.byQID[qid] = r
	return r
}

// RateInput is what deriving a detection's rating and deadline needs.
type RateInput struct {
	QID          int
	Policy       int
	Severity     int   // the detection's, else the KB's
	FirstFound   int64 // Unix seconds, 0 when unknown
	LastReopened int64
	Score        QIDRating
	QDS          int      // the detection's QDS, 0 for none
	Tags         []string // the host's tags (when Rerate is asked for them)
	// What the store holds of the detection's priority (Rerate only), for
	// the cause of a change.
	OldPriority, OldReason string
	// Restart is when an ended exception restarted the SLA clock
	// (detections.sla_restart), Unix seconds, 0 for never.
	Restart int64
}

// Rerate recomputes the rating and deadline of the detections of queued
// QIDs with rate, and rewrites those that changed; history rows of the
// changes get time at. The changes are collected in a temporary table
// first so that no row is updated under the cursor that reads it.
//
// The priority's fields are rederived with the rating: a changed
// priority or due date enters the history with Derived.Cause. tags says
// whether rate reads the hosts' tags (priority rules on tags).
func (tx *Tx) Rerate(rate func(RateInput) Derived, at int64, tags bool) error {
	if err := tx.watchChanges(at); err != nil {
		return err
	}
	rev, err := tx.rev()
	if err != nil {
		return err
	}
	// The KB fields and scores of the queued QIDs changed: every finding of
	// them shows something new.
	b, err := tx.bind("UPDATE detections SET rev = ? WHERE qid IN (SELECT qid FROM rescore_queue)")
	if err != nil {
		return err
	}
	b.int(rev)
	if err := tx.runChanging(b); err != nil {
		return err
	}
	n, err := tx.Queued()
	if err != nil {
		return err
	}
	q := rerateQuery(tags, tx.pg != nil, n > rerateScan)
	if tx.pg != nil {
		return tx.pgRerate(q, rate, tags, rev)
	}
	if err := tx.exec(`CREATE TEMP TABLE IF NOT EXISTS rerate2 (host_id INTEGER, qid INTEGER, port INTEGER,
 vuln_score TEXT, breach_date TEXT, priority TEXT, priority_reason TEXT, due_date TEXT, urgency INTEGER,
 priority_cause TEXT, PRIMARY KEY (host_id, qid, port))`); err != nil {
		return err
	}
	// The findings whose order alone moved (a day's EPSS file: most of
	// them) are staged apart and take only their urgency: an UPDATE that
	// names an indexed column rewrites that index's entry even when the
	// value stays, so naming the rating and deadline would rewrite
	// detections_status, and the history trigger would run, for each.
	if err := tx.exec(`CREATE TEMP TABLE IF NOT EXISTS rerate_order (host_id INTEGER, qid INTEGER, port INTEGER,
 urgency INTEGER, PRIMARY KEY (host_id, qid, port)) WITHOUT ROWID`); err != nil {
		return err
	}
	if n > rerateScan {
		// Rewriting most findings: a page cache that holds the pages they
		// dirty writes each once, at the commit, not every time the cache
		// spills.
		if err := tx.exec("PRAGMA cache_size = -65536"); err != nil {
			return err
		}
		defer tx.exec("PRAGMA cache_size = " + cacheSize)
	}
	for _, t := range []string{"rerate2", "rerate_order"} {
		if err := tx.exec("DELETE FROM temp." + t); err != nil {
			return err
		}
	}
	ins, err := tx.bind("INSERT INTO temp.rerate2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	order, err := tx.bind("INSERT INTO temp.rerate_order VALUES (?, ?, ?, ?)")
	if err != nil {
		return err
	}
	var (
		risks riskCache
		look  *rerateLookups
	)
	scan := n > rerateScan
	shown, full := false, false
	err = tx.query(q, func(st Cols) error {
		if scan && look == nil {
			// Loaded at the first detection: a store without any (an
			// EPSS file before the first import of detections) needs no
			// lookups, nor their memory.
			var err error
			if look, err = tx.loadRerateLookups(); err != nil {
				return err
			}
		}
		if look != nil && !look.queued[st.ColumnInt(1)] {
			return nil
		}
		in := rateInput(st, &risks, tags)
		if look != nil {
			look.fill(&in)
		}
		d := rate(in)
		if unchanged(st, &d) {
			return nil
		}
		tx.Stats.Rerated++
		tx.reorder()
		if !visibleChange(st, &d) {
			order.int(st.ColumnInt64(0))
			order.int(int64(in.QID))
			order.int(st.ColumnInt64(2))
			order.int(d.Urgency)
			return order.run()
		}
		shown, full = true, true
		ins.int(st.ColumnInt64(0))
		ins.int(int64(in.QID))
		ins.int(st.ColumnInt64(2))
		ins.text(d.VulnScore)
		ins.text(d.BreachDate)
		ins.text(d.Priority)
		ins.text(d.PriorityReason)
		ins.text(d.DueDate)
		ins.int(d.Urgency)
		ins.text(d.Cause)
		return ins.run()
	})
	if err != nil {
		return err
	}
	if shown {
		tx.usedRev()
	}
	if err := tx.exec(`UPDATE detections SET urgency = r.urgency
FROM temp.rerate_order r WHERE detections.host_id = r.host_id AND detections.qid = r.qid AND detections.port = r.port`); err != nil {
		return err
	}
	if !full {
		return nil
	}
	up, err := tx.bind(`UPDATE detections SET ` + rerateSet("detections") + `
FROM temp.rerate2 r WHERE detections.host_id = r.host_id AND detections.qid = r.qid AND detections.port = r.port`)
	if err != nil {
		return err
	}
	up.int(rev)
	return up.run()
}

// rerateScan is the size of the queue from which SQLite reads every
// detection in table order rather than the queued QIDs' through their
// index: a day's EPSS file queues most QIDs, and an index walk then reads
// the table's pages at random, each many times.
const rerateScan = 200

// rerateSet is the SET list that applies a staged rerating (r) to the
// detections table d; ? is the revision, which a change that findings show
// (rating, deadline, priority, its rule, due date) takes. The order alone
// (urgency) is not shown: a day's EPSS file moves it for most findings.
func rerateSet(d string) string {
	return `vuln_score = r.vuln_score, breach_date = r.breach_date,
 priority_cause = CASE WHEN ` + d + `.priority IS DISTINCT FROM r.priority OR ` + d + `.due_date IS DISTINCT FROM r.due_date
   THEN r.priority_cause ELSE ` + d + `.priority_cause END,
 rev = CASE WHEN ` + d + `.vuln_score IS DISTINCT FROM r.vuln_score OR ` + d + `.breach_date IS DISTINCT FROM r.breach_date
   OR ` + d + `.priority IS DISTINCT FROM r.priority OR ` + d + `.priority_reason IS DISTINCT FROM r.priority_reason
   OR ` + d + `.due_date IS DISTINCT FROM r.due_date THEN ? ELSE ` + d + `.rev END,
 priority = r.priority, priority_reason = r.priority_reason, due_date = r.due_date, urgency = r.urgency`
}

// visibleChange says whether d changes what a row of rerateQuery's
// finding shows (not only its order).
func visibleChange(st Cols, d *Derived) bool {
	return d.VulnScore != st.ColumnText(5) || d.BreachDate != st.ColumnText(6) ||
		d.Priority != st.ColumnText(13) || d.PriorityReason != st.ColumnText(14) || d.DueDate != st.ColumnText(15)
}

// unchanged says whether a row of rerateQuery already holds d.
func unchanged(st Cols, d *Derived) bool {
	return d.VulnScore == st.ColumnText(5) && d.BreachDate == st.ColumnText(6) &&
		d.Priority == st.ColumnText(13) && d.PriorityReason == st.ColumnText(14) &&
		d.DueDate == st.ColumnText(15) && d.Urgency == st.ColumnInt64(16)
}

// rerateQuery reads what rating and priority each detection of a queued
// QID needs, and what it holds (columns 5, 6 and 13 to 16); column 25 is
// its SLA restart. With tags, the last column is the host's tags joined
// by char(31).
//
// Its detections are those of the QIDs queued in rescore_queue or
// risk_queue; scan reads them in table order (see rerateScan).
func rerateQuery(tags, pg, scan bool) string {
	q := `SELECT d.host_id, d.qid, d.port, d.severity, d.first_found, d.vuln_score, d.breach_date,
  h.policy, COALESCE(s.rating, ''), COALESCE(s.kb_severity, 0), d.last_reopened, COALESCE(s.kb_published, 0),
  COALESCE(d.qds, 0), d.priority, d.priority_reason, d.due_date, d.urgency, s.env_score,
  k.qid, k.kev, k.kev_ransomware, k.kev_date_added, k.epss, k.epss_percentile, k.threat_intel`
	if tags {
		agg := "group_concat(t.name, char(31))"
		if pg {
			agg = "string_agg(t.name, chr(31) ORDER BY t.name)"
		}
		q += `, d.sla_restart,
  COALESCE((SELECT ` + agg + ` FROM host_tags t WHERE t.host_id = d.host_id), '')`
	} else {
		q += `, d.sla_restart`
	}
	const queued = `(SELECT qid FROM rescore_queue UNION SELECT qid FROM risk_queue)`
	const joins = `
LEFT JOIN qid_scores s ON s.qid = d.qid AND s.policy = h.policy
LEFT JOIN qid_risk k ON k.qid = d.qid`
	switch {
	case pg:
		return q + `
FROM detections d
JOIN ` + queued + ` r ON r.qid = d.qid
JOIN hosts h ON h.id = d.host_id` + joins
	case scan:
		// Host by host, each host's detections by primary key. The
		// queued QIDs, their scores and their risk are looked up in
		// memory (rerateLookups), not joined: three B-tree seeks for each
		// of a million detections cost more than reading them. The
		// columns keep their places, empty.
		q = strings.Replace(q, `h.policy, COALESCE(s.rating, ''), COALESCE(s.kb_severity, 0), d.last_reopened, COALESCE(s.kb_published, 0),`,
			`h.policy, '', 0, d.last_reopened, 0,`, 1)
		q = strings.Replace(q, `d.urgency, s.env_score,
  k.qid, k.kev, k.kev_ransomware, k.kev_date_added, k.epss, k.epss_percentile, k.threat_intel`,
			`d.urgency, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`, 1)
		return q + `
FROM hosts h CROSS JOIN detections d ON d.host_id = h.id`
	}
	return q + `
FROM detections d
JOIN hosts h ON h.id = d.host_id` + joins + `
WHERE d.qid IN ` + queued
}

// rerateLookups is what a scan of every detection (rerateScan) looks up
// in memory for each: whether its QID is queued, its QID's score under
// its host's policy, and its QID's risk. A few dozen bytes per QID.
type rerateLookups struct {
	queued map[int]bool
	scores map[QIDKey]QIDRating
	risks  map[int]*priority.Risk
}

func (tx *Tx) loadRerateLookups() (*rerateLookups, error) {
	l := &rerateLookups{queued: map[int]bool{}, scores: map[QIDKey]QIDRating{}}
	err := tx.query("SELECT qid FROM rescore_queue UNION SELECT qid FROM risk_queue", func(st Cols) error {
		l.queued[st.ColumnInt(0)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.query("SELECT qid, policy, rating, kb_severity, kb_published, env_score FROM qid_scores", func(st Cols) error {
		l.scores[QIDKey{st.ColumnInt(0), st.ColumnInt(1)}] = QIDRating{Rating: st.ColumnText(2),
			KBSeverity: st.ColumnInt(3), Published: st.ColumnInt64(4), Env: optCol(st, 5)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var risks riskCache
	err = tx.query(`SELECT qid, qid, kev, kev_ransomware, kev_date_added, epss, epss_percentile, threat_intel
FROM qid_risk`, func(st Cols) error {
		risks.get(st.ColumnInt(0), st, 1)
		return nil
	})
	l.risks = risks.byQID
	return l, err
}

// fill completes in, read from rerateQuery's scan, as the joins of the
// other plans would have: a QID without a score rates by severity.
func (l *rerateLookups) fill(in *RateInput) {
	risk := l.risks[in.QID]
	in.Score = l.scores[QIDKey{in.QID, in.Policy}]
	in.Score.Risk = risk
	if in.Severity == 0 {
		in.Severity = in.Score.KBSeverity
	}
}

// rateInput is a row of rerateQuery as rate takes it.
func rateInput(st Cols, risks *riskCache, tags bool) RateInput {
	in := RateInput{
		QID:          st.ColumnInt(1),
		Severity:     st.ColumnInt(3),
		FirstFound:   st.ColumnInt64(4),
		LastReopened: st.ColumnInt64(10),
		Policy:       st.ColumnInt(7),
		Score: QIDRating{Rating: st.ColumnText(8), KBSeverity: st.ColumnInt(9), Published: st.ColumnInt64(11),
			Env: optCol(st, 17), Risk: risks.get(st.ColumnInt(1), st, 18)},
		QDS:         st.ColumnInt(12),
		OldPriority: st.ColumnText(13),
		OldReason:   st.ColumnText(14),
	}
	if in.Severity == 0 {
		in.Severity = in.Score.KBSeverity
	}
	in.Restart = st.ColumnInt64(25)
	if tags {
		if t := st.ColumnText(26); t != "" {
			in.Tags = strings.Split(t, "\x1f")
		}
	}
	return in
}

const pgPoliciesDDL = `CREATE TEMP TABLE qvt_policies (id bigint PRIMARY KEY, policy bigint NOT NULL) ON COMMIT DROP`

// ClearQueue empties the rescoring queue.
func (tx *Tx) ClearQueue() error {
	if err := tx.exec("DELETE FROM risk_queue"); err != nil {
		return err
	}
	return tx.exec("DELETE FROM rescore_queue")
}

// ReassignPolicies sets every host's environment policy to what match
// says for its id, addresses and tags, and returns how many changed.
// After a change of environment policies nothing is fetched again: the
// hosts are reassigned here, then everything is rescored.
func (tx *Tx) ReassignPolicies(match func(id int64, ips, tags []string) int) (int, error) {
	type change struct{ id, policy int64 }
	var changes []change
	q := `SELECT h.id, h.ip, h.ipv6, h.policy, COALESCE(group_concat(t.name, char(31)), '')
FROM hosts h LEFT JOIN host_tags t ON t.host_id = h.id GROUP BY h.id`
	if tx.pg != nil {
		q = strings.Replace(q, "group_concat(t.name, char(31))", "string_agg(t.name, chr(31) ORDER BY t.name)", 1)
	}
	err := tx.query(q, func(st Cols) error {
		var tags []string
		if s := st.ColumnText(4); s != "" {
			tags = strings.Split(s, "\x1f")
		}
		p := int64(match(st.ColumnInt64(0), []string{st.ColumnText(1), st.ColumnText(2)}, tags))
		if p != st.ColumnInt64(3) {
			changes = append(changes, change{st.ColumnInt64(0), p})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(changes) > 0 {
		tx.reorder()
	}
	if tx.pg != nil && len(changes) > 0 {
		// One statement for all: a policy change may move every host.
		if err := tx.pgStage("qvt_policies", pgPoliciesDDL); err != nil {
			return 0, err
		}
		err := tx.pgCopy("qvt_policies", []string{"id", "policy"}, len(changes), func(i int, v []any) []any {
			return append(v, changes[i].id, changes[i].policy)
		})
		if err != nil {
			return 0, err
		}
		if _, err := tx.pgExec("UPDATE hosts h SET policy = p.policy FROM pg_temp.qvt_policies p WHERE h.id = p.id"); err != nil {
			return 0, err
		}
		return len(changes), nil
	}
	b, err := tx.bind("UPDATE hosts SET policy = ? WHERE id = ?")
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		b.int(c.policy)
		b.int(c.id)
		if err := b.run(); err != nil {
			return 0, err
		}
	}
	return len(changes), nil
}
