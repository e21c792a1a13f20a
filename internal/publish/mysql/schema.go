package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// schemaVersion is the version of the tables this code writes. It is kept
// in each table's comment ("qvt findings, schema 2"), so no fourth table
// is needed: a later version that changes a table adds its columns with
// since set to it and bumps it; an older qvt refuses tables of a newer
// version.
//
// Versions: 1, the first; 2 adds the exploitation evidence and priority
// (docs/priority.md) to the findings and the cause to the history; 3
// adds the owner and the exception to the findings and the actor to the
// history.
const schemaVersion = 3

// column is one column of a table qvt owns: its DDL type and the
// information_schema DATA_TYPE values that the type may read back as
// (JSON is longtext on MariaDB).
type column struct {
	name  string
	ddl   string
	types []string
	kb    bool // findings: from the KB staging table, not the finding one
	// since is the schema version that added the column (0: the first);
	// a table of an older version gets it by migration.
	since int
}

func col(name, ddl string, types ...string) column { return column{name: name, ddl: ddl, types: types} }
func kbcol(name, ddl string, types ...string) column {
	return column{name: name, ddl: ddl, types: types, kb: true}
}

// in marks a column added by schema version v.
func (c column) in(v int) column { c.since = v; return c }

// findingColumns are the findings table's columns in table order: the
// contract's fields (docs/findings.md) with the key as finding_key (KEY
// is a reserved word), then the finding's life as the store tracks it.
// Times are UTC; absent times, scores, dates and deadlines are NULL.
// vendor_refs, cves, tags, kev_cves and threat_intel are JSON arrays of
// strings.
//
// The columns of schema 2 come last, so a table migrated from schema 1
// has the same shape as a new one. What KEV, EPSS and threat intel say
// is the same for every finding of a QID, so it is staged with the KB
// fields, once per QID. EPSS scores have the five decimals of the FIRST
// file.
var findingColumns = []column{
	col("finding_key", "VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL", "varchar"),
	col("ip", "VARCHAR(64) NOT NULL", "varchar"),
	col("host_id", "BIGINT NOT NULL", "bigint"),
	col("hostname", "VARCHAR(255) NOT NULL", "varchar"),
	col("os", "TEXT NOT NULL", "text"),
	col("qid", "INT NOT NULL", "int"),
	col("port", "INT NOT NULL", "int"),
	col("protocol", "VARCHAR(16) NOT NULL", "varchar"),
	col("type", "VARCHAR(32) NOT NULL", "varchar"),
	col("severity", "TINYINT NOT NULL", "tinyint"),
	col("status", "VARCHAR(16) NOT NULL", "varchar"),
	col("times_found", "INT NOT NULL", "int"),
	col("first_found", "DATETIME NULL", "datetime"),
	col("last_found", "DATETIME NULL", "datetime"),
	col("last_fixed", "DATETIME NULL", "datetime"),
	col("results", "MEDIUMTEXT NOT NULL", "mediumtext"),
	kbcol("title", "TEXT NOT NULL", "text"),
	kbcol("category", "VARCHAR(255) NOT NULL", "varchar"),
	kbcol("vuln_type", "VARCHAR(64) NOT NULL", "varchar"),
	kbcol("diagnosis", "MEDIUMTEXT NOT NULL", "mediumtext"),
	kbcol("consequence", "MEDIUMTEXT NOT NULL", "mediumtext"),
	kbcol("solution", "MEDIUMTEXT NOT NULL", "mediumtext"),
	kbcol("patchable", "BOOLEAN NOT NULL", "tinyint"),
	kbcol("remote", "BOOLEAN NOT NULL", "tinyint"),
	kbcol("vendor_refs", "JSON NOT NULL", "json", "longtext"),
	kbcol("cves", "JSON NOT NULL", "json", "longtext"),
	col("cve_id", "VARCHAR(64) NOT NULL", "varchar"),
	col("cvss_version", "VARCHAR(8) NOT NULL", "varchar"),
	col("cvss_vector", "VARCHAR(512) NOT NULL", "varchar"),
	col("base", "DECIMAL(3,1) NULL", "decimal"),
	col("temporal", "DECIMAL(3,1) NULL", "decimal"),
	col("env_score", "DECIMAL(3,1) NULL", "decimal"),
	col("vuln_score", "VARCHAR(16) NOT NULL", "varchar"),
	col("breach_date", "DATE NULL", "date"),
	col("closed", "VARCHAR(16) NOT NULL", "varchar"),
	col("first_seen", "DATETIME NULL", "datetime"),
	col("last_seen", "DATETIME NULL", "datetime"),
	col("times_reopened", "INT NOT NULL", "int"),
	col("last_reopened", "DATETIME NULL", "datetime"),
	col("tags", "JSON NOT NULL", "json", "longtext"),
	col("qvt_rev", "BIGINT NOT NULL", "bigint"),
	kbcol("kev", "BOOLEAN NOT NULL", "tinyint").in(2),
	kbcol("kev_cves", "JSON NOT NULL", "json", "longtext").in(2),
	kbcol("kev_date_added", "DATE NULL", "date").in(2),
	kbcol("kev_due_date", "DATE NULL", "date").in(2),
	kbcol("kev_ransomware", "BOOLEAN NOT NULL", "tinyint").in(2),
	kbcol("epss", "DECIMAL(6,5) NULL", "decimal").in(2),
	kbcol("epss_percentile", "DECIMAL(6,5) NULL", "decimal").in(2),
	kbcol("epss_cve", "VARCHAR(32) NOT NULL", "varchar").in(2),
	col("qds", "SMALLINT NULL", "smallint").in(2),
	kbcol("threat_intel", "JSON NOT NULL", "json", "longtext").in(2),
	col("priority", "VARCHAR(8) NOT NULL", "varchar").in(2),
	col("priority_reason", "VARCHAR(255) NOT NULL", "varchar").in(2),
	col("due_date", "DATE NULL", "date").in(2),
	// Who fixes it, and the exception that covers it (excepted_until
	// NULL: not excepted, or an exception without expiry).
	col("owner", "VARCHAR(255) NOT NULL", "varchar").in(3),
	col("excepted", "BOOLEAN NOT NULL", "tinyint").in(3),
	col("exception", "VARCHAR(32) NOT NULL", "varchar").in(3),
	col("excepted_until", "DATE NULL", "date").in(3),
}

