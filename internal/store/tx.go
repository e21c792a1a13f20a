package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
)

// Tx is one write transaction on the store: everything written through it
// is committed together or not at all.
type Tx struct {
	ctx        context.Context
	conn       *sqlite3.Conn // SQLite
	stmts      map[string]*sqlite3.Stmt
	pg         pgx.Tx           // PostgreSQL
	pgRows     int64            // rows the last PostgreSQL statement changed
	categories map[int64]string // KB categories read by owner assignment (Tx.category)
	Stats      Stats
	watchAt    int64 // the time history rows get, once watchChanges has run
	watching   bool
	revision   int64 // this transaction's revision, once allocated
	revUsed    bool  // a finding got it: it is recorded at commit
	reordered  bool  // a finding's urgency may have moved: meta.order is bumped at commit

	checkedBulk bool     // deferIndexes has looked at the detections table
	deferred    []string // CREATE INDEX statements to run before commit

	pgStaged  map[string]bool // PostgreSQL staging tables created in this transaction (pg_write.go)
	pgScores  []scoreRow      // PostgreSQL: scores not yet written (see PutScore)
	pgCursors int             // PostgreSQL: cursors declared, for their names
	pgSorts   bool            // PostgreSQL: work_mem raised for this transaction
}

// deferIndexes drops the secondary indexes of detections when the table
// is empty, to build them again at commit: a first import inserts
// hundreds of thousands of rows, and sorting them into an index once is
// far cheaper than inserting each row's entry into a growing one. It is
// one transaction: a rollback restores the indexes with everything else.
func (tx *Tx) deferIndexes() error {
	if tx.checkedBulk {
		return nil
	}
	tx.checkedBulk = true
	var err error
	tx.deferred, err = tx.dropDetectionIndexes()
	return err
}

// dropDetectionIndexes drops the secondary indexes of detections if the
// table is empty, and returns the statements that build them again.
func (tx *Tx) dropDetectionIndexes() ([]string, error) {
	empty := true
	err := tx.query("SELECT 1 FROM detections LIMIT 1", func(Cols) error { empty = false; return nil })
	if err != nil || !empty {
		return nil, err
	}
	var names, build []string
	// The partial indexes of rare rows (excepted findings, restarted
	// deadlines) stay: a first import adds no entry to them, and building
	// each again would read the whole table once more (at ten million
	// findings, gigabytes read per index).
	q := `SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL
 AND name NOT IN ('detections_exception', 'detections_sla_restart')`
	if tx.pg != nil {
		// The primary key stays: the upsert's ON CONFLICT needs it.
		q = `SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
 WHERE x.indrelid = 'detections'::regclass AND NOT x.indisunique
 AND c.relname NOT IN ('detections_exception', 'detections_sla_restart') ORDER BY c.relname`
	}
	err = tx.query(q, func(st Cols) error {
		names = append(names, st.ColumnText(0))
		build = append(build, st.ColumnText(1))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := tx.exec(`DROP INDEX "` + name + `"`); err != nil {
			return nil, err
		}
	}
	return build, nil
}

// buildDeferred builds the indexes deferIndexes dropped.
func (tx *Tx) buildDeferred() error {
	err := buildIndexes(tx, tx.deferred)
	tx.deferred = nil
	return err
}

// buildIndexes runs CREATE INDEX statements. On SQLite, with a 4 MB page
// cache: the sort of an index build takes as much memory as the cache
// may, on top of the cache itself, and would lift peak memory with every
// row imported. On PostgreSQL the sort is the server's, in
// maintenance_work_mem, raised for this transaction when lower than
// pgIndexMem: its default of 64 MB sorts ten million entries in many runs
// on disk.
func buildIndexes(tx *Tx, build []string) error {
	if len(build) == 0 {
		return nil
	}
	set, reset := "PRAGMA cache_size = -4096", "PRAGMA cache_size = "+cacheSize
	if tx.pg != nil {
		set = `SELECT set_config('maintenance_work_mem', '` + pgIndexMem + `', true)
 WHERE pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('` + pgIndexMem + `')`
		reset = ""
	}
	if err := tx.exec(set); err != nil {
		return err
	}
	for _, q := range build {
		if err := tx.exec(q); err != nil {
			return err
		}
	}
	if reset == "" {
		return nil
	}
	return tx.exec(reset)
}

// pgIndexMem is the server memory a PostgreSQL index build may sort in.
const pgIndexMem = "256MB"

// metaDeferred is where DeferIndexes keeps the indexes it dropped.
const metaDeferred = "deferred_indexes"

// DeferIndexes drops the secondary indexes of detections while the table
// is empty, for a first load: a full sync, which writes a transaction per
// batch, or a first import, one transaction. The load builds them when it
// ends (BuildIndexes, or Tx.BuildIndexes inside its own transaction).
// Their definitions wait in the meta table, so if the load dies midway
// the next Open builds them.
//
// On PostgreSQL the drop is a transaction of its own, committed before
// the load: DROP INDEX locks the table against every reader until its
// transaction ends, and a dashboard must not wait for a first import.
// Dropping waits for running readers (a long export) at most
// pgDeferWait; past it the load keeps its indexes, and only takes
// longer.
func (s *Store) DeferIndexes(ctx context.Context) error {
	err := s.Write(ctx, func(tx *Tx) error {
		tx.checkedBulk = true // this transaction's own deferral is this one
		if tx.pg != nil {
			if err := tx.exec("SET LOCAL lock_timeout = '" + pgDeferWait + "'"); err != nil {
				return err
			}
		}
		build, err := tx.dropDetectionIndexes()
		if err != nil || len(build) == 0 {
			return err
		}
		js, err := json.Marshal(build)
		if err != nil {
			return err
		}
		return tx.SetMeta(metaDeferred, string(js))
	})
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		return nil
	}
	return err
}

