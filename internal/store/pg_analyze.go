package store

import (
	"context"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgreSQL plans a query from its statistics of each table, which
// ANALYZE gathers and autovacuum refreshes when about a tenth of a table
// has changed, a minute or more after the fact. A first import, or a
// sync that doubles the store, leaves the tables far larger than their
// statistics say, and until autovacuum comes round the planner takes a
// table of hundreds of thousands of findings for one of a few thousand:
// the dashboard's findings list sorted by host, a walk of the primary key
// that reads 100 rows, was planned as a bitmap scan and sort of every open
// finding (4.3 s at 400,000 findings; 0.7 ms once analyzed). So the store
// counts what its writes change and analyzes a table itself, right after
// the commit, when the table has grown past twice the size its statistics
// knew (or has none). Daily changes of a few percent stay autovacuum's.
//
// It vacuums them too (VACUUM (ANALYZE)): the dashboard's lists read
// covering indexes, and PostgreSQL reads a row's table page for each
// entry until vacuum has marked the page all-visible. Right after a
// first import of ten million detections, a long title's list took
// 674 ms a page; after the vacuum (13 s), 41 ms. A vacuum takes no lock
// that stops readers or writers.

// analyzeTables are the tables each counter of Stats changes.
var analyzeTables = []struct {
	tables []string
	rows   func(Stats) int
}{
	{[]string{"detections", "history"}, func(s Stats) int { return s.Detections + s.Rerated }},
	{[]string{"hosts", "host_tags"}, func(s Stats) int { return s.Hosts }},
	{[]string{"kb_vulns", "kb_cves"}, func(s Stats) int { return s.VulnsChanged }},
	{[]string{"nvd_cves", "nvd_metrics"}, func(s Stats) int { return s.CVEsChanged }},
	{[]string{"qid_scores"}, func(s Stats) int { return s.Scored }},
}

// minAnalyzeRows is the least change worth an ANALYZE of its own.
const minAnalyzeRows = 1000

// pgAnalyzer keeps, per table, the rows this process's writes changed
// since its last ANALYZE.
type pgAnalyzer struct {
	mu      sync.Mutex
	changed map[string]int64
}

// wrote counts a committed transaction's changes and analyzes the tables
// that have outgrown their statistics. It is best effort: the write has
// committed, and a failed ANALYZE leaves the statistics to autovacuum.
func (a *pgAnalyzer) wrote(ctx context.Context, pool *pgxpool.Pool, st Stats) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.changed == nil {
		a.changed = map[string]int64{}
	}
	var candidates []string
	for _, t := range analyzeTables {
		n := t.rows(st)
		if n == 0 {
			continue
		}
		for _, name := range t.tables {
			a.changed[name] += int64(n)
			if a.changed[name] >= minAnalyzeRows {
				candidates = append(candidates, name)
			}
		}
	}
	if len(candidates) == 0 {
		return
	}
	// reltuples is what the statistics know of the table's size: -1 (or
	// 0 before PostgreSQL 14) when it was never analyzed.
	rows, err := pool.Query(ctx, `SELECT c.relname, c.reltuples FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)`, candidates)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		var known float32
		if rows.Scan(&name, &known) != nil {
			break
		}
		if known <= 0 || float64(a.changed[name]) >= float64(known) {
			stale = append(stale, name)
		}
	}
	rows.Close()
	if len(stale) == 0 {
		return
	}
	quoted := make([]string, len(stale))
	for i, t := range stale {
		quoted[i] = quoteIdent(t)
	}
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(quoted, ", ")); err != nil {
		return
	}
	for _, t := range stale {
		a.changed[t] = 0
	}
}
