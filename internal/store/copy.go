package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3"
)

// CopyProgress hears how a copy goes, table by table (the sync's
// progress bars serve).
type CopyProgress interface {
	Start(table string, total int)
	Add(table string, n int)
	Done(table string, err error)
}

// CopyOptions say how Copy treats the target.
type CopyOptions struct {
	// Force empties a target that holds data; without it such a target
	// is refused.
	Force    bool
	Progress CopyProgress // nil: none
}

// ErrTargetNotEmpty is what Copy returns for a target that holds data
// when CopyOptions.Force is not set.
var ErrTargetNotEmpty = errors.New("the target store holds data")

// CopyResult is what Copy copied: each table with its rows.
type CopyResult struct {
	Tables []TableInfo
}

// Rows is the number of rows copied, all tables together.
func (r *CopyResult) Rows() int64 {
	var n int64
	for _, t := range r.Tables {
		n += t.Rows
	}
	return n
}

// copyBatch is how many rows go to the target at once (one COPY on
// PostgreSQL): the only rows a copy holds in memory.
const copyBatch = 2000

// Copy copies the whole store at from into the store at to, SQLite or
// PostgreSQL either: every table, every row, as one snapshot of the
// source, which it never writes (read-only connections, no schema
// upgrade). The target is created if missing and its schema brought up
// to date; it must hold no data (no hosts, KB, CVEs, detections or
// history) unless opt.Force, which empties it first. Everything is
// written in one transaction on the target: a copy that fails leaves it
// as it was. PostgreSQL's identity sequences are set past the copied ids.
//
// The caller holds the target's writer lock.
func Copy(ctx context.Context, from, to string, opt CopyOptions) (*CopyResult, error) {
	src, err := openReadOnly(ctx, from)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	existed, err := Exists(to)
	if err != nil {
		return nil, err
	}
	dst, err := OpenWith(ctx, to, Options{Create: true, Maker: "copy", Writer: true})
	if err != nil {
		return nil, err
	}
	res, err := copyStore(ctx, src, dst, opt)
	dst.Close()
	if err != nil && !existed && !IsPostgres(to) {
		// The copy made the file: it goes with the copy.
		for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
			os.Remove(to + suffix)
		}
	}
	return res, err
}

func copyStore(ctx context.Context, src, dst *Store, opt CopyOptions) (*CopyResult, error) {
	latest, err := latestMigration()
	if err != nil {
		return nil, err
	}
	if !opt.Force {
		if t, err := dst.holdsData(ctx); err != nil {
			return nil, err
		} else if t != "" {
			return nil, fmt.Errorf("store: %s: %w (its %s has rows): copy with --force to replace it", dst.path, ErrTargetNotEmpty, t)
		}
	}
	// The source and the target must not be one store under two names (a
	// link, two URLs of one database): emptying the target would empty
	// the source. The target gets a mark the source must not see.
	mark, err := newMark()
	if err != nil {
		return nil, err
	}
	if err := dst.setMeta(ctx, "copy_mark", mark); err != nil {
		return nil, fmt.Errorf("store: %s: %w", dst.path, err)
	}
	res := &CopyResult{}
	err = src.Snapshot(ctx, func(q *Snap) error {
		var seen string
		if err := q.Each("SELECT value FROM meta WHERE name = 'copy_mark'", nil, func(c Cols) error { seen = c.ColumnText(0); return nil }); err != nil {
			return err
		}
		if seen == mark {
			return fmt.Errorf("store: %s and %s are one store", src.path, dst.path)
		}
		v, err := schemaVersion(q)
		if err != nil {
			return fmt.Errorf("store: %s: %w", src.path, err)
		}
		switch {
		case v > latest:
			return fmt.Errorf("store: %s has schema %d, newer than this qvt knows (%d): copy it with the qvt that made it", src.path, v, latest)
		case v < latest:
			return fmt.Errorf("store: %s has schema %d, older than this qvt's %d: let this qvt upgrade it first (any command that writes it: sync, import, rescore), then copy", src.path, v, latest)
		}
		tables, err := storeTables(q)
		if err != nil {
			return fmt.Errorf("store: %s: %w", src.path, err)
		}
		for _, t := range tables {
			ti := TableInfo{Name: t}
			if err := q.Each("SELECT count(*) FROM "+quoteIdent(t), nil, func(c Cols) error { ti.Rows = c.ColumnInt64(0); return nil }); err != nil {
				return fmt.Errorf("store: %s: counting %s: %w", src.path, t, err)
			}
			res.Tables = append(res.Tables, ti)
		}
		return dst.Write(ctx, func(tx *Tx) error { return copyInto(ctx, q, tx, res, opt.Progress) })
	})
	if err != nil {
		// The mark goes; the copy's transaction took nothing else with it.
		dst.db.ExecContext(context.WithoutCancel(ctx), "DELETE FROM meta WHERE name = 'copy_mark'") //nolint:errcheck // the error said what matters
		return nil, err
	}
	if dst.pg != nil {
		// Fresh statistics, or the planner guesses for the first queries;
		// and pages marked all-visible, or the dashboard's index-only
		// scans read the table for every entry (see pg_analyze.go). The
		// store's tables only: the database may hold much else.
		quoted := make([]string, len(res.Tables))
		for i, t := range res.Tables {
			quoted[i] = quoteIdent(t.Name)
		}
		if _, err := dst.pg.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(quoted, ", ")); err != nil {
			return nil, fmt.Errorf("store: %s: vacuum: %w", dst.path, err)
		}
	}
	return res, nil
}

