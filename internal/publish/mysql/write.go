package mysql

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"qvt/internal/publish"
	"qvt/internal/store"
)

// The staging tables are temporary: each session has its own, and they
// vanish with the connection, so an interrupted publish leaves none
// behind. JSON columns are plain text there (the findings table checks
// them).
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

func stageDDL(name string, cs []column, key string) string {
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
	sb.WriteString(") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	return sb.String()
}

// insertSQL is a multi-row INSERT of n rows.
func insertSQL(verb, table string, cs []column, n int, tail string) string {
	var sb strings.Builder
	sb.WriteString(verb + " INTO " + quote(table) + " (")
	for i, c := range cs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(quote(c.name))
	}
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

// mergeSQL moves the staged findings into the table. When two hosts share
// an address their findings share a key: as in the export, the one found
// most recently wins, then the lower host id. The condition reads the
// row's old host_id and last_found, so those two are assigned last and
// host_id before last_found (whose condition then holds exactly when
// host_id was taken from the new row).
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
		" k ON k.`qid` = f.`qid`\nON DUPLICATE KEY UPDATE " + strings.Join(upd, ",\n  ")
}

func quoteAll(ns []string) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = quote(n)
	}
	return out
}

// batch is a batch of findings ready to stage, encoded as LOAD DATA's
// default text format (tab-separated, backslash escapes, \N for NULL):
// the staging rows of its findings, and the KB rows of the QIDs this
// publish has not sent yet. Without LOAD DATA the rows are decoded into
// INSERT parameters again.
type batch struct {
	f, k   tsv
	nf, nk int
}

func (b *batch) reset() { b.f, b.k, b.nf, b.nk = b.f[:0], b.k[:0], 0, 0 }

// add appends a finding's staging row, in stageFindingColumns order.
func (b *batch) add(p *store.Published) {
	f := &p.Finding
	e := &b.f
	e.str(f.Key)
	e.str(clip(f.IP, 64))
	e.int(f.HostID)
	e.str(clip(text(f.Hostname), 255))
	e.str(text(f.OS))
	e.int(int64(f.QID))
	e.int(int64(f.Port))
	e.str(clip(f.Protocol, 16))
	e.str(clip(f.Type, 32))
	e.int(int64(f.Severity))
	e.str(clip(f.Status, 16))
	e.int(int64(f.TimesFound))
	e.rfc3339(f.FirstFound)
	e.rfc3339(f.LastFound)
	e.rfc3339(f.LastFixed)
	e.str(text(f.Results))
	e.str(clip(f.CVEID, 64))
	e.str(clip(f.CVSSVersion, 8))
	e.str(clip(f.CVSSVector, 512))
	e.score(f.Base)
	e.score(f.Temporal)
	e.score(f.EnvScore)
	e.str(clip(f.VulnScore, 16))
	e.optStr(f.BreachDate)
	e.str(clip(p.Closed, 16))
	e.unix(p.FirstSeen)
	e.unix(p.LastSeen)
	e.int(int64(p.TimesReopened))
	e.unix(p.LastReopened)
	e.list(p.Tags)
	e.int(p.Rev)
	e.end()
	b.nf++
}

// addKB appends a QID's KB staging row, in stageKBColumns order.
func (b *batch) addKB(f *store.Published) {
	e := &b.k
	e.int(int64(f.QID))
	e.str(text(f.Title))
	e.str(clip(text(f.Category), 255))
	e.str(clip(f.VulnType, 64))
	e.str(text(f.Diagnosis))
	e.str(text(f.Consequence))
	e.str(text(f.Solution))
	e.bool(f.Patchable)
	e.bool(f.Remote)
	e.list(f.VendorRefs)
	e.list(f.CVEs)
	e.end()
	b.nk++
}

// tsv is rows in LOAD DATA's default format. Each field is followed by a
// tab; end turns the row's last one into a newline.
type tsv []byte

func (e *tsv) str(s string) {
	b := *e
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0:
			esc = '0'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	b = append(b, s[start:]...)
	*e = append(b, '\t')
}

func (e *tsv) null() { *e = append(*e, '\\', 'N', '\t') }

func (e *tsv) int(i int64) { *e = append(strconv.AppendInt(*e, i, 10), '\t') }

