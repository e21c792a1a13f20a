package mysql

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"qvt/internal/guard"
	"qvt/internal/publish"
	"qvt/internal/store"
)

// A publish stages each batch in temporary tables of its connection and
// merges it from there: qvt_stage_findings holds the batch,
// qvt_stage_kb the KB fields of every QID sent so far in the publish.
// Temporary tables vanish with the connection, so an interrupted publish
// leaves none behind. They are MyISAM where the server has it: InnoDB
// ones share the buffer pool with the findings table, and with a small
// pool a merge then waits on reads of the KB rows it joins (MyISAM's
// files stay in the OS cache): 27 s against 16 s of merging for a million
// findings here. JSON columns are plain text there (the findings table
// checks them).
const (
	stageFindings = "qvt_stage_findings"
	stageKB       = "qvt_stage_kb"
)

var (
	stageFindingColumns = func() []column {
		var out []column
		for _, c := range findingColumns {
			if !c.kb {
				out = append(out, c)
			}
		}
		return out
	}()
	stageKBColumns = func() []column {
		out := []column{col("qid", "INT NOT NULL", "int")}
		for _, c := range findingColumns {
			if c.kb {
				out = append(out, c)
			}
		}
		return out
	}()
)

func stageDDL(name string, cs []column, key, engine string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE TEMPORARY TABLE %s (", quote(name))
	for i, c := range cs {
		if i > 0 {
			sb.WriteString(", ")
		}
		ddl := strings.Replace(c.ddl, "JSON", "MEDIUMTEXT", 1)
		fmt.Fprintf(&sb, "%s %s", quote(c.name), ddl)
	}
	if key != "" {
		sb.WriteString(", " + key)
	}
	sb.WriteString(") ENGINE=" + engine + " DEFAULT CHARSET=utf8mb4")
	return sb.String()
}

// insertSQL is a multi-row INSERT of n rows.
func insertSQL(table string, cs []column, n int, tail string) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + quote(table) + " (")
	sb.WriteString(strings.Join(quoteAll(columnNames(cs)), ", "))
	sb.WriteString(") VALUES ")
	row := "(" + strings.Repeat("?, ", len(cs)-1) + "?)"
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
	}
	sb.WriteString(tail)
	return sb.String()
}

// mergeSQL moves the staged findings into the table, in key order: the
// feed comes host by host in key order, but a host's findings come in
// QID order, which is not (1001 sorts after 10000 as text), and rows
// inserted out of order split pages half-empty (the table grew 25% and
// the publish slowed with it).
//
// When two hosts share an address their findings share a key: as in the
// export, the one found most recently wins, then the lower host id. The
// condition reads the row's old host_id and last_found, so those two are
// assigned last, host_id before last_found (whose condition then holds
// exactly when host_id was taken from the new row).
func mergeSQL(tbl string) string {
	var sel, upd []string
	for _, c := range findingColumns {
		if c.kb {
			sel = append(sel, "k."+quote(c.name))
		} else {
			sel = append(sel, "f."+quote(c.name))
		}
	}
	t := quote(tbl)
	const never = "CAST('1000-01-01' AS DATETIME)"
	win := fmt.Sprintf("(VALUES(`host_id`) = %[1]s.`host_id` OR IFNULL(VALUES(`last_found`), %[2]s) > IFNULL(%[1]s.`last_found`, %[2]s)"+
		" OR (IFNULL(VALUES(`last_found`), %[2]s) = IFNULL(%[1]s.`last_found`, %[2]s) AND VALUES(`host_id`) < %[1]s.`host_id`))", t, never)
	assign := func(c string) string {
		q := quote(c)
		return fmt.Sprintf("%s = IF(%s, VALUES(%s), %s.%s)", q, win, q, t, q)
	}
	for _, c := range findingColumns {
		switch c.name {
		case "finding_key", "host_id", "last_found":
			continue
		}
		upd = append(upd, assign(c.name))
	}
	upd = append(upd, assign("host_id"), assign("last_found"))
	return "INSERT INTO " + t + " (" + strings.Join(quoteAll(columnNames(findingColumns)), ", ") + ")\nSELECT " +
		strings.Join(sel, ", ") + "\nFROM " + quote(stageFindings) + " f LEFT JOIN " + quote(stageKB) +
		" k ON k.`qid` = f.`qid`\nORDER BY f.`finding_key`\nON DUPLICATE KEY UPDATE " + strings.Join(upd, ",\n  ")
}