// pgDeferWait is how long DeferIndexes waits for PostgreSQL's lock.
const pgDeferWait = "2s"

// BuildIndexes builds the indexes DeferIndexes dropped, if any.
func (s *Store) BuildIndexes(ctx context.Context) error {
	// Most calls find nothing to do: ask without taking the write lock.
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM meta WHERE name = ?", metaDeferred).Scan(&n); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if n == 0 {
		return nil
	}
	return s.Write(ctx, func(tx *Tx) error { return tx.BuildIndexes() })
}

// BuildIndexes builds the indexes Store.DeferIndexes dropped, if any, in
// this transaction: a first import's rows and their indexes are committed
// together, so no reader sees the one without the other.
func (tx *Tx) BuildIndexes() error {
	js, err := tx.Meta(metaDeferred)
	if err != nil || js == "" {
		return err
	}
	var build []string
	if err := json.Unmarshal([]byte(js), &build); err != nil {
		return fmt.Errorf("store: meta %s: %w", metaDeferred, err)
	}
	if err := buildIndexes(tx, build); err != nil {
		return err
	}
	return tx.exec("DELETE FROM meta WHERE name = '" + metaDeferred + "'")
}

// rev is this transaction's revision: findings it changes get it, so a
// publisher finds them with Store.Changed. Revisions grow by one per
// transaction that changes findings; one that changes none leaves the
// counter as it was (a re-import changes nothing at all).
func (tx *Tx) rev() (int64, error) {
	if tx.revision != 0 {
		return tx.revision, nil
	}
	cur, err := tx.Meta("rev")
	if err != nil {
		return 0, err
	}
	n, _ := strconv.ParseInt(cur, 10, 64)
	tx.revision = n + 1
	return tx.revision, nil
}

// usedRev notes that a finding got this transaction's revision.
func (tx *Tx) usedRev() { tx.revUsed = true }