// findingKeys are the findings table's secondary indexes. They serve the
// usual filters of a page reading the table: open or closed, by status,
// rating, deadline, QID and host, and "what to fix first": by priority
// (then due date) and KEV. (host_id, ip) also finds a host's rows left
// under an address it no longer has.
var findingKeys = []index{
	{"status", "status", 0},
	{"vuln_score", "vuln_score", 0},
	{"breach_date", "breach_date", 0},
	{"qid", "qid", 0},
	{"host_id", "host_id, ip", 0},
	{"closed", "closed", 0},
	{"priority", "priority, due_date", 2},
	{"kev", "kev", 2},
	{"owner", "owner, closed", 3},
}

type index struct {
	name, columns string
	since         int // the schema version that added it
}

func (ix index) ddl() string { return fmt.Sprintf("KEY %s (%s)", quote(ix.name), ix.columns) }

func findingIndexes() string {
	s := "PRIMARY KEY (finding_key)"
	for _, ix := range findingKeys {
		s += ",\n  " + ix.ddl()
	}
	return s
}

var historyColumns = []column{
	col("id", "BIGINT NOT NULL", "bigint"),
	col("finding_key", "VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL", "varchar"),
	col("host_id", "BIGINT NOT NULL", "bigint"),
	col("qid", "INT NOT NULL", "int"),
	col("port", "INT NOT NULL", "int"),
	col("at", "DATETIME NOT NULL", "datetime"),
	col("event", "VARCHAR(16) NOT NULL", "varchar"),
	col("old", "VARCHAR(64) NOT NULL", "varchar"),
	col("new", "VARCHAR(64) NOT NULL", "varchar"),
	// Why a priority or due date changed ("added to KEV 2025-03-01").
	col("cause", "VARCHAR(255) NOT NULL", "varchar").in(2),
	// Who made the change, for changes made by a person (an exception
	// recorded or revoked); "" for qvt's own.
	col("actor", "VARCHAR(255) NOT NULL", "varchar").in(3),
}

