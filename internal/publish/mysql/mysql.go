// Package mysql publishes the findings, their history and a record of
// each publish to a MySQL or MariaDB database (QVT_MYSQL_DSN): the table
// the old tool's users read from a web page.
//
// Three tables, created if missing (see schema.go): <table> holds one row
// per finding with the contract's columns (docs/findings.md) and its life
// (closed reason, first and last seen, reopen count, the store revision
// that last changed it), then its exploitation evidence and priority
// (docs/priority.md); closed findings stay, with their closed column
// set. <table>_history holds one row per store history row, keyed by the
// store's id. <table>_runs holds one row per publish. Tables of an older
// schema are migrated in place by the first publish of a newer qvt.
//
// A publish is incremental. It sends the findings whose store revision
// is above the watermark, then the history rows above the history
// watermark, then moves both watermarks. The watermarks live in two
// places, the store's publish_state and the last done row of the runs
// table, and the lower one wins: a restored MySQL database or a restored
// store makes the next publish send more again, never less. Findings go
// in batches, each one transaction; an interrupted publish leaves whole
// batches behind and the watermarks where they were, and the next publish
// sends the same rows again, which the upsert makes harmless.
//
// Each batch is staged in temporary tables of the publish's connection
// (LOAD DATA LOCAL through the driver's reader handler where the server
// allows it, multi-row INSERTs where it does not) and merged with one
// INSERT … SELECT … ON DUPLICATE KEY UPDATE in key order. The KB text
// (diagnosis, consequence, solution: 1.3 to 2 KB a finding, the same for
// every finding of a QID) crosses the network once per QID per publish
// and the server copies it into each row, instead of parsing 2.5 GB of
// statement text for a million findings. A million findings take about
// 50 s on a two-core machine with MariaDB's default settings; a rerun
// with nothing changed reads the store and writes only its runs row.
package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"qvt/internal/publish"
	redactpkg "qvt/internal/redact"
	"qvt/internal/store"
)

// Config configures the MySQL target.
type Config struct {
	DSN   string `yaml:"dsn"`   // go-sql-driver DSN, e.g. "qvt:secret@tcp(db:3306)/vulns" (QVT_MYSQL_DSN; holds a password)
	Table string `yaml:"table"` // findings table, default "qvt_findings"; history and runs are <table>_history and <table>_runs
	Batch int    `yaml:"batch"` // findings per statement and per transaction, default 2000 (at most 2114: 65,535 placeholders)
}

// DefaultTable is the findings table's name unless configured.
const DefaultTable = "qvt_findings"

// DefaultBatch is the number of findings per batch unless configured.
const DefaultBatch = 2000

// maxBatch keeps a staging statement under MySQL's 65,535 placeholders
// per prepared statement.
var maxBatch = 65535 / len(stageFindingColumns)

// maxBatchBytes ends a batch early when its rows are large (long
// RESULTS): it bounds the memory a batch holds and the size of a merge.
const maxBatchBytes = 8 << 20

const name = "mysql"

// A table name leaves room for the longest suffix, "_history", within
// MySQL's 64 characters.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,55}$`)

// Target publishes to one MySQL or MariaDB database.
type Target struct {
	db    *sql.DB
	addr  string // host:port or socket, for messages
	dbms  string // database name
	user  string
	table string
	batch int

	// afterBatch, when set, is called after each committed batch with
	// the findings written so far (tests interrupt a publish with it).
	afterBatch func(rows int)
	// noLoad stages with INSERT even where LOAD DATA LOCAL is allowed,
	// and engines are the staging tables' engines to try in turn (tests
	// of the fallbacks).
	noLoad  bool
	engines []string
}