// holdsData names a table of the data proper that has rows in the store,
// "" when none has.
func (s *Store) holdsData(ctx context.Context) (string, error) {
	for _, t := range []string{"hosts", "detections", "kb_vulns", "nvd_cves", "history"} {
		var some bool // SQLite answers 0 or 1, PostgreSQL a boolean
		if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+t+")").Scan(&some); err != nil {
			return "", fmt.Errorf("store: %s: %w", s.path, err)
		}
		if some {
			return t, nil
		}
	}
	return "", nil
}

func newMark() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// copyInto empties the target's tables and fills them from the source's
// snapshot q, table by table, in batches.
func copyInto(ctx context.Context, q *Snap, tx *Tx, res *CopyResult, progress CopyProgress) error {
	dstTables, err := storeTables(txEacher{tx})
	if err != nil {
		return err
	}
	if err := emptyTables(tx); err != nil {
		return err
	}
	// detections is empty now: its indexes are built once after its rows
	// rather than grown row by row (on SQLite at commit). On PostgreSQL
	// the drop locks no reader out for longer than the copy does: TRUNCATE
	// holds every table until the commit. Their definitions need not wait
	// in meta, as a first load's do (DeferIndexes): a copy that fails
	// rolls the drop back with the rest.
	var build []string
	if tx.pg == nil {
		if err := tx.deferIndexes(); err != nil {
			return err
		}
	} else if build, err = tx.dropDetectionIndexes(); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, t := range dstTables {
		have[t] = true
	}
	for _, t := range res.Tables {
		if !have[t.Name] {
			return fmt.Errorf("store: the target has no table %s", t.Name)
		}
		if err := copyTable(ctx, q, tx, t, progress); err != nil {
			return fmt.Errorf("store: copying %s: %w", t.Name, err)
		}
	}
	if tx.pg != nil {
		if err := buildIndexes(tx, build); err != nil {
			return err
		}
		return setSequences(tx)
	}
	return nil
}

func copyTable(ctx context.Context, q *Snap, tx *Tx, t TableInfo, progress CopyProgress) (err error) {
	if progress != nil && t.Rows > 0 { // an empty table needs no bar
		progress.Start(t.Name, int(t.Rows))
		defer func() { progress.Done(t.Name, err) }()
	}
	srcCols, err := tableColumns(q, t.Name)
	if err != nil {
		return err
	}
	dstCols, err := tableColumns(txEacher{tx}, t.Name)
	if err != nil {
		return err
	}
	// The schemas are one version: a column one side lacks is a bug, not
	// a default to fill in silently.
	srcKind := map[string]bool{}
	for _, c := range srcCols {
		srcKind[c.name] = true
	}
	names := make([]string, len(dstCols))
	for i, c := range dstCols {
		if !srcKind[c.name] {
			return fmt.Errorf("the source has no column %s", c.name)
		}
		names[i] = c.name
	}
	if len(srcCols) != len(dstCols) {
		return fmt.Errorf("the source has %d columns, the target %d", len(srcCols), len(dstCols))
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = quoteIdent(n)
	}
	sel := "SELECT " + strings.Join(quoted, ", ") + " FROM " + quoteIdent(t.Name)
	w, err := newTableWriter(ctx, tx, t.Name, names, quoted)
	if err != nil {
		return err
	}
	var done int64
	err = q.Each(sel, nil, func(c Cols) error {
		row := make([]any, len(dstCols))
		for i, col := range dstCols {
			v, err := convert(columnValue(c, i), col.kind)
			if err != nil {
				return fmt.Errorf("column %s: %w", col.name, err)
			}
			row[i] = v
		}
		if err := w.add(row); err != nil {
			return err
		}
		done++
		if done%copyBatch == 0 && progress != nil && t.Rows > 0 {
			progress.Add(t.Name, copyBatch)
		}
		return nil
	})
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return err
	}
	if progress != nil && t.Rows > 0 && done%copyBatch != 0 {
		progress.Add(t.Name, int(done%copyBatch))
	}
	if done != t.Rows {
		return fmt.Errorf("read %d rows of the %d counted", done, t.Rows)
	}
	return nil
}