func quoteAll(ns []string) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = quote(n)
	}
	return out
}

// feed publishes the findings: this goroutine reads the store's change
// feed into batches while a writer stages and merges the previous batch
// on its own connection. One writer: the server spends about a core on
// it, and two writing at once were no faster on a two-core machine (they
// contend in the server) and deadlock each other on the moved-host
// delete.
type feed struct {
	t      *Target
	fresh  bool // the table was empty at the start: every row is new, nothing to count or move
	noLoad bool // tests: stage with INSERT even when LOAD DATA is allowed

	rep     *publish.Report
	written int64 // findings inserted or changed
	sent    int   // findings merged
	moved   int64 // rows deleted: their host has another address now
	timing  [6]time.Duration
	notes   []string
}

var phaseNames = [...]string{"stage kb", "stage findings", "count", "moved", "merge", "commit"}

func (f *feed) lap(i int, since time.Time) time.Time {
	now := time.Now()
	f.timing[i] += now.Sub(since)
	return now
}

func (f *feed) note(n string) {
	if !slices.Contains(f.notes, n) {
		f.notes = append(f.notes, n)
	}
}

// run sends the findings changed after revision from.
func (f *feed) run(parent context.Context, st *store.Store, from int64, log *slog.Logger) (err error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	w, err := f.newWriter(ctx)
	if err != nil {
		return err
	}
	defer w.close()

	full := make(chan *batch, 1)
	free := make(chan *batch, 3)
	for range cap(free) {
		free <- &batch{}
	}
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			if werr == nil {
				if werr = guard.Call(func() error { return w.write(ctx, b) }); werr != nil {
					cancel(werr)
				}
			}
			b.reset()
			free <- b
		}
	}()
	send := func(b *batch) error {
		select {
		case full <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	cur := <-free
	inBatch := map[int]bool{}
	n, next := 0, 100000
	err = changed(ctx, st, from, func(p *store.Published) error {
		if !inBatch[p.QID] {
			inBatch[p.QID] = true
			cur.kbsrc = append(cur.kbsrc, p)
		}
		cur.add(p)
		if cur.nf >= f.t.batch || len(cur.f) >= maxBatchBytes {
			if err := send(cur); err != nil {
				return err
			}
			clear(inBatch)
			select {
			case cur = <-free:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		if n++; n == next {
			log.Info("mysql: publishing findings", "read", n)
			next += 100000
		}
		return nil
	})
	if err == nil && cur.nf > 0 {
		err = send(cur)
	}
	close(full)
	<-done

	var attrs []any
	for i, d := range f.timing {
		attrs = append(attrs, phaseNames[i], d.Round(time.Millisecond))
	}
	log.Debug("mysql: time the server spent", attrs...)
	f.rep.Notes = append(f.rep.Notes, f.notes...)
	switch {
	case werr != nil && !errors.Is(werr, context.Canceled) && !errors.Is(werr, context.DeadlineExceeded):
		return werr // the cause; the reader's error is the cancellation it caused
	case err == nil:
		err = werr
	}
	switch {
	case err == nil:
	case parent.Err() != nil:
		return fmt.Errorf("mysql: %s: publish interrupted after %d findings: %w", f.t.where(), f.sent, err)
	default:
		return fmt.Errorf("mysql: reading the store's changes: %w", err)
	}
	if f.moved > 0 {
		f.rep.Notes = append(f.rep.Notes, fmt.Sprintf("%d rows removed from %s: their host's address changed, so their key did", f.moved, f.t.table))
	}
	return nil
}

// writer stages and merges batches on its own connection, where the
// staging tables live.
type writer struct {
	f      *feed
	t      *Target
	conn   *sql.Conn
	stmts  map[string]*sql.Stmt
	kbSent map[int]bool // QIDs in the KB staging table
	kb     tsv
	merge  string
	count  string
	moved  string

	// LOAD DATA LOCAL streams rows from src through the driver's reader
	// handler; without it (the server's local_infile is OFF, as MySQL 8
	// ships) rows go as multi-row INSERTs.
	load    bool
	handler string
	src     io.Reader
}

func (f *feed) newWriter(ctx context.Context) (*writer, error) {
	t := f.t
	conn, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{f: f, t: t, conn: conn, stmts: map[string]*sql.Stmt{}, kbSent: map[int]bool{}}
	for _, engine := range t.engines {
		err = nil
		for _, q := range []string{
			"DROP TEMPORARY TABLE IF EXISTS " + quote(stageFindings) + ", " + quote(stageKB),
			stageDDL(stageFindings, stageFindingColumns, "", engine),
			stageDDL(stageKB, stageKBColumns, "PRIMARY KEY (`qid`)", engine),
		} {
			if _, err = conn.ExecContext(ctx, q); err != nil {
				break
			}
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mysql: %s: creating the staging tables (does the user have CREATE TEMPORARY TABLES?): %w", t.where(), err)
	}
	var localInfile sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&localInfile); err == nil && !f.noLoad {
		w.load = localInfile.String == "1" || strings.EqualFold(localInfile.String, "ON")
	}
	if w.load {
		var b [8]byte
		rand.Read(b[:])
		w.handler = "qvt_" + hex.EncodeToString(b[:])
		mysql.RegisterReaderHandler(w.handler, func() io.Reader { return w.src })
	} else {
		f.note("the server does not allow LOAD DATA LOCAL (local_infile is OFF): staged rows with INSERT, which is slower")
	}
	tbl := quote(t.table)
	w.merge = mergeSQL(t.table)
	w.count = "SELECT COUNT(*), COALESCE(SUM(t.`closed` = '' AND f.`closed` <> ''), 0), COALESCE(SUM(t.`closed` <> '' AND f.`closed` = ''), 0)\nFROM " +
		quote(stageFindings) + " f JOIN " + tbl + " t ON t.`finding_key` = f.`finding_key`"
	// A host whose address changed has all its findings in the change
	// feed, under new keys: its rows under the old address go.
	w.moved = "DELETE t FROM " + tbl + " t JOIN (SELECT DISTINCT `host_id`, `ip` FROM " + quote(stageFindings) +
		") h ON t.`host_id` = h.`host_id` AND t.`ip` <> h.`ip`"
	return w, nil
}

func (w *writer) close() {
	for _, st := range w.stmts {
		st.Close()
	}
	if w.handler != "" {
		mysql.DeregisterReaderHandler(w.handler)
	}
	w.conn.Close() // and with it the temporary tables
}

// write stages a batch, after the KB rows of its QIDs not staged yet, and
// merges it.
func (w *writer) write(ctx context.Context, b *batch) error {
	t0 := time.Now()
	w.kb, b.nk = w.kb[:0], 0
	for _, p := range b.kbsrc {
		if !w.kbSent[p.QID] {
			w.kbSent[p.QID] = true
			w.kb.addKB(p)
			b.nk++
		}
	}
	if b.nk > 0 {
		// KB rows are large: fewer per INSERT.
		if err := w.rows(ctx, stageKB, stageKBColumns, w.kb, b.nk, 100); err != nil {
			return fmt.Errorf("mysql: %s: staging KB entries: %w", w.t.where(), err)
		}
	}
	t0 = w.f.lap(0, t0)
	if err := w.rows(ctx, stageFindings, stageFindingColumns, b.f, b.nf, w.t.batch); err != nil {
		return fmt.Errorf("mysql: %s: staging findings: %w", w.t.where(), err)
	}
	w.f.lap(1, t0)
	// A reader of the table may hold locks that deadlock with the merge;
	// the staged rows are still there, so it simply runs again.
	var err error
	for try := 1; ; try++ {
		if err = w.tx(ctx, b.nf); err == nil || try == 5 || !retryable(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	if _, err := w.conn.ExecContext(ctx, "TRUNCATE TABLE "+quote(stageFindings)); err != nil {
		return fmt.Errorf("mysql: %s: %w", w.t.where(), err)
	}
	return nil
}

// rows writes rows into a staging table: with LOAD DATA LOCAL when the
// server allows it, else with INSERTs of at most maxRows rows.
func (w *writer) rows(ctx context.Context, table string, cs []column, rows tsv, n, maxRows int) error {
	if w.load {
		err := w.loadData(ctx, table, cs, rows, n)
		if !refused(err) {
			return err
		}
		w.load = false
		w.f.note(fmt.Sprintf("the server refused LOAD DATA LOCAL (%v): staged rows with INSERT, which is slower", err))
	}
	vals, err := rows.decode(len(cs))
	if err != nil {
		return err
	}
	return w.insert(ctx, table, cs, vals, maxRows)
}

func (w *writer) loadData(ctx context.Context, table string, cs []column, rows tsv, n int) error {
	w.src = bytes.NewReader(rows)
	defer func() { w.src = nil }()
	res, err := w.conn.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+w.handler+"' INTO TABLE "+quote(table)+
		" CHARACTER SET utf8mb4 ("+strings.Join(quoteAll(columnNames(cs)), ", ")+")")
	if err != nil {
		return err
	}
	// LOCAL turns bad values into warnings: the staged rows would differ
	// from the store's. Fail instead.
	var warnings int
	if err := w.conn.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return err
	}
	if loaded, _ := res.RowsAffected(); warnings > 0 || loaded != int64(n) {
		var level, msg string
		var code int
		w.conn.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &msg)
		return fmt.Errorf("LOAD DATA loaded %d of %d rows with %d warnings (first: %s)", loaded, n, warnings, msg)
	}
	return nil
}

// refused tells whether LOAD DATA LOCAL is turned off, on the server or
// in between.
func refused(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1148, 3948, 4166: // ER_NOT_ALLOWED_COMMAND, ER_CLIENT_LOCAL_FILES_DISABLED, MariaDB's ER_LOAD_INFILE_CAPABILITY_DISABLED
			return true
		}
	}
	return false
}