// New checks the configuration without connecting.
func New(cfg Config) (*Target, error) {
	if strings.TrimSpace(cfg.DSN) == "" {
		return nil, errors.New("mysql: no DSN (QVT_MYSQL_DSN, e.g. qvt:password@tcp(db.example.com:3306)/vulns)")
	}
	if strings.Contains(cfg.DSN, "://") {
		return nil, errors.New("mysql: the DSN is a URL; want the go-sql-driver form user:password@tcp(host:3306)/dbname")
	}
	mc, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("mysql: invalid DSN (want user:password@tcp(host:3306)/dbname): %s", redact(err.Error(), cfg.DSN))
	}
	if mc.DBName == "" {
		return nil, fmt.Errorf("mysql: the DSN names no database (want user:password@tcp(%s)/dbname)", mc.Addr)
	}
	t := &Target{addr: mc.Addr, dbms: mc.DBName, user: mc.User, table: cfg.Table, batch: cfg.Batch, engines: []string{"MyISAM", "InnoDB"}}
	if t.table == "" {
		t.table = DefaultTable
	}
	if !tableName.MatchString(t.table) {
		return nil, fmt.Errorf("mysql: table name %q: want letters, digits and _, at most 56 characters", t.table)
	}
	switch {
	case t.batch <= 0:
		t.batch = DefaultBatch
	case t.batch > maxBatch:
		return nil, fmt.Errorf("mysql: batch %d: at most %d findings fit in one statement (65,535 placeholders)", t.batch, maxBatch)
	}
	if mc.Timeout == 0 {
		mc.Timeout = 10 * time.Second
	}
	if mc.MaxAllowedPacket == mysql.NewConfig().MaxAllowedPacket {
		mc.MaxAllowedPacket = 0 // ask the server: a statement larger than its limit fails
	}
	mc.InterpolateParams = false
	mc.MultiStatements = false
	mc.ParseTime = false
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql: %s", redact(err.Error(), cfg.DSN))
	}
	t.db = sql.OpenDB(conn)
	t.db.SetMaxOpenConns(3) // the publish's, the writer's, one to record a failure
	t.db.SetMaxIdleConns(1)
	t.db.SetConnMaxIdleTime(time.Minute)
	return t, nil
}

// Name is "mysql".
func (t *Target) Name() string { return name }

// Close closes the target's connections.
func (t *Target) Close() error {
	if t.db == nil {
		return nil
	}
	return t.db.Close()
}

// where names the destination in messages: never the DSN, which holds a
// password.
func (t *Target) where() string { return fmt.Sprintf("%s/%s", t.addr, t.dbms) }

// redact removes the DSN's password from a message where a password
// stands (redact.String): in a DSN (user:password@tcp(...)), after "=",
// as a quoted string a server echoes; anywhere only when it is long. A
// short password ("qvt") is a word of many messages ("qvt_findings"),
// which must stay readable.
func redact(msg, dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return redactpkg.String(msg, nil)
	}
	var pw string
	if colon := strings.Index(dsn[:at], ":"); colon >= 0 {
		pw = dsn[colon+1 : at]
	}
	return redactpkg.String(msg, []string{pw})
}

// connect opens the publish's connection: temporary tables and the
// publish lock belong to it.
func (t *Target) connect(ctx context.Context) (*sql.Conn, error) {
	conn, err := t.db.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		return nil, t.connError(err)
	}
	return conn, nil
}

func (t *Target) connError(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1044, 1698:
			return fmt.Errorf("mysql: cannot log in to MySQL at %s as %q: %w", t.addr, t.user, err)
		case 1049:
			return fmt.Errorf("mysql: database %q does not exist at %s: %w", t.dbms, t.addr, err)
		}
		return fmt.Errorf("mysql: connecting to MySQL at %s: %w", t.where(), err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, mysql.ErrInvalidConn) || strings.Contains(err.Error(), "dial ") {
		return fmt.Errorf("mysql: cannot reach MySQL at %s: %w", t.addr, err)
	}
	return fmt.Errorf("mysql: connecting to MySQL at %s: %w", t.where(), err)
}