// tableWriter writes one table's rows on the target: batches of COPY on
// PostgreSQL, a prepared INSERT on SQLite.
type tableWriter struct {
	ctx   context.Context
	tx    *Tx
	table string
	names []string
	batch [][]any
	st    *sqlite3.Stmt
}

func newTableWriter(ctx context.Context, tx *Tx, table string, names, quoted []string) (*tableWriter, error) {
	w := &tableWriter{ctx: ctx, tx: tx, table: table, names: names}
	if tx.pg != nil {
		w.batch = make([][]any, 0, copyBatch)
		return w, nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	st, err := tx.stmt("INSERT INTO " + quoteIdent(table) + " (" + strings.Join(quoted, ", ") + ") VALUES (" + marks + ")")
	if err != nil {
		return nil, err
	}
	w.st = st
	return w, nil
}

func (w *tableWriter) add(row []any) error {
	if w.st == nil {
		w.batch = append(w.batch, row)
		if len(w.batch) == copyBatch {
			return w.flush()
		}
		return nil
	}
	for i, v := range row {
		var err error
		switch v := v.(type) {
		case nil:
			err = w.st.BindNull(i + 1)
		case int64:
			err = w.st.BindInt64(i+1, v)
		case float64:
			err = w.st.BindFloat(i+1, v)
		case string:
			err = w.st.BindText(i+1, v)
		default:
			err = fmt.Errorf("a value of type %T", v)
		}
		if err != nil {
			return fmt.Errorf("bind: %w", err)
		}
	}
	return w.st.Exec()
}

func (w *tableWriter) flush() error {
	if w.st != nil || len(w.batch) == 0 {
		return nil
	}
	n, err := w.tx.pg.CopyFrom(w.ctx, pgx.Identifier{w.table}, w.names, pgx.CopyFromRows(w.batch))
	if err != nil {
		return err
	}
	if n != int64(len(w.batch)) {
		return fmt.Errorf("COPY wrote %d rows of %d", n, len(w.batch))
	}
	// The rows are the driver's no longer: the batch's memory serves the
	// next.
	clear(w.batch)
	w.batch = w.batch[:0]
	return nil
}

// columnValue is the value of a source column as int64, float64, string
// or nil.
func columnValue(c Cols, i int) any {
	switch c.ColumnType(i) {
	case sqlite3.NULL:
		return nil
	case sqlite3.INTEGER:
		return c.ColumnInt64(i)
	case sqlite3.FLOAT:
		return c.ColumnFloat(i)
	case sqlite3.BLOB:
		return string(c.ColumnRawText(i))
	}
	return c.ColumnText(i)
}

// convert makes v the kind of value the target column holds, as SQLite's
// column affinity would: PostgreSQL takes no text for a number.
func convert(v any, kind byte) (any, error) {
	switch kind {
	case 'i':
		switch x := v.(type) {
		case float64:
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("%v is not an integer", x)
			}
			return int64(x), nil
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", x)
			}
			return n, nil
		}
	case 'f':
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", x)
			}
			return f, nil
		}
	case 't':
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	}
	return v, nil
}

// setSequences sets each identity column's sequence past the largest id
// copied, so that the next row the store writes gets a new one.
func setSequences(tx *Tx) error {
	type ident struct{ table, column string }
	var ids []ident
	err := tx.query(`SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name, column_name`, func(c Cols) error {
		ids = append(ids, ident{c.ColumnText(0), c.ColumnText(1)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		// setval(seq, 1, false) on an empty table: the next id is 1.
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(max(%[1]s), 1), max(%[1]s) IS NOT NULL) FROM %[2]s`,
			quoteIdent(id.column), quoteIdent(id.table))
		if err := tx.query(q, func(Cols) error { return nil }, quoteIdent(id.table), id.column); err != nil {
			return fmt.Errorf("store: the sequence of %s.%s: %w", id.table, id.column, err)
		}
	}
	return nil
}

// Empty removes every row of every table of the store at loc (the
// schema stays): a store as a new one, without even its maker. The
// caller holds its writer lock.
func Empty(ctx context.Context, loc string) error {
	s, err := OpenWith(ctx, loc, Options{Writer: true})
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Write(ctx, func(tx *Tx) error { return emptyTables(tx) })
}

// emptyTables empties every table of the store in the transaction.
func emptyTables(tx *Tx) error {
	tables, err := storeTables(txEacher{tx})
	if err != nil {
		return err
	}
	if tx.pg != nil {
		quoted := make([]string, len(tables))
		for i, t := range tables {
			quoted[i] = quoteIdent(t)
		}
		return tx.exec("TRUNCATE " + strings.Join(quoted, ", "))
	}
	for _, t := range tables {
		if err := tx.exec("DELETE FROM " + quoteIdent(t)); err != nil {
			return err
		}
	}
	return nil
}
