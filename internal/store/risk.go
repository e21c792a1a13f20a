package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"qvt/internal/priority"
)

// KEVEntry is one entry of CISA's KEV catalog, every field as the catalog
// writes it (dates YYYY-MM-DD).
type KEVEntry struct {
	CVE, VendorProject, Product, Name, DateAdded, Description string
	RequiredAction, DueDate, Ransomware, Notes                string
	CWEs                                                      []string
}

// KEVCatalog is a whole catalog: about 1,500 entries, held at once.
type KEVCatalog struct {
	Title, Version, Released string // Version and Released are "" from a CSV file
	Entries                  []KEVEntry
}

// KEVResult says what storing a catalog changed.
type KEVResult struct {
	Unchanged               bool // the stored catalog has this version: nothing was written
	Entries                 int  // in the catalog
	Added, Removed, Changed int  // entries
	QIDs                    int  // QIDs queued for rescoring
}

// ErrOlder is returned for a feed file older than the one the store holds;
// nothing is written.
var ErrOlder = errors.New("older than the one stored")

// StoredKEV returns the stored catalog's version and release ("" when none).
func (tx *Tx) StoredKEV() (version, released string, entries int, err error) {
	err = tx.query("SELECT version, released, entries FROM kev_catalog", func(st Cols) error {
		version, released, entries = st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2)
		return nil
	})
	return
}

// PutKEV replaces the stored catalog with c entry by entry (at: Unix
// seconds, when it was stored). KEV entries are edited in place, so every
// field is compared; the QIDs whose CVEs were added, removed or edited
// are queued for rescoring, which gives their findings new priorities. A
// catalog with the stored version changes nothing; one released before
// the stored one is refused with ErrOlder.
func (tx *Tx) PutKEV(c *KEVCatalog, at int64) (KEVResult, error) {
	res := KEVResult{Entries: len(c.Entries)}
	version, released, _, err := tx.StoredKEV()
	if err != nil {
		return res, err
	}
	if c.Version != "" && c.Version == version {
		res.Unchanged = true
		return res, nil
	}
	if c.Released != "" && released != "" && c.Released < released {
		return res, fmt.Errorf("kev: catalog %s (released %s): %w (%s, released %s)", c.Version, c.Released, ErrOlder, version, released)
	}
	stored := map[string]KEVEntry{}
	err = tx.query(`SELECT cve, vendor_project, product, name, date_added, description, required_action,
  due_date, ransomware, notes, cwes FROM kev_entries`, func(st Cols) error {
		e := KEVEntry{CVE: st.ColumnText(0), VendorProject: st.ColumnText(1), Product: st.ColumnText(2),
			Name: st.ColumnText(3), DateAdded: st.ColumnText(4), Description: st.ColumnText(5),
			RequiredAction: st.ColumnText(6), DueDate: st.ColumnText(7), Ransomware: st.ColumnText(8), Notes: st.ColumnText(9)}
		if err := json.Unmarshal(st.ColumnRawText(10), &e.CWEs); err != nil {
			e.CWEs = nil
		}
		stored[e.CVE] = e
		return nil
	})
	if err != nil {
		return res, err
	}
	up, err := tx.bind(`INSERT INTO kev_entries (cve, vendor_project, product, name, date_added, description,
 required_action, due_date, ransomware, notes, cwes) VALUES (?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (cve) DO UPDATE SET vendor_project = excluded.vendor_project, product = excluded.product,
 name = excluded.name, date_added = excluded.date_added, description = excluded.description,
 required_action = excluded.required_action, due_date = excluded.due_date, ransomware = excluded.ransomware,
 notes = excluded.notes, cwes = excluded.cwes`)
	if err != nil {
		return res, err
	}
	del, err := tx.bind("DELETE FROM kev_entries WHERE cve = ?")
	if err != nil {
		return res, err
	}
	queue, err := tx.bind("INSERT INTO rescore_queue (qid) SELECT qid FROM kb_cves WHERE cve_id = ? ON CONFLICT DO NOTHING")
	if err != nil {
		return res, err
	}
	touched := func(cve string) error {
		queue.text(cve)
		return queue.run()
	}
	seen := make(map[string]bool, len(c.Entries))
	for _, e := range c.Entries {
		if seen[e.CVE] {
			return res, fmt.Errorf("kev: %s is in the catalog twice", e.CVE)
		}
		seen[e.CVE] = true
		old, ok := stored[e.CVE]
		if ok && sameKEV(&old, &e) {
			continue
		}
		if ok {
			res.Changed++
		} else {
			res.Added++
		}
		cwes, _ := json.Marshal(nonNil(e.CWEs))
		for _, v := range []string{e.CVE, e.VendorProject, e.Product, e.Name, e.DateAdded, e.Description,
			e.RequiredAction, e.DueDate, e.Ransomware, e.Notes, string(cwes)} {
			up.text(v)
		}
		if err := up.run(); err != nil {
			return res, fmt.Errorf("kev: %s: %w", e.CVE, err)
		}
		if err := touched(e.CVE); err != nil {
			return res, err
		}
	}
	for cve := range stored {
		if seen[cve] {
			continue
		}
		res.Removed++
		del.text(cve)
		if err := del.run(); err != nil {
			return res, err
		}
		if err := touched(cve); err != nil {
			return res, err
		}
	}
	b, err := tx.bind(`INSERT INTO kev_catalog (id, version, released, title, entries, stored) VALUES (1, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET version = excluded.version, released = excluded.released, title = excluded.title,
 entries = excluded.entries, stored = excluded.stored`)
	if err != nil {
		return res, err
	}
	b.text(c.Version)
	b.text(c.Released)
	b.text(c.Title)
	b.int(int64(len(c.Entries)))
	b.int(at)
	if err := b.run(); err != nil {
		return res, err
	}
	res.QIDs, err = tx.Queued()
	return res, err
}

