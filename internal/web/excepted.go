package web

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"qvt/internal/exceptions"
	"qvt/internal/store"
)

// Excepted findings are few: the list and the overview read them once per
// request through the partial index detections_exception and leave them
// out in Go, rather than test exception_id on every entry of an index
// walk (a table lookup each). A finding is excepted while its
// excepted_until is today or later: an exception that has expired since
// the last write still has its id on the detection, and must not hide it.

// exceptedKeys lists the keys of the findings an active exception covers
// on day (YYYY-MM-DD).
func exceptedKeys(ctx context.Context, tx *sql.Tx, d dialect, day string) (map[pk]bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT host_id, qid, port FROM detections"+d.indexed("detections_exception")+
		" WHERE exception_id <> 0 AND excepted_until >= ? AND type <> 'Info'", day)
	if err != nil {
		return nil, fmt.Errorf("excepted findings: %w", err)
	}
	defer rows.Close()
	out := map[pk]bool{}
	for rows.Next() {
		var k pk
		if err := rows.Scan(&k.host, &k.qid, &k.port); err != nil {
			return nil, fmt.Errorf("excepted findings: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// keyOf is a cursor's finding key.
func keyOf(c Cursor) pk { return pk{c.HostID, int32(c.QID), int32(c.Port)} }

// extra is how many more entries a read asks for so that, with the
// skipped findings left out, a page is still full.
func (f *filter) extra() int { return len(f.skip) }

// drop leaves the skipped findings out of keys read, and at most n.
func (f *filter) drop(keys []Cursor, n int) []Cursor {
	if len(f.skip) > 0 {
		keys = slices.DeleteFunc(keys, func(c Cursor) bool { return f.skip[keyOf(c)] })
	}
	return keys[:min(len(keys), n)]
}

// skippedMatches counts the skipped findings the filter matches, to take
// them off a set's count: they are few, and read by primary key.
func skippedMatches(ctx context.Context, tx *sql.Tx, f *filter) (int, error) {
	if len(f.skip) == 0 {
		return 0, nil
	}
	hosts := make([]int64, 0, len(f.skip))
	for k := range f.skip {
		hosts = append(hosts, k.host)
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	where, args := f.sql(true, true)
	q := "SELECT host_id, qid, port FROM detections WHERE type <> 'Info'" + where + " AND " + f.d.inInts("host_id")
	rows, err := tx.QueryContext(ctx, q, append(args, ints(f.d, hosts))...)
	if err != nil {
		return 0, fmt.Errorf("findings: excepted: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k pk
		if err := rows.Scan(&k.host, &k.qid, &k.port); err != nil {
			return 0, err
		}
		if f.skip[k] {
			n++
		}
	}
	return n, rows.Err()
}

// exceptionReasons reads the reasons of exceptions, by id, for badges.
func exceptionReasons(ctx context.Context, tx *sql.Tx, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, type, reason, approver FROM exceptions WHERE id IN ("+placeholders(len(ids))+")", args...)
	if err != nil {
		return nil, fmt.Errorf("exceptions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var typ, reason, approver string
		if err := rows.Scan(&id, &typ, &reason, &approver); err != nil {
			return nil, err
		}
		out[id] = strings.ReplaceAll(typ, "_", " ") + ": " + reason + " (approved by " + approver + ")"
	}
	return out, rows.Err()
}

// exceptionName is the name of exception id, "" for 0.
func exceptionName(id int64) string {
	if id == 0 {
		return ""
	}
	return exceptions.Name(id)
}

// exceptionOf tells whether an exception covers the finding on the
// dashboard's today, and why.
func (s *Server) exceptionOf(ctx context.Context, v *FindingView) error {
	var id int64
	var until string
	err := s.st.DB().QueryRowContext(ctx, "SELECT exception_id, excepted_until FROM detections WHERE host_id = ? AND qid = ? AND port = ?",
		v.HostID, v.QID, v.Port).Scan(&id, &until)
	if err != nil {
		return fmt.Errorf("finding %s: exception: %w", v.Key, err)
	}
	v.Excepted, v.Exception, v.ExceptedUntil = false, "", ""
	if id == 0 || until < s.today() {
		return nil
	}
	v.Excepted, v.Exception = true, exceptions.Name(id)
	if until != store.NoExpiry {
		v.ExceptedUntil = until
	}
	tx, err := s.st.BeginRead(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	reasons, err := exceptionReasons(ctx, tx, []int64{id})
	v.ExceptionReason = reasons[id]
	return err
}