// saveRev records the revision if a finding got it, and bumps meta.order
// if a finding's urgency may have moved.
func (tx *Tx) saveRev() error {
	if tx.reordered {
		cur, err := tx.Meta("order")
		if err != nil {
			return err
		}
		n, _ := strconv.ParseInt(cur, 10, 64)
		if err := tx.SetMeta("order", strconv.FormatInt(n+1, 10)); err != nil {
			return err
		}
	}
	if !tx.revUsed {
		return nil
	}
	return tx.SetMeta("rev", strconv.FormatInt(tx.revision, 10))
}

// reorder notes that a finding's place in the priority order (its
// urgency) may have moved. A finding's urgency can move with nothing it
// shows (a day's EPSS file, a host given another environment policy), so
// meta.rev, which marks what findings show, does not tell; meta.order
// does, for what keeps facts about the order between reads (the
// dashboard's overview notes each priority's urgencies).
func (tx *Tx) reorder() { tx.reordered = true }

// Stats counts what a transaction wrote.
type Stats struct {
	Vulns, VulnsChanged int
	CVEs, CVEsChanged   int
	Hosts, Detections   int
	Rescanned           int // detections of known hosts found again with nothing else changed
	Reported            int // findings in the detections written (a tcp/udp pair is one; Info detections are not findings)
	New                 int // of those, the findings the store did not hold
	Stale               int // hosts not written: the store holds newer data for them
	Scored              int // QIDs scored
	Rerated             int // detections whose rating or deadline changed
}

// Write runs fn in one transaction: it commits when fn returns nil and
// rolls back (leaving the store as it was) when fn returns an error or
// panics.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) (err error) {
	if s.pg != nil {
		return s.pgWrite(ctx, fn)
	}
	return s.conn(ctx, func(c *sqlite3.Conn) error {
		old := c.SetInterrupt(ctx)
		defer c.SetInterrupt(old)
		tx := &Tx{ctx: ctx, conn: c, stmts: map[string]*sqlite3.Stmt{}}
		defer tx.closeStmts()
		if err := c.Exec("BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		committed := false
		defer func() {
			if !committed {
				tx.closeStmts()
				// The rollback must run even when ctx is cancelled.
				c.SetInterrupt(context.Background())
				if rerr := c.Exec("ROLLBACK"); rerr != nil && err == nil {
					err = fmt.Errorf("store: rollback: %w", rerr)
				}
			}
		}()
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.saveRev(); err != nil {
			return err
		}
		if err := tx.buildDeferred(); err != nil {
			return err
		}
		tx.closeStmts()
		if err := c.Exec("COMMIT"); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		committed = true
		return nil
	})
}

func (tx *Tx) closeStmts() {
	for k, st := range tx.stmts {
		st.Close()
		delete(tx.stmts, k)
	}
}