// Publish writes what changed since the last publish (everything the
// first time) and moves the watermarks.
func (t *Target) Publish(ctx context.Context, st *store.Store, opt publish.Options) (publish.Report, error) {
	rep := publish.Report{Target: name}
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	started := opt.Now()
	conn, err := t.connect(ctx)
	if err != nil {
		return rep, err
	}
	defer conn.Close()
	unlock, err := t.lock(ctx, conn)
	if err != nil {
		return rep, err
	}
	defer unlock()

	missing, old, err := checkTables(ctx, conn, t.tables())
	if err != nil {
		return rep, fmt.Errorf("mysql: %s: %w", t.where(), err)
	}
	plan, err := t.plan(ctx, conn, st, missing, opt.DryRun)
	if err != nil {
		return rep, err
	}
	plan.old = old
	for _, o := range old {
		if o.what == "findings" && plan.fromRev > 0 {
			// Rows the store did not change since would keep the new
			// columns' defaults.
			plan.notes = append(plan.notes, fmt.Sprintf("table %s is migrated from schema %d to %d: publishing every finding to fill its new columns", o.name, o.version, schemaVersion))
			plan.fromRev = 0
		}
		if o.what == "history" && o.version < 3 && plan.fromHist > 0 {
			// The rows sent before have no actor: send them again
			// (they are upserts by the store's history id).
			plan.notes = append(plan.notes, fmt.Sprintf("table %s is migrated from schema %d to %d: sending the whole history again to fill its new columns", o.name, o.version, schemaVersion))
			plan.fromHist = 0
		}
	}
	for _, n := range plan.notes {
		rep.Notes = append(rep.Notes, n)
		opt.Log.Warn("mysql: "+n, "target", name)
	}
	if opt.DryRun {
		return t.dryRun(ctx, conn, st, plan, opt, rep)
	}
	for _, tb := range t.tables() {
		if _, err := conn.ExecContext(ctx, tb.createSQL()); err != nil {
			return rep, fmt.Errorf("mysql: %s: creating table %s: %w", t.where(), tb.name, err)
		}
	}
	if err := t.migrate(ctx, conn, old, opt.Log); err != nil {
		return rep, err
	}

	res, err := conn.ExecContext(ctx, "INSERT INTO "+quote(t.table+"_runs")+
		" (started, status, store_id, from_rev, rev, from_history, history_id, rows_written, history_written) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
		dbTime(started), runRunning, plan.storeID, plan.fromRev, plan.fromRev, plan.fromHist, plan.fromHist)
	if err != nil {
		return rep, fmt.Errorf("mysql: %s: recording the run: %w", t.where(), err)
	}
	runID, _ := res.LastInsertId()

	f := &feed{t: t, rep: &rep, noLoad: t.noLoad}
	f.fresh, err = t.prepareTable(ctx, conn, plan.fromRev, opt.Log)
	if err == nil {
		err = f.run(ctx, st, plan.fromRev, opt.Log)
	}
	var lastHist, histWritten int64
	if err == nil {
		lastHist, histWritten, err = t.history(ctx, conn, st, plan.fromHist)
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, "UPDATE "+quote(t.table+"_runs")+
			" SET finished = ?, status = ?, rev = ?, history_id = ?, rows_written = ?, history_written = ? WHERE id = ?",
			dbTime(opt.Now()), runDone, plan.head, lastHist, f.written, histWritten, runID)
		if err != nil {
			err = fmt.Errorf("mysql: %s: recording the run: %w", t.where(), err)
		}
	}
	if err == nil {
		err = st.SetPublishState(ctx, name, map[string]string{
			"rev":     fmt.Sprint(plan.head),
			"history": fmt.Sprint(lastHist),
		})
		if err != nil {
			err = fmt.Errorf("mysql: saving the watermark in the store: %w", err)
		}
	}
	if err != nil {
		t.failRun(runID, f.written, err, opt.Now)
		return rep, err
	}
	opt.Log.Info("mysql: published", "findings", f.written, "history", histWritten, "revision", plan.head, "took", time.Since(started).Round(time.Millisecond))
	return rep, nil
}