// insert writes rows of values (ncols each) with multi-row INSERTs of
// maxRows rows, then of 100, 10 and 1: a handful of prepared statements
// serve every batch size.
func (w *writer) insert(ctx context.Context, table string, cs []column, vals []any, maxRows int) error {
	n := len(cs)
	for len(vals) > 0 {
		rows := len(vals) / n
		size := 1
		for _, k := range []int{maxRows, 100, 10} {
			if k <= rows && k <= maxRows {
				size = k
				break
			}
		}
		q := insertSQL(table, cs, size, "")
		st, ok := w.stmts[q]
		if !ok {
			var err error
			if st, err = w.conn.PrepareContext(ctx, q); err != nil {
				return err
			}
			w.stmts[q] = st
		}
		if _, err := st.ExecContext(ctx, vals[:size*n]...); err != nil {
			return err
		}
		vals = vals[size*n:]
	}
	return nil
}

// tx merges the staged batch of n findings in one transaction.
func (w *writer) tx(ctx context.Context, n int) error {
	t0 := time.Now()
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mysql: %s: %w", w.t.where(), err)
	}
	defer tx.Rollback()
	var existing, closed, reopened, moved int64
	if !w.f.fresh {
		if err := tx.QueryRowContext(ctx, w.count).Scan(&existing, &closed, &reopened); err != nil {
			return fmt.Errorf("mysql: %s: reading table %s: %w", w.t.where(), w.t.table, err)
		}
	}
	t0 = w.f.lap(2, t0)
	if !w.f.fresh {
		res, err := tx.ExecContext(ctx, w.moved)
		if err != nil {
			return fmt.Errorf("mysql: %s: writing table %s: %w", w.t.where(), w.t.table, err)
		}
		moved, _ = res.RowsAffected()
	}
	t0 = w.f.lap(3, t0)
	res, err := tx.ExecContext(ctx, w.merge)
	if err != nil {
		return fmt.Errorf("mysql: %s: writing table %s: %w", w.t.where(), w.t.table, err)
	}
	affected, _ := res.RowsAffected()
	t0 = w.f.lap(4, t0)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql: %s: committing to table %s: %w", w.t.where(), w.t.table, err)
	}
	w.f.lap(5, t0)
	// Affected rows count 1 per insert and 2 per changed row; rows that
	// were there already and are sent unchanged count 0.
	existing = min(existing, int64(n))
	inserted := int64(n) - existing
	updated := min(max((affected-inserted)/2, 0), existing)
	f := w.f
	f.rep.Created += int(inserted)
	f.rep.Updated += int(updated)
	f.rep.Unchanged += int(existing - updated)
	f.rep.Closed += int(closed)
	f.rep.Reopened += int(reopened)
	f.written += inserted + updated
	f.sent += n
	f.moved += moved
	if w.t.afterBatch != nil {
		w.t.afterBatch(f.sent)
	}
	return nil
}

// retryable tells a deadlock or lock wait timeout: the transaction was
// rolled back and can run again.
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// changed reads the store's change feed. The store's read is not
// interrupted by ctx: a SQLite read interrupted mid-way leaves its
// transaction open on the pooled connection (Store.Changed commits in a
// defer, under the interrupt). The feed stops at the next row instead.
func changed(ctx context.Context, st *store.Store, from int64, fn func(*store.Published) error) error {
	return st.Changed(context.WithoutCancel(ctx), from, func(p *store.Published) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		return fn(p)
	})
}