// The store's history id is the key, so sending a row again is a no-op.
const historyIndexes = `PRIMARY KEY (id),
  KEY finding_key (finding_key, id),
  KEY at (at)`

var runColumns = []column{
	col("id", "BIGINT NOT NULL AUTO_INCREMENT", "bigint"),
	col("started", "DATETIME(3) NOT NULL", "datetime"),
	col("finished", "DATETIME(3) NULL", "datetime"),
	col("status", "VARCHAR(16) NOT NULL", "varchar"),
	col("store_id", "VARCHAR(32) NOT NULL", "varchar"),
	col("from_rev", "BIGINT NOT NULL", "bigint"),
	col("rev", "BIGINT NOT NULL", "bigint"),
	col("from_history", "BIGINT NOT NULL", "bigint"),
	col("history_id", "BIGINT NOT NULL", "bigint"),
	col("rows_written", "BIGINT NOT NULL", "bigint"),
	col("history_written", "BIGINT NOT NULL", "bigint"),
	col("error", "TEXT NULL", "text"),
}

const runIndexes = `PRIMARY KEY (id),
  KEY status (status, id)`

// Run statuses. The watermark on the MySQL side is the last done run's.
const (
	runRunning = "running"
	runDone    = "done"
	runFailed  = "failed"
)

// table is one of the three tables of a target.
type table struct {
	name    string
	what    string // "findings", "history", "runs": in the comment and in errors
	columns []column
	indexes string
}

func (t table) comment() string {
	return fmt.Sprintf("qvt %s, schema %d", t.what, schemaVersion)
}

func (t table) createSQL() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE TABLE IF NOT EXISTS %s (\n", quote(t.name))
	for _, c := range t.columns {
		fmt.Fprintf(&sb, "  %s %s,\n", quote(c.name), c.ddl)
	}
	fmt.Fprintf(&sb, "  %s\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='%s'", t.indexes, t.comment())
	return sb.String()
}

func (t *Target) tables() []table {
	return []table{
		{name: t.table, what: "findings", columns: findingColumns, indexes: findingIndexes()},
		{name: t.table + "_history", what: "history", columns: historyColumns, indexes: historyIndexes},
		{name: t.table + "_runs", what: "runs", columns: runColumns, indexes: runIndexes},
	}
}

var commentVersion = regexp.MustCompile(`^qvt (\w+), schema (\d+)$`)

// oldTable is a table of an older schema, to migrate.
type oldTable struct {
	table
	version int
}