func (e *tsv) bool(v bool) {
	if v {
		*e = append(*e, '1', '\t')
	} else {
		*e = append(*e, '0', '\t')
	}
}

func (e *tsv) optStr(s string) {
	if s == "" {
		e.null()
		return
	}
	e.str(s)
}

// rfc3339 writes "2022-04-26T04:00:51Z" as a DATETIME, "2022-04-26 04:00:51".
func (e *tsv) rfc3339(s *string) {
	if s == nil || *s == "" {
		e.null()
		return
	}
	v := *s
	if len(v) == 20 && v[10] == 'T' && v[19] == 'Z' {
		*e = append(append(append(*e, v[:10]...), ' '), v[11:19]...)
		*e = append(*e, '\t')
		return
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		e.null()
		return
	}
	*e = append(t.UTC().AppendFormat(*e, time.DateTime), '\t')
}

// unix writes Unix seconds as a DATETIME; 0 is NULL.
func (e *tsv) unix(s int64) {
	if s == 0 {
		e.null()
		return
	}
	*e = append(time.Unix(s, 0).UTC().AppendFormat(*e, time.DateTime), '\t')
}

func (e *tsv) score(f *float64) {
	if f == nil {
		e.null()
		return
	}
	*e = append(strconv.AppendFloat(*e, *f, 'f', 1, 64), '\t')
}

// list writes a JSON array of strings.
func (e *tsv) list(l []string) {
	if len(l) == 0 {
		e.str("[]")
		return
	}
	b, err := json.Marshal(l)
	if err != nil {
		e.str("[]")
		return
	}
	e.str(text(string(b)))
}

func (e *tsv) end() { (*e)[len(*e)-1] = '\n' }

// decode turns rows back into INSERT parameters: strings, and nil for
// NULL (the server converts "42" for an INT column).
func (e tsv) decode(ncols int) ([]any, error) {
	var out []any
	for len(e) > 0 {
		nl := bytes.IndexByte(e, '\n')
		if nl < 0 {
			return nil, errors.New("staging rows: unterminated row")
		}
		line := e[:nl]
		e = e[nl+1:]
		n := 0
		for f := range bytes.SplitSeq(line, []byte{'\t'}) {
			n++
			if string(f) == `\N` {
				out = append(out, nil)
				continue
			}
			if bytes.IndexByte(f, '\\') < 0 {
				out = append(out, string(f))
				continue
			}
			v := make([]byte, 0, len(f))
			for i := 0; i < len(f); i++ {
				c := f[i]
				if c == '\\' && i+1 < len(f) {
					i++
					switch f[i] {
					case 't':
						c = '\t'
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case '0':
						c = 0
					default:
						c = f[i]
					}
				}
				v = append(v, c)
			}
			out = append(out, string(v))
		}
		if n != ncols {
			return nil, fmt.Errorf("staging rows: %d fields, want %d", n, ncols)
		}
	}
	return out, nil
}

// text makes s valid UTF-8: MySQL refuses a statement with an invalid
// utf8mb4 string in it.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clip cuts s to n characters, the width of its VARCHAR column, on a
// character boundary: in strict mode a longer value fails the statement.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = text(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}

func unixTime(s int64) any {
	if s == 0 {
		return nil
	}
	return time.Unix(s, 0).UTC().Format(time.DateTime)
}

// writer stages and merges batches on the publish's connection.
type writer struct {
	t       *Target
	conn    *sql.Conn
	rep     *publish.Report
	stmts   map[string]*sql.Stmt
	merge   string
	count   string
	moved   string
	written int64 // findings inserted or changed
	sent    int   // findings sent
	movedN  int64 // rows deleted: their host has another address now
	timing  [7]time.Duration

	// LOAD DATA LOCAL streams staging rows from src through the driver's
	// reader handler; without it (the server's local_infile is OFF, as
	// MySQL 8 ships) rows go as multi-row INSERTs.
	load    bool
	handler string
	src     io.Reader
}

var phaseNames = [...]string{"stage kb", "stage findings", "count", "moved", "merge", "commit", "truncate"}