// prepareTable tells whether the findings table starts empty with
// everything to send (a first publish: every row is an insert, and no
// host can have rows under an old address), and restores secondary
// indexes someone dropped: without (host_id, ip) finding a moved host's
// old rows is a scan per batch.
//
// The indexes are kept up to date row by row, also on a first load:
// building them afterwards is a scan of the whole table that, with a
// small buffer pool, waits on reads (20 s for a million findings here)
// while row-by-row upkeep of rows merged in key order costs about half.
func (t *Target) prepareTable(ctx context.Context, conn *sql.Conn, fromRev int64, log *slog.Logger) (fresh bool, err error) {
	missing, err := missingKeys(ctx, conn, t.table)
	if err != nil {
		return false, fmt.Errorf("mysql: %s: %w", t.where(), err)
	}
	if len(missing) > 0 {
		start := time.Now()
		var add []string
		for _, ix := range missing {
			add = append(add, "ADD "+ix.ddl())
		}
		if _, err := conn.ExecContext(ctx, "ALTER TABLE "+quote(t.table)+" "+strings.Join(add, ", ")); err != nil {
			return false, fmt.Errorf("mysql: %s: restoring the indexes of table %s: %w", t.where(), t.table, err)
		}
		log.Warn("mysql: restored missing indexes", "table", t.table, "indexes", len(missing), "took", time.Since(start).Round(time.Millisecond))
	}
	if fromRev != 0 {
		return false, nil
	}
	var one int
	err = conn.QueryRowContext(ctx, "SELECT 1 FROM "+quote(t.table)+" LIMIT 1").Scan(&one)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	}
	return false, fmt.Errorf("mysql: %s: reading table %s: %w", t.where(), t.table, err)
}