func sameKEV(a, b *KEVEntry) bool {
	return a.CVE == b.CVE && a.VendorProject == b.VendorProject && a.Product == b.Product && a.Name == b.Name &&
		a.DateAdded == b.DateAdded && a.Description == b.Description && a.RequiredAction == b.RequiredAction &&
		a.DueDate == b.DueDate && a.Ransomware == b.Ransomware && a.Notes == b.Notes &&
		strings.Join(a.CWEs, "\x1f") == strings.Join(b.CWEs, "\x1f")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// EPSSScore is one row of an EPSS file.
type EPSSScore struct {
	CVE              string
	EPSS, Percentile float64
}

// EPSSResult says what storing an EPSS file changed.
type EPSSResult struct {
	Scores           int // rows in the file
	Changed, Removed int // CVEs whose score or percentile changed (new ones included), CVEs no longer scored
	QIDs             int // QIDs queued for rescoring
}

// StoredEPSS returns the stored file's model version and score date.
func (tx *Tx) StoredEPSS() (model, date string, scores int, err error) {
	err = tx.query("SELECT model_version, score_date, scores FROM epss_meta", func(st Cols) error {
		model, date, scores = st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2)
		return nil
	})
	return
}

// epssChunk is how many rows PutEPSS copies at a time on PostgreSQL.
const epssChunk = 20000