func (t *Target) newWriter(ctx context.Context, conn *sql.Conn, rep *publish.Report) (*writer, error) {
	w := &writer{t: t, conn: conn, rep: rep, stmts: map[string]*sql.Stmt{}}
	for _, q := range []string{
		"DROP TEMPORARY TABLE IF EXISTS " + quote(stageFindings) + ", " + quote(stageKB),
		stageDDL(stageFindings, stageFindingColumns, ""),
		stageDDL(stageKB, stageKBColumns, "PRIMARY KEY (`qid`)"),
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("mysql: %s: creating the staging tables (does the user have CREATE TEMPORARY TABLES?): %w", t.where(), err)
		}
	}
	var localInfile sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&localInfile); err == nil {
		w.load = localInfile.String == "1" || strings.EqualFold(localInfile.String, "ON")
	}
	if w.load {
		var b [8]byte
		rand.Read(b[:])
		w.handler = "qvt_" + hex.EncodeToString(b[:])
		mysql.RegisterReaderHandler(w.handler, func() io.Reader { return w.src })
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

func (w *writer) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := w.stmts[q]; ok {
		return s, nil
	}
	s, err := w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = s
	return s, nil
}

func (w *writer) close() {
	for _, s := range w.stmts {
		s.Close()
	}
	if w.handler != "" {
		mysql.DeregisterReaderHandler(w.handler)
	}
}

// stage writes rows into a staging table: with LOAD DATA LOCAL when the
// server allows it, else with INSERTs of at most maxRows rows.
func (w *writer) stage(ctx context.Context, table string, cs []column, rows tsv, n, maxRows int) error {
	if w.load {
		err := w.loadData(ctx, table, cs, rows, n)
		if !refused(err) {
			return err
		}
		w.load = false
		w.rep.Notes = append(w.rep.Notes, fmt.Sprintf("the server refused LOAD DATA LOCAL (%v): staged rows with INSERT, which is slower", err))
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

// insert writes rows of values (ncols each) into a staging table, in
// statements of the batch size, then of 100, 10 and 1 rows: a handful of
// prepared statements serve every batch size.
func (w *writer) insert(ctx context.Context, table string, cs []column, vals []any, maxRows int) error {
	n := len(cs)
	for len(vals) > 0 {
		rows := len(vals) / n
		size := maxRows
		for _, s := range []int{maxRows, 100, 10, 1} {
			if s <= rows && s <= maxRows {
				size = s
				break
			}
		}
		s, err := w.stmt(ctx, insertSQL("INSERT", table, cs, size, ""))
		if err != nil {
			return err
		}
		if _, err := s.ExecContext(ctx, vals[:size*n]...); err != nil {
			return err
		}
		vals = vals[size*n:]
	}
	return nil
}

// write stages a batch and merges it in one transaction.
func (w *writer) write(ctx context.Context, b *batch) error {
	t0 := time.Now()
	lap := func(i int) {
		t1 := time.Now()
		w.timing[i] += t1.Sub(t0)
		t0 = t1
	}
	if b.nk > 0 {
		// KB rows are large: fewer per statement.
		if err := w.stage(ctx, stageKB, stageKBColumns, b.k, b.nk, 100); err != nil {
			return fmt.Errorf("mysql: %s: staging KB entries: %w", w.t.where(), err)
		}
	}
	lap(0)
	if err := w.stage(ctx, stageFindings, stageFindingColumns, b.f, b.nf, w.t.batch); err != nil {
		return fmt.Errorf("mysql: %s: staging findings: %w", w.t.where(), err)
	}
	lap(1)
	n := b.nf
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mysql: %s: %w", w.t.where(), err)
	}
	defer tx.Rollback()
	var existing, closed, reopened int64
	if err := tx.QueryRowContext(ctx, w.count).Scan(&existing, &closed, &reopened); err != nil {
		return fmt.Errorf("mysql: %s: reading table %s: %w", w.t.where(), w.t.table, err)
	}
	lap(2)
	res, err := tx.ExecContext(ctx, w.moved)
	if err != nil {
		return fmt.Errorf("mysql: %s: writing table %s: %w", w.t.where(), w.t.table, err)
	}
	moved, _ := res.RowsAffected()
	lap(3)
	res, err = tx.ExecContext(ctx, w.merge)
	if err != nil {
		return fmt.Errorf("mysql: %s: writing table %s: %w", w.t.where(), w.t.table, err)
	}
	affected, _ := res.RowsAffected()
	lap(4)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql: %s: committing to table %s: %w", w.t.where(), w.t.table, err)
	}
	lap(5)
	if _, err := w.conn.ExecContext(ctx, "TRUNCATE TABLE "+quote(stageFindings)); err != nil {
		return fmt.Errorf("mysql: %s: %w", w.t.where(), err)
	}
	lap(6)
	// Affected rows count 1 per insert and 2 per changed row; rows that
	// were there already and are sent unchanged count 0.
	existing = min(existing, int64(n))
	inserted := int64(n) - existing
	updated := min(max((affected-inserted)/2, 0), existing)
	w.rep.Created += int(inserted)
	w.rep.Updated += int(updated)
	w.rep.Unchanged += int(existing - updated)
	w.rep.Closed += int(closed)
	w.rep.Reopened += int(reopened)
	w.written += inserted + updated
	w.sent += n
	w.movedN += moved
	if w.t.afterBatch != nil {
		w.t.afterBatch(w.sent)
	}
	return nil
}