// checkTables reads the shape of the tables that exist and returns the
// names of those missing and the tables of an older schema. A table qvt
// did not create, one of a newer schema, or one whose columns were
// changed is an error: writing into it would corrupt it or fail
// half-way.
func checkTables(ctx context.Context, db queryer, tables []table) (missing []string, old []oldTable, err error) {
	for _, tb := range tables {
		var comment string
		err := db.QueryRowContext(ctx, `SELECT TABLE_COMMENT FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, tb.name).Scan(&comment)
		if err == sql.ErrNoRows {
			missing = append(missing, tb.name)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the shape of table %s: %w", tb.name, err)
		}
		m := commentVersion.FindStringSubmatch(comment)
		if m == nil || m[1] != tb.what {
			return nil, nil, fmt.Errorf("table %s exists and was not created by qvt as its %s table (comment %q); choose another table name (mysql.table) or drop it", tb.name, tb.what, comment)
		}
		v, _ := strconv.Atoi(m[2])
		if v > schemaVersion {
			return nil, nil, fmt.Errorf("table %s has schema %d, newer than this qvt knows (%d): upgrade qvt", tb.name, v, schemaVersion)
		}
		if err := checkColumns(ctx, db, tb, v); err != nil {
			return nil, nil, err
		}
		if v < schemaVersion {
			old = append(old, oldTable{tb, v})
		}
	}
	return missing, old, nil
}

// readColumns reads a table's column names and DATA_TYPEs, lower case.
func readColumns(ctx context.Context, db queryer, name string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of table %s: %w", name, err)
	}
	defer rows.Close()
	have := map[string]string{}
	for rows.Next() {
		var n, typ string
		if err := rows.Scan(&n, &typ); err != nil {
			return nil, fmt.Errorf("reading the columns of table %s: %w", name, err)
		}
		have[strings.ToLower(n)] = strings.ToLower(typ)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of table %s: %w", name, err)
	}
	return have, nil
}

// checkColumns compares the columns of a table of schema version v with
// the ones qvt writes. Columns a user added are left alone; a missing or
// retyped one is an error. The columns of later versions may be missing
// (the migration adds them) or there (a migration that stopped half-way
// is finished), but not of another type.
func checkColumns(ctx context.Context, db queryer, tb table, v int) error {
	have, err := readColumns(ctx, db, tb.name)
	if err != nil {
		return err
	}
	var problems []string
	for _, c := range tb.columns {
		typ, ok := have[c.name]
		switch {
		case !ok && c.since > v:
		case !ok:
			problems = append(problems, "no column "+c.name)
		case !slices.Contains(c.types, typ):
			problems = append(problems, fmt.Sprintf("column %s is %s, want %s", c.name, typ, strings.Join(c.types, " or ")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("table %s does not have the shape of schema %d: %s", tb.name, v, strings.Join(problems, "; "))
	}
	return nil
}

// migrateSQL is the statement that brings a table of an older schema to
// this one: the columns and indexes it lacks and the new version in its
// comment, in one ALTER TABLE, so the table is never half-migrated. New
// columns come last, as in a new table. Existing rows get the columns'
// implicit defaults (false, "", NULL) until the publish that follows
// rewrites them.
func migrateSQL(ctx context.Context, db queryer, old oldTable) (string, error) {
	have, err := readColumns(ctx, db, old.name)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, c := range old.columns {
		if _, ok := have[c.name]; !ok {
			parts = append(parts, fmt.Sprintf("ADD COLUMN %s %s", quote(c.name), c.ddl))
		}
	}
	if old.what == "findings" {
		missing, err := missingKeys(ctx, db, old.name)
		if err != nil {
			return "", err
		}
		for _, ix := range missing {
			if ix.since > old.version {
				parts = append(parts, "ADD "+ix.ddl())
			}
		}
	}
	parts = append(parts, fmt.Sprintf("COMMENT='%s'", old.comment()))
	return "ALTER TABLE " + quote(old.name) + " " + strings.Join(parts, ", "), nil
}

// missingKeys lists the findings table's secondary indexes that are not
// there: a first publish builds them after loading the rows.
func missingKeys(ctx context.Context, db queryer, tbl string) ([]index, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, tbl)
	if err != nil {
		return nil, fmt.Errorf("reading the indexes of table %s: %w", tbl, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[strings.ToLower(n)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the indexes of table %s: %w", tbl, err)
	}
	var out []index
	for _, ix := range findingKeys {
		if !have[ix.name] {
			out = append(out, ix)
		}
	}
	return out, nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// quote quotes an identifier. Table names are checked in New; column
// names are ours.
func quote(name string) string { return "`" + name + "`" }

func columnNames(cs []column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}