// migrate brings tables of an older schema to this one, each with one
// ALTER TABLE (migrateSQL). JSON columns added to existing rows hold ""
// on MariaDB, whose JSON is checked text: they get "[]" until the
// publish rewrites the rows.
func (t *Target) migrate(ctx context.Context, conn *sql.Conn, old []oldTable, log *slog.Logger) error {
	for _, o := range old {
		start := time.Now()
		q, err := migrateSQL(ctx, conn, o)
		if err == nil {
			_, err = conn.ExecContext(ctx, q)
		}
		if err != nil {
			return fmt.Errorf("mysql: %s: migrating table %s from schema %d to %d: %w", t.where(), o.name, o.version, schemaVersion, err)
		}
		// One UPDATE for them all: MariaDB checks every JSON column of
		// a row it writes.
		var set, invalid []string
		for _, c := range o.columns {
			if c.since > o.version && strings.HasPrefix(c.ddl, "JSON") {
				q := quote(c.name)
				set = append(set, fmt.Sprintf("%s = IF(JSON_VALID(%s), %s, '[]')", q, q, q))
				invalid = append(invalid, "NOT JSON_VALID("+q+")")
			}
		}
		if len(set) > 0 {
			q := "UPDATE " + quote(o.name) + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(invalid, " OR ")
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("mysql: %s: migrating table %s: filling its new JSON columns: %w", t.where(), o.name, err)
			}
		}
		log.Info("mysql: migrated table", "table", o.name, "from", o.version, "to", schemaVersion, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// failRun records a failed run, on a fresh connection: the publish's may
// be gone with its context.
func (t *Target) failRun(runID, written int64, cause error, now func() time.Time) {
	if runID == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.db.ExecContext(ctx, "UPDATE "+quote(t.table+"_runs")+" SET finished = ?, status = ?, rows_written = ?, error = ? WHERE id = ?",
		dbTime(now()), runFailed, written, clip(cause.Error(), 2000), runID)
}

// lock takes a named lock for the table set, so two publishes to the same
// tables do not interleave their watermarks.
func (t *Target) lock(ctx context.Context, conn *sql.Conn) (func(), error) {
	lockName := "qvt:" + t.dbms + "." + t.table
	if len(lockName) > 64 {
		lockName = lockName[:64]
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lockName).Scan(&got); err != nil {
		return nil, fmt.Errorf("mysql: %s: taking the publish lock: %w", t.where(), err)
	}
	if got.Int64 != 1 {
		return nil, fmt.Errorf("mysql: %s: another publish to table %s is running (lock %q is held)", t.where(), t.table, lockName)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", lockName)
	}, nil
}

// plan is where a publish starts and ends.
type plan struct {
	storeID           string
	head              int64 // the store's revision when the publish starts: the new watermark
	fromRev, fromHist int64
	notes             []string
	missing           []string   // tables to create
	old               []oldTable // tables to migrate
}

// plan reads the watermarks on both sides and picks the lower.
func (t *Target) plan(ctx context.Context, conn *sql.Conn, st *store.Store, missing []string, dry bool) (plan, error) {
	p := plan{missing: missing}
	var err error
	state := map[string]string{}
	for _, k := range []string{"store_id", "rev", "history"} {
		if state[k], err = st.PublishState(ctx, name, k); err != nil {
			return p, fmt.Errorf("mysql: reading the watermark in the store: %w", err)
		}
	}
	p.storeID = state["store_id"]
	if p.storeID == "" {
		// The store's identity, so that the runs table tells whose
		// revisions its watermark counts.
		var b [8]byte
		rand.Read(b[:])
		p.storeID = hex.EncodeToString(b[:])
		if !dry {
			if err := st.SetPublishState(ctx, name, map[string]string{"store_id": p.storeID}); err != nil {
				return p, fmt.Errorf("mysql: saving the store's id: %w", err)
			}
		}
	}
	// Read before the findings: whatever changes meanwhile has a higher
	// revision and goes out now or next time.
	if p.head, err = st.Revision(ctx); err != nil {
		return p, fmt.Errorf("mysql: reading the store's revision: %w", err)
	}
	var storeRev, storeHist int64
	fmt.Sscan(state["rev"], &storeRev)
	fmt.Sscan(state["history"], &storeHist)

	var dbStore string
	var dbRev, dbHist int64
	found := false
	if !slices.Contains(missing, t.table+"_runs") {
		err := conn.QueryRowContext(ctx, "SELECT store_id, rev, history_id FROM "+quote(t.table+"_runs")+
			" WHERE status = ? ORDER BY id DESC LIMIT 1", runDone).Scan(&dbStore, &dbRev, &dbHist)
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, sql.ErrNoRows):
			return p, fmt.Errorf("mysql: %s: reading the last run: %w", t.where(), err)
		}
	}
	switch {
	case !found:
		if storeRev > 0 {
			p.notes = append(p.notes, fmt.Sprintf("%s has no record of a publish (new or restored database): publishing every finding", t.where()))
		}
	case dbStore != p.storeID:
		p.notes = append(p.notes, fmt.Sprintf("table %s was last published from another store (id %s): publishing every finding", t.table, dbStore))
	default:
		p.fromRev, p.fromHist = min(storeRev, dbRev), min(storeHist, dbHist)
		if storeRev != dbRev || storeHist != dbHist {
			p.notes = append(p.notes, fmt.Sprintf("watermarks disagree (store: revision %d, history %d; %s: revision %d, history %d): publishing from the lower",
				storeRev, storeHist, t.where(), dbRev, dbHist))
		}
	}
	if p.fromRev > p.head {
		p.notes = append(p.notes, fmt.Sprintf("the watermark (revision %d) is above the store's revision %d (was the store restored?): publishing every finding", p.fromRev, p.head))
		p.fromRev, p.fromHist = 0, 0
	}
	return p, nil
}

// dbTime formats a time as a MySQL DATETIME(3) literal, in UTC.
func dbTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }
