package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"qvt/internal/store"
)

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
			if s, err = conn.PrepareContext(ctx, insertSQL(t.table+"_history", cols, n, tail)); err != nil {
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
		vals = append(vals, h.ID, h.Key, h.HostID, int64(h.QID), int64(h.Port), time.Unix(h.At, 0).UTC().Format(time.DateTime), clip(h.Event, 16), clip(text(h.Old), 64), clip(text(h.New), 64), clip(text(h.Cause), 255), clip(text(h.Actor), 255))
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