// PutEPSS replaces the stored EPSS scores with a file's and queues the
// QIDs of the CVEs whose score changed. feed streams the file: it calls
// header with the file's model version and score date before the first
// row, then row for each. A score that changes keeps the one before it
// (for "rising"). A file dated before the stored one is refused with
// ErrOlder, and nothing is written. The QIDs go to risk_queue: their
// findings are rewritten only where the priority, due date or order moved,
// and not marked changed for publishers unless the priority or due date
// did. A header after rows starts the file
// again (a download retried after a cut): the rows before it are dropped.
func (tx *Tx) PutEPSS(feed func(header func(model, date string) error, row func(EPSSScore) error) error, at int64) (EPSSResult, error) {
	var res EPSSResult
	_, stored, _, err := tx.StoredEPSS()
	if err != nil {
		return res, err
	}
	before, err := tx.queuedRisk()
	if err != nil {
		return res, err
	}
	var model, date string
	// On PostgreSQL the file goes to a staging table first; the changes
	// are then a few set-based statements.
	var (
		row   func(EPSSScore) error
		done  func() error
		reset func() error
		file  *epssRows // SQLite
	)
	header := func(m, d string) error {
		if d != "" && stored != "" && d < stored {
			return fmt.Errorf("epss: scores of %s: %w (%s)", d, ErrOlder, stored)
		}
		model, date = m, d
		if res.Scores == 0 {
			return nil
		}
		res.Scores = 0
		return reset()
	}
	if tx.pg != nil {
		if err := tx.pgStage("qvt_epss", `CREATE TEMP TABLE qvt_epss (cve text PRIMARY KEY, epss double precision NOT NULL,
 percentile double precision NOT NULL) ON COMMIT DROP`); err != nil {
			return res, err
		}
		buf := make([]EPSSScore, 0, epssChunk)
		flush := func() error {
			err := tx.pgCopy("qvt_epss", []string{"cve", "epss", "percentile"}, len(buf), func(i int, v []any) []any {
				return append(v, buf[i].CVE, buf[i].EPSS, buf[i].Percentile)
			})
			buf = buf[:0]
			return epssDup(err)
		}
		row = func(s EPSSScore) error {
			if buf = append(buf, s); len(buf) == epssChunk {
				return flush()
			}
			return nil
		}
		done = flush
		reset = func() error {
			buf = buf[:0]
			_, err := tx.pgExec("TRUNCATE pg_temp.qvt_epss")
			return err
		}
	} else {
		// The file is held (compactly) and merged with the stored scores
		// in one ordered walk of each: only what changed is written.
		file = &epssRows{}
		row = file.add
		done = file.sort
		reset = func() error {
			file.reset()
			return nil
		}
	}
	err = feed(header, func(s EPSSScore) error {
		res.Scores++
		return row(s)
	})
	if err == nil {
		err = done()
	}
	if err != nil {
		return res, err
	}
	if file != nil {
		if err := tx.mergeEPSS(file, &res); err != nil {
			return res, err
		}
	} else if err := tx.pgDiffEPSS(&res); err != nil {
		return res, err
	}
	b, err := tx.bind(`INSERT INTO epss_meta (id, model_version, score_date, scores, stored) VALUES (1, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET model_version = excluded.model_version, score_date = excluded.score_date,
 scores = excluded.scores, stored = excluded.stored`)
	if err != nil {
		return res, err
	}
	b.text(model)
	b.text(date)
	b.int(int64(res.Scores))
	b.int(at)
	if err := b.run(); err != nil {
		return res, err
	}
	after, err := tx.queuedRisk()
	res.QIDs = after - before
	return res, err
}

