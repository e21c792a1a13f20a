package store_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// docs/scaling.md plans how the PostgreSQL schema distributes on Citus:
// which tables are distributed by the host (co-located), which are
// reference tables and which stay local to the coordinator. These tests
// apply the migrations to a fresh schema and hold the catalog to that
// plan, so that no migration contradicts it: a new table must be
// classified there, and the keys, foreign keys and triggers of the tables
// must be ones Citus can keep.

// citusPlan is the table of tables of docs/scaling.md: each table's kind
// (distributed, reference or local) and, for distributed ones, the
// distribution column.
type citusPlan struct {
	kind map[string]string
	col  map[string]string
	doc  string // the whole document, for the triggers it names
}

var planRow = regexp.MustCompile("^\\|\\s*`([a-z0-9_]+)`\\s*\\|\\s*([a-z]+)[^|]*\\|\\s*`?([a-z0-9_]*)`?\\s*\\|")

func readPlan(t *testing.T) citusPlan {
	t.Helper()
	b, err := os.ReadFile("../../docs/scaling.md")
	if err != nil {
		t.Fatalf("reading the Citus plan: %v", err)
	}
	p := citusPlan{kind: map[string]string{}, col: map[string]string{}, doc: string(b)}
	for line := range strings.Lines(p.doc) {
		m := planRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch m[2] {
		case "distributed", "reference", "local":
		default:
			t.Fatalf("docs/scaling.md: table %s is %q: say distributed, reference or local", m[1], m[2])
		}
		p.kind[m[1]] = m[2]
		if m[2] == "distributed" {
			if m[3] == "" {
				t.Fatalf("docs/scaling.md: distributed table %s names no distribution column", m[1])
			}
			p.col[m[1]] = m[3]
		}
	}
	if len(p.kind) == 0 {
		t.Fatal("docs/scaling.md: found no table of tables (rows like | `hosts` | distributed | `id` | why |)")
	}
	return p
}

// catalog is what the rules need of a schema.
type catalog struct {
	tables   []string
	columns  map[string][]string
	nullable map[string]bool // "table.column" of columns that may be NULL
	uniques  []uniqueIndex
	fkeys    []foreignKey
	triggers []trigger
}

type uniqueIndex struct {
	table, name string
	primary     bool
	cols        []string // empty names stand for expressions
}

type foreignKey struct {
	name, from, to   string
	fromCols, toCols []string
}

type trigger struct{ table, name string }