// stmt returns the prepared statement for q, preparing it once per
// transaction.
func (tx *Tx) stmt(q string) (*sqlite3.Stmt, error) {
	if st, ok := tx.stmts[q]; ok {
		return st, nil
	}
	st, _, err := tx.conn.Prepare(q)
	if err != nil {
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	tx.stmts[q] = st
	return st, nil
}

// exec runs a statement with no parameters.
func (tx *Tx) exec(q string) error {
	if tx.pg != nil {
		if err := tx.pgFlush(); err != nil {
			return err
		}
		tag, err := tx.pg.Exec(tx.ctx, q)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		tx.pgRows = tag.RowsAffected()
		return nil
	}
	if err := tx.conn.Exec(q); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// binder binds a statement's parameters in order, keeping the first error.
// On PostgreSQL it collects them for the statement's run.
type binder struct {
	st   *sqlite3.Stmt
	i    int
	err  error
	pg   *Tx
	q    string
	args []any
}

func (b *binder) text(s string) {
	if b.pg != nil {
		b.args = append(b.args, s)
		return
	}
	b.i++
	if b.err == nil {
		b.err = b.st.BindText(b.i, s)
	}
}

func (b *binder) int(n int64) {
	if b.pg != nil {
		b.args = append(b.args, n)
		return
	}
	b.i++
	if b.err == nil {
		b.err = b.st.BindInt64(b.i, n)
	}
}

func (b *binder) bool(v bool) {
	var n int64
	if v {
		n = 1
	}
	b.int(n)
}

func (b *binder) float(f float64) {
	if b.pg != nil {
		b.args = append(b.args, f)
		return
	}
	b.i++
	if b.err == nil {
		b.err = b.st.BindFloat(b.i, f)
	}
}

func (b *binder) null() {
	if b.pg != nil {
		b.args = append(b.args, nil)
		return
	}
	b.i++
	if b.err == nil {
		b.err = b.st.BindNull(b.i)
	}
}

// run executes the bound statement and resets it for the next row.
func (b *binder) run() error {
	if b.pg != nil {
		if err := b.pg.pgFlush(); err != nil {
			return err
		}
		tag, err := b.pg.pg.Exec(b.pg.ctx, b.q, b.args...)
		b.args = b.args[:0]
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		b.pg.pgRows = tag.RowsAffected()
		return nil
	}
	if b.err != nil {
		return fmt.Errorf("store: bind: %w", b.err)
	}
	err := b.st.Exec()
	b.i = 0
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func (tx *Tx) bind(q string) (*binder, error) {
	if tx.pg != nil {
		return &binder{pg: tx, q: rebind(q)}, nil
	}
	st, err := tx.stmt(q)
	if err != nil {
		return nil, err
	}
	return &binder{st: st}, nil
}

// SetMeta writes a value of the meta table.
func (tx *Tx) SetMeta(name, value string) error {
	b, err := tx.bind("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
	if err != nil {
		return err
	}
	b.text(name)
	b.text(value)
	return b.run()
}

// Meta reads a value of the meta table inside the transaction.
func (tx *Tx) Meta(name string) (string, error) {
	if tx.pg != nil {
		var v string
		err := tx.query("SELECT value FROM meta WHERE name = ?", func(c Cols) error { v = c.ColumnText(0); return nil }, name)
		return v, err
	}
	st, err := tx.stmt("SELECT value FROM meta WHERE name = ?")
	if err != nil {
		return "", err
	}
	defer st.Reset()
	if err := st.BindText(1, name); err != nil {
		return "", err
	}
	if st.Step() {
		return st.ColumnText(0), nil
	}
	return "", st.Err()
}

// query runs q with the given int64/string parameters and calls fn for
// each row. The statement is finalised afterwards: queries here are run
// once per transaction, and a live read cursor must not outlast its loop.
func (tx *Tx) query(q string, fn func(st Cols) error, args ...any) error {
	if tx.pg != nil {
		if err := tx.pgFlush(); err != nil {
			return err
		}
		return pgEach(tx.ctx, tx.pg, q, args, fn)
	}
	return sqliteEach(tx.conn, q, args, fn)
}

// each is query for a loop whose fn writes in the same transaction: on
// PostgreSQL, through a server-side cursor (pgCursor).
func (tx *Tx) each(q string, fn func(st Cols) error, args ...any) error {
	if tx.pg != nil {
		return tx.pgCursor(q, fn, args...)
	}
	return sqliteEach(tx.conn, q, args, fn)
}

// changes is how many rows the last statement run changed.
func (tx *Tx) changes() int64 {
	if tx.pg != nil {
		return tx.pgRows
	}
	return tx.conn.Changes()
}

// historyTrigger appends a history row for each change of a detection's
// status, closed reason, rating or deadline, whoever makes it (an import, a
// sync, a rescoring). It is a TEMP trigger, living on this connection
// only, because the time it records comes from the temp table qvt_now.
// It names the columns it watches so that an UPDATE that sets none of them
// (a rescan that only moves last_found) neither fires it nor pays for the
// statement journal a trigger needs.
const historyTrigger = `CREATE TEMP TRIGGER IF NOT EXISTS qvt_history
AFTER UPDATE OF status, closed, vuln_score, breach_date, priority, due_date ON main.detections
WHEN OLD.status IS NOT NEW.status OR OLD.closed IS NOT NEW.closed
  OR OLD.vuln_score IS NOT NEW.vuln_score OR OLD.breach_date IS NOT NEW.breach_date
  OR OLD.priority IS NOT NEW.priority OR OLD.due_date IS NOT NEW.due_date
BEGIN
  INSERT INTO main.history (host_id, qid, port, at, event, old, new)
    SELECT NEW.host_id, NEW.qid, NEW.port, (SELECT at FROM temp.qvt_now), 'status', OLD.status, NEW.status
    WHERE OLD.status IS NOT NEW.status;
  INSERT INTO main.history (host_id, qid, port, at, event, old, new)
    SELECT NEW.host_id, NEW.qid, NEW.port, (SELECT at FROM temp.qvt_now), 'closed', OLD.closed, NEW.closed
    WHERE OLD.closed IS NOT NEW.closed;
  INSERT INTO main.history (host_id, qid, port, at, event, old, new)
    SELECT NEW.host_id, NEW.qid, NEW.port, (SELECT at FROM temp.qvt_now), 'rating', OLD.vuln_score, NEW.vuln_score
    WHERE OLD.vuln_score IS NOT NEW.vuln_score;
  INSERT INTO main.history (host_id, qid, port, at, event, old, new)
    SELECT NEW.host_id, NEW.qid, NEW.port, (SELECT at FROM temp.qvt_now), 'deadline', OLD.breach_date, NEW.breach_date
    WHERE OLD.breach_date IS NOT NEW.breach_date;
  INSERT INTO main.history (host_id, qid, port, at, event, old, new, cause)
    SELECT NEW.host_id, NEW.qid, NEW.port, (SELECT at FROM temp.qvt_now), 'priority', OLD.priority, NEW.priority, NEW.priority_cause
    WHERE OLD.priority IS NOT NEW.priority AND OLD.priority <> '';
  INSERT INTO main.history (host_id, qid, port, at, event, old, new, cause)
    SELECT NEW.host_id, NEW.qid, NEW.port, (SELECT at FROM temp.qvt_now), 'due', OLD.due_date, NEW.due_date, NEW.priority_cause
    WHERE OLD.due_date IS NOT NEW.due_date AND OLD.priority <> '';
END`

// watchChanges makes changes to detections from here on record history
// rows at time at (Unix seconds).
func (tx *Tx) watchChanges(at int64) error {
	if tx.watching && tx.watchAt == at {
		return nil
	}
	if tx.pg != nil {
		// PostgreSQL's history trigger (migrations/postgres) reads the
		// time from this setting, which ends with the transaction.
		if _, err := tx.pg.Exec(tx.ctx, "SELECT set_config('qvt.now', $1, true)", strconv.FormatInt(at, 10)); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		tx.watching, tx.watchAt = true, at
		return nil
	}
	if !tx.watching {
		if err := tx.exec("CREATE TEMP TABLE IF NOT EXISTS qvt_now (at INTEGER NOT NULL)"); err != nil {
			return err
		}
		if err := tx.exec(historyTrigger); err != nil {
			return err
		}
		tx.watching = true
	}
	if err := tx.exec("DELETE FROM temp.qvt_now"); err != nil {
		return err
	}
	b, err := tx.bind("INSERT INTO temp.qvt_now (at) VALUES (?)")
	if err != nil {
		return err
	}
	b.int(at)
	if err := b.run(); err != nil {
		return err
	}
	tx.watchAt = at
	return nil
}

// runChanging runs a statement that gives findings this transaction's
// revision, noting whether it changed any.
func (tx *Tx) runChanging(b *binder) error {
	if err := b.run(); err != nil {
		return err
	}
	if tx.changes() > 0 {
		tx.usedRev()
	}
	return nil
}