// pgDiffEPSS applies the staged file (PostgreSQL) in a few set-based
// statements: it queues the QIDs of changed, new and removed CVEs, then
// deletes and upserts.
func (tx *Tx) pgDiffEPSS(res *EPSSResult) error {
	const stage = "pg_temp.qvt_epss"
	// The QIDs of changed, new and removed CVEs.
	if err := tx.exec(`INSERT INTO risk_queue (qid) SELECT DISTINCT c.qid FROM kb_cves c JOIN (
  SELECT n.cve FROM ` + stage + ` n LEFT JOIN epss_scores s ON s.cve = n.cve
  WHERE s.cve IS NULL OR s.epss <> n.epss OR s.percentile <> n.percentile
  UNION ALL
  SELECT s.cve FROM epss_scores s WHERE NOT EXISTS (SELECT 1 FROM ` + stage + ` n WHERE n.cve = s.cve)
) x ON x.cve = c.cve_id WHERE true ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	if err := tx.exec(`DELETE FROM epss_scores WHERE NOT EXISTS (SELECT 1 FROM ` + stage + ` n WHERE n.cve = epss_scores.cve)`); err != nil {
		return err
	}
	res.Removed = int(tx.changes())
	if err := tx.exec(`INSERT INTO epss_scores (cve, epss, percentile) SELECT cve, epss, percentile FROM ` + stage + ` WHERE true
ON CONFLICT (cve) DO UPDATE SET prev_epss = epss_scores.epss, prev_percentile = epss_scores.percentile,
 epss = excluded.epss, percentile = excluded.percentile
WHERE epss_scores.epss <> excluded.epss OR epss_scores.percentile <> excluded.percentile`); err != nil {
		return err
	}
	res.Changed = int(tx.changes())
	return nil
}

// epssDup names the usual cause of a constraint error: a CVE twice.
func epssDup(err error) error {
	if err == nil {
		return nil
	}
	if s := err.Error(); strings.Contains(strings.ToLower(s), "unique") || strings.Contains(s, "23505") {
		return fmt.Errorf("epss: a CVE is scored twice in the file: %w", err)
	}
	return err
}

// Reassess recomputes what KEV, EPSS and threat intelligence say of each
// queued QID: assess gets the QID's CVEs in KB order with what the
// catalog and EPSS hold of each, and the names of the KB's THREAT_INTEL
// list. The results replace the QIDs' qid_risk rows.
func (tx *Tx) Reassess(assess func(qid int, cves []priority.CVEFacts, threatIntel []string) priority.Risk) error {
	q := `SELECT r.qid, k.threat_intel, c.cve_id, e.cve IS NOT NULL, e.date_added, e.due_date, e.ransomware,
  s.epss, s.percentile
FROM (SELECT qid FROM rescore_queue UNION SELECT qid FROM risk_queue) r
JOIN kb_vulns k ON k.qid = r.qid
LEFT JOIN kb_cves c ON c.qid = r.qid
LEFT JOIN kev_entries e ON e.cve = c.cve_id
LEFT JOIN epss_scores s ON s.cve = c.cve_id
ORDER BY r.qid, c.ord`
	var kev map[string]kevFacts
	if tx.pg == nil {
		// The queued QIDs as an IN list, which SQLite walks in order: the
		// rows come in the order asked, with no sort of them all. The KEV
		// catalog (about 1,500 entries) is looked up in memory rather
		// than searched for each CVE.
		q = `SELECT k.qid, k.threat_intel, c.cve_id, s.epss, s.percentile
FROM kb_vulns k
LEFT JOIN kb_cves c ON c.qid = k.qid
LEFT JOIN epss_scores s ON s.cve = c.cve_id
WHERE k.qid IN (SELECT qid FROM rescore_queue UNION ALL SELECT qid FROM risk_queue)
ORDER BY k.qid, c.ord`
		kev = map[string]kevFacts{}
		err := tx.query("SELECT cve, date_added, due_date, ransomware FROM kev_entries", func(st Cols) error {
			kev[st.ColumnText(0)] = kevFacts{st.ColumnText(1), st.ColumnText(2), st.ColumnText(3) == "Known"}
			return nil
		})
		if err != nil {
			return err
		}
	}
	type row struct {
		qid  int
		risk priority.Risk
	}
	list := func(s []string) string {
		b, _ := json.Marshal(nonNil(s))
		return string(b)
	}
	// SQLite writes each QID's row as soon as it is assessed: the query
	// reads no qid_risk row. PostgreSQL holds them (a few dozen bytes per
	// QID) for one COPY at the end.
	var write func(qid int, r *priority.Risk) error
	if tx.pg == nil {
		b, err := tx.bind(`INSERT INTO qid_risk (` + strings.Join(riskCols, ", ") + `) VALUES (?,?,?,?,?,?,?,?,?,?) ` + riskConflict)
		if err != nil {
			return err
		}
		write = func(qid int, r *priority.Risk) error {
			b.int(int64(qid))
			b.bool(r.KEV)
			b.text(list(r.KEVCVEs))
			b.text(r.KEVDateAdded)
			b.text(r.KEVDueDate)
			b.bool(r.KEVRansomware)
			for _, p := range []*float64{r.EPSS, r.Percentile} {
				if p == nil {
					b.null()
				} else {
					b.float(*p)
				}
			}
			b.text(r.EPSSCVE)
			b.text(list(r.ThreatIntel))
			if err := b.run(); err != nil {
				return fmt.Errorf("store: qid %d: %w", qid, err)
			}
			return nil
		}
	}
	var (
		out  []row
		cur  = -1
		cves []priority.CVEFacts
		ti   []string
		tis  threatIntelCache
	)
	flush := func() error {
		if cur < 0 {
			return nil
		}
		r := assess(cur, cves, ti)
		if write != nil {
			return write(cur, &r)
		}
		out = append(out, row{cur, r})
		return nil
	}
	err := tx.query(q, func(st Cols) error {
		if qid := st.ColumnInt(0); qid != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, cves = qid, cves[:0]
			ti = tis.names(st.ColumnRawText(1))
		}
		if st.ColumnType(2) == sqlite3.NULL {
			return nil
		}
		if kev != nil {
			c := priority.CVEFacts{CVE: st.ColumnText(2), EPSS: optCol(st, 3), Percentile: optCol(st, 4)}
			if e, ok := kev[c.CVE]; ok {
				c.InKEV, c.KEVDateAdded, c.KEVDueDate, c.Ransomware = true, e.dateAdded, e.dueDate, e.ransomware
			}
			cves = append(cves, c)
			return nil
		}
		cves = append(cves, priority.CVEFacts{CVE: st.ColumnText(2), InKEV: st.ColumnBool(3),
			KEVDateAdded: st.ColumnText(4), KEVDueDate: st.ColumnText(5), Ransomware: st.ColumnText(6) == "Known",
			EPSS: optCol(st, 7), Percentile: optCol(st, 8)})
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil || tx.pg == nil {
		return err
	}
	opt := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	if err := tx.pgStage("qvt_risk", `CREATE TEMP TABLE qvt_risk (LIKE qid_risk INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
		return err
	}
	err = tx.pgCopy("qvt_risk", riskCols, len(out), func(i int, v []any) []any {
		r := &out[i].risk
		return append(v, int64(out[i].qid), b2i(r.KEV), list(r.KEVCVEs), r.KEVDateAdded, r.KEVDueDate,
			b2i(r.KEVRansomware), opt(r.EPSS), opt(r.Percentile), r.EPSSCVE, list(r.ThreatIntel))
	})
	if err != nil {
		return err
	}
	_, err = tx.pgExec(`INSERT INTO qid_risk SELECT * FROM pg_temp.qvt_risk ` + riskConflict)
	return err
}

// kevFacts is what Reassess reads of a KEV entry.
type kevFacts struct {
	dateAdded, dueDate string
	ransomware         bool
}

// threatIntelCache reads the names of kb_vulns' threat_intel lists, once
// for each distinct list: a few combinations of a few names serve a whole
// KB. The lists it returns are shared and must not be changed.
type threatIntelCache struct {
	lists  jsonList
	byJSON map[string][]string
}

func (c *threatIntelCache) names(raw []byte) []string {
	if l, ok := c.byJSON[string(raw)]; ok {
		return l
	}
	if c.byJSON == nil {
		c.byJSON = map[string][]string{}
	}
	l := c.lists.list(raw, "text")
	c.byJSON[string(raw)] = l
	return l
}

var riskCols = []string{"qid", "kev", "kev_cves", "kev_date_added", "kev_due_date", "kev_ransomware",
	"epss", "epss_percentile", "epss_cve", "threat_intel"}

const riskConflict = `ON CONFLICT (qid) DO UPDATE SET kev = excluded.kev, kev_cves = excluded.kev_cves,
 kev_date_added = excluded.kev_date_added, kev_due_date = excluded.kev_due_date,
 kev_ransomware = excluded.kev_ransomware, epss = excluded.epss, epss_percentile = excluded.epss_percentile,
 epss_cve = excluded.epss_cve, threat_intel = excluded.threat_intel`

// queuedRisk counts the QIDs waiting in risk_queue.
func (tx *Tx) queuedRisk() (int, error) {
	n := 0
	err := tx.query("SELECT count(*) FROM risk_queue", func(st Cols) error {
		n = st.ColumnInt(0)
		return nil
	})
	return n, err
}