func readCatalog(t *testing.T, ctx context.Context, c *pgx.Conn) catalog {
	t.Helper()
	cat := catalog{columns: map[string][]string{}, nullable: map[string]bool{}}
	rows, err := c.Query(ctx, `SELECT c.relname, a.attname, NOT a.attnotnull FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname, a.attnum`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, col string
		var null bool
		if err := rows.Scan(&tb, &col, &null); err != nil {
			t.Fatal(err)
		}
		cat.nullable[tb+"."+col] = null
		if _, ok := cat.columns[tb]; !ok {
			cat.tables = append(cat.tables, tb)
		}
		cat.columns[tb] = append(cat.columns[tb], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Unique and exclusion indexes, whether they back a constraint or not.
	rows, err = c.Query(ctx, `SELECT tc.relname, ic.relname, x.indisprimary,
  ARRAY(SELECT COALESCE(a.attname, '') FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(num, i)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num ORDER BY k.i)
FROM pg_index x
JOIN pg_class tc ON tc.oid = x.indrelid
JOIN pg_class ic ON ic.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
WHERE n.nspname = current_schema() AND (x.indisunique OR x.indisexclusion)
ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u uniqueIndex
		if err := rows.Scan(&u.table, &u.name, &u.primary, &u.cols); err != nil {
			t.Fatal(err)
		}
		cat.uniques = append(cat.uniques, u)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = c.Query(ctx, `SELECT k.conname, src.relname, dst.relname,
  ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(num, i)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num ORDER BY u.i),
  ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(num, i)
        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num ORDER BY u.i)
FROM pg_constraint k
JOIN pg_class src ON src.oid = k.conrelid
JOIN pg_class dst ON dst.oid = k.confrelid
JOIN pg_namespace n ON n.oid = src.relnamespace
WHERE n.nspname = current_schema() AND k.contype = 'f'
ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f foreignKey
		if err := rows.Scan(&f.name, &f.from, &f.to, &f.fromCols, &f.toCols); err != nil {
			t.Fatal(err)
		}
		cat.fkeys = append(cat.fkeys, f)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = c.Query(ctx, `SELECT c.relname, g.tgname FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT g.tgisinternal ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g trigger
		if err := rows.Scan(&g.table, &g.name); err != nil {
			t.Fatal(err)
		}
		cat.triggers = append(cat.triggers, g)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cat
}

// violations lists what in the schema contradicts the plan, each with
// what to fix.
func violations(p citusPlan, cat catalog) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, tb := range cat.tables {
		if _, ok := p.kind[tb]; !ok {
			add("table %s is not classified in docs/scaling.md: add a row for it to the table of tables: "+
				"distributed (by host_id, co-located with hosts) if it holds rows per host, reference if it is knowledge joined on QID or CVE, local if it is qvt's own state", tb)
		}
	}
	for tb := range p.kind {
		if !slices.Contains(cat.tables, tb) {
			add("docs/scaling.md classifies table %s, which the PostgreSQL migrations do not create: fix its name or remove its row", tb)
		}
	}
	dist := func(tb string) (string, bool) {
		c, ok := p.col[tb]
		return c, ok && p.kind[tb] == "distributed"
	}
	for tb, col := range p.col {
		if cols, ok := cat.columns[tb]; ok && !slices.Contains(cols, col) {
			add("docs/scaling.md distributes table %s by column %s, which it does not have: name its host column", tb, col)
		} else if cat.nullable[tb+"."+col] {
			add("distribution column %s.%s may be NULL: Citus cannot place a row without it; declare it NOT NULL", tb, col)
		}
	}
	hasPK := map[string]bool{}
	for _, u := range cat.uniques {
		col, ok := dist(u.table)
		if !ok {
			continue
		}
		hasPK[u.table] = hasPK[u.table] || u.primary
		if !slices.Contains(u.cols, col) {
			what := "unique index"
			if u.primary {
				what = "primary key"
			}
			add("%s %s of distributed table %s is on (%s) without the distribution column %s: Citus checks uniqueness within a shard only, "+
				"so put %s in it (first, as history's (host_id, id)) or make the index not unique", what, u.name, u.table, strings.Join(u.cols, ", "), col, col)
		}
	}
	for tb := range p.col {
		if slices.Contains(cat.tables, tb) && !hasPK[tb] {
			add("distributed table %s has no primary key: give it one that starts with its distribution column %s", tb, p.col[tb])
		}
	}
	for _, f := range cat.fkeys {
		fromKind, toKind := p.kind[f.from], p.kind[f.to]
		fromCol, fromDist := dist(f.from)
		toCol, toDist := dist(f.to)
		switch {
		case fromDist && toDist:
			paired := false
			for i := range f.fromCols {
				paired = paired || i < len(f.toCols) && f.fromCols[i] == fromCol && f.toCols[i] == toCol
			}
			if !paired {
				add("foreign key %s from %s (%s) to %s (%s) joins distributed tables on other columns than their distribution columns (%s to %s): "+
					"Citus cannot check it across shards; make it refer %s.%s to %s.%s, or drop it",
					f.name, f.from, strings.Join(f.fromCols, ", "), f.to, strings.Join(f.toCols, ", "), fromCol, toCol, f.from, fromCol, f.to, toCol)
			}
		case toDist:
			add("foreign key %s from %s table %s to distributed table %s: Citus allows none (a %s table is not split by host); drop it, or check the reference in qvt",
				f.name, fromKind, f.from, f.to, fromKind)
		case fromDist && toKind == "local":
			add("foreign key %s from distributed table %s to local table %s: Citus allows none; make %s a reference table or drop the key",
				f.name, f.from, f.to, f.to)
		}
	}
	for _, g := range cat.triggers {
		if _, ok := dist(g.table); ok && !strings.Contains(p.doc, "`"+g.name+"`") {
			add("trigger %s on distributed table %s: triggers on distributed tables run on the workers (citus.enable_unsafe_triggers) without the "+
				"coordinator's settings; do the work in the write path, or say in docs/scaling.md how it runs on Citus (naming `%s`)", g.name, g.table, g.name)
		}
	}
	slices.Sort(out)
	return out
}

func migratedSchema(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	loc := storetest.Postgres(t)
	ctx := context.Background()
	st, err := store.Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	c, err := pgx.Connect(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return ctx, c
}

// The migrated schema keeps every rule of the plan, and the plan
// classifies every table.
func TestMigrationsFollowCitusPlan(t *testing.T) {
	p := readPlan(t)
	ctx, c := migratedSchema(t)
	cat := readCatalog(t, ctx, c)
	for _, want := range []string{"hosts", "detections", "history", "kb_vulns"} {
		if !slices.Contains(cat.tables, want) {
			t.Fatalf("the catalog lists no table %s (tables: %v): the test reads the wrong schema", want, cat.tables)
		}
	}
	for _, v := range violations(p, cat) {
		t.Error(v)
	}
	// What the document says of the main tables, as the plan's core.
	for tb, kind := range map[string]string{"hosts": "distributed", "host_tags": "distributed", "detections": "distributed", "history": "distributed",
		"kb_vulns": "reference", "kb_cves": "reference", "nvd_cves": "reference", "nvd_metrics": "reference", "qid_scores": "reference",
		"meta": "local", "rescore_queue": "local"} {
		if p.kind[tb] != kind {
			t.Errorf("docs/scaling.md: %s is %q, want %s", tb, p.kind[tb], kind)
		}
	}
	if p.col["hosts"] != "id" {
		t.Errorf("docs/scaling.md: hosts is distributed by %q, want id", p.col["hosts"])
	}
}

// The rules catch what a migration could get wrong: tables made in the
// same migrated schema that break each rule are each named.
func TestMigrationsRulesCatchViolations(t *testing.T) {
	p := readPlan(t)
	ctx, c := migratedSchema(t)
	for _, q := range []string{
		`CREATE TABLE scan_notes (host_id BIGINT NOT NULL, note_id BIGINT NOT NULL, PRIMARY KEY (note_id))`,
		`CREATE UNIQUE INDEX scan_notes_host ON scan_notes (host_id, note_id)`,
		// A foreign key needs a unique key on the side it refers to: this
		// one holds the host, but the key pairs the host with the QID.
		`CREATE TABLE detections_keys (host_id BIGINT NOT NULL, qid BIGINT NOT NULL, PRIMARY KEY (host_id, qid), UNIQUE (qid, host_id))`,
		`CREATE TABLE host_owners (host_id BIGINT NOT NULL, qid BIGINT NOT NULL, PRIMARY KEY (host_id, qid),
		   FOREIGN KEY (host_id, qid) REFERENCES detections_keys (qid, host_id))`,
		`CREATE TABLE kev_notes (cve_id TEXT PRIMARY KEY, host BIGINT REFERENCES hosts (id))`,
		`CREATE TABLE unplanned (id BIGINT PRIMARY KEY)`,
		`CREATE TABLE host_marks (host_id BIGINT, mark TEXT NOT NULL, UNIQUE (host_id, mark))`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	p.kind["scan_notes"], p.col["scan_notes"] = "distributed", "host_id"
	p.kind["host_owners"], p.col["host_owners"] = "distributed", "host_id"
	p.kind["detections_keys"], p.col["detections_keys"] = "distributed", "host_id"
	p.kind["host_marks"], p.col["host_marks"] = "distributed", "host_id"
	p.kind["kev_notes"] = "reference"
	got := strings.Join(violations(p, readCatalog(t, ctx, c)), "\n")
	for _, want := range []string{
		"primary key scan_notes_pkey of distributed table scan_notes is on (note_id) without the distribution column host_id",
		"foreign key host_owners_host_id_qid_fkey from host_owners (host_id, qid) to detections_keys (qid, host_id) joins distributed tables on other columns",
		"foreign key kev_notes_host_fkey from reference table kev_notes to distributed table hosts",
		"table unplanned is not classified in docs/scaling.md",
		"distribution column host_marks.host_id may be NULL",
		"distributed table host_marks has no primary key",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the rules did not report %q; they said:\n%s", want, got)
		}
	}
	if strings.Contains(got, "scan_notes_host") {
		t.Errorf("a unique index holding the distribution column was reported:\n%s", got)
	}
}