// findings sends the findings changed after revision from. The store is
// read on this goroutine while the previous batch is written on another.
func (w *writer) findings(ctx context.Context, st *store.Store, from int64, log *slog.Logger) (err error) {
	defer w.close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	full := make(chan *batch, 1)
	free := make(chan *batch, 3)
	for range 3 {
		free <- &batch{}
	}
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			if werr == nil {
				if werr = w.write(ctx, b); werr != nil {
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
	kbSent := map[int]bool{}
	cur := <-free
	n, next := 0, 100000
	err = changed(ctx, st, from, func(p *store.Published) error {
		if !kbSent[p.QID] {
			kbSent[p.QID] = true
			cur.addKB(p)
		}
		cur.add(p)
		if cur.nf >= w.t.batch || len(cur.f)+len(cur.k) >= maxBatchBytes {
			if err := send(cur); err != nil {
				return err
			}
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
	for i, d := range w.timing {
		attrs = append(attrs, phaseNames[i], d.Round(time.Millisecond))
	}
	log.Debug("mysql: time spent writing", attrs...)
	if werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("mysql: reading the store's changes: %w", err)
	}
	if w.movedN > 0 {
		w.rep.Notes = append(w.rep.Notes, fmt.Sprintf("%d rows removed from %s: their host's address changed, so their key did", w.movedN, w.t.table))
	}
	return nil
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

// history sends the store's history rows after id from, in batches of
// their own transaction; a row sent again changes nothing.
func (t *Target) history(ctx context.Context, conn *sql.Conn, st *store.Store, from int64) (last, written int64, err error) {
	const per = 2000
	cols := historyColumns
	var upd []string
	for _, c := range cols[1:] {
		upd = append(upd, fmt.Sprintf("%s = VALUES(%s)", quote(c.name), quote(c.name)))
	}
	tail := " ON DUPLICATE KEY UPDATE " + strings.Join(upd, ", ")
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	vals := make([]any, 0, per*len(cols))
	flush := func() error {
		n := len(vals) / len(cols)
		if n == 0 {
			return nil
		}
		s, ok := stmts[n]
		if !ok {
			var err error
			if s, err = conn.PrepareContext(ctx, insertSQL("INSERT", t.table+"_history", cols, n, tail)); err != nil {
				return err
			}
			stmts[n] = s
		}
		res, err := s.ExecContext(ctx, vals...)
		if err != nil {
			return err
		}
		a, _ := res.RowsAffected()
		written += min(a, int64(n))
		vals = vals[:0]
		return nil
	}
	last, err = st.HistoryAfter(ctx, from, func(h store.HistoryRow) error {
		vals = append(vals, h.ID, h.Key, h.HostID, int64(h.QID), int64(h.Port), time.Unix(h.At, 0).UTC().Format(time.DateTime), clip(h.Event, 16), clip(text(h.Old), 64), clip(text(h.New), 64))
		if len(vals) == cap(vals) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return from, written, fmt.Errorf("mysql: %s: writing table %s_history: %w", t.where(), t.table, err)
	}
	return last, written, nil
}
