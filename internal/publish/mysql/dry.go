package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"qvt/internal/publish"
	"qvt/internal/store"
)

// dryRun counts what a publish would write, reading the store and (when
// it exists) the table, and prints the plan. It writes nothing on either
// side.
func (t *Target) dryRun(ctx context.Context, conn *sql.Conn, st *store.Store, p plan, opt publish.Options, rep publish.Report) (publish.Report, error) {
	tableExists := !slices.Contains(p.missing, t.table)
	var keys []string
	var first []string
	closing := map[string]bool{} // key → closed in the store
	total := 0
	check := func() error {
		if len(keys) == 0 {
			return nil
		}
		defer func() { keys = keys[:0]; clear(closing) }()
		if !tableExists {
			rep.Created += len(keys)
			return nil
		}
		args := make([]any, len(keys))
		for i, k := range keys {
			args[i] = k
		}
		rows, err := conn.QueryContext(ctx, "SELECT `finding_key`, `closed` FROM "+quote(t.table)+
			" WHERE `finding_key` IN (?"+strings.Repeat(", ?", len(keys)-1)+")", args...)
		if err != nil {
			return fmt.Errorf("mysql: %s: reading table %s: %w", t.where(), t.table, err)
		}
		defer rows.Close()
		found := 0
		for rows.Next() {
			var k, c string
			if err := rows.Scan(&k, &c); err != nil {
				return err
			}
			found++
			switch {
			case c == "" && closing[k]:
				rep.Closed++
			case c != "" && !closing[k]:
				rep.Reopened++
			}
		}
		rep.Created += len(keys) - found
		rep.Updated += found
		return rows.Err()
	}
	err := changed(ctx, st, p.fromRev, func(f *store.Published) error {
		total++
		if len(first) < 5 {
			first = append(first, f.Key)
		}
		keys = append(keys, f.Key)
		closing[f.Key] = !f.Open()
		if len(keys) == 1000 {
			return check()
		}
		return nil
	})
	if err == nil {
		err = check()
	}
	if err != nil {
		return rep, fmt.Errorf("mysql: dry run: %w", err)
	}
	hist := 0
	if _, err := st.HistoryAfter(ctx, p.fromHist, func(store.HistoryRow) error { hist++; return nil }); err != nil {
		return rep, fmt.Errorf("mysql: dry run: %w", err)
	}
	w := opt.Out
	fmt.Fprintf(w, "mysql: dry run: would publish to %s, table %s (store revision %d → %d, history after id %d)\n",
		t.where(), t.table, p.fromRev, p.head, p.fromHist)
	if len(p.missing) > 0 {
		fmt.Fprintf(w, "  would create tables: %s\n", strings.Join(p.missing, ", "))
	}
	for _, o := range p.old {
		fmt.Fprintf(w, "  would migrate table %s from schema %d to %d\n", o.name, o.version, schemaVersion)
	}
	fmt.Fprintf(w, "  findings to write: %d (%d new, %d already there; %d would close, %d reopen)\n",
		total, rep.Created, rep.Updated, rep.Closed, rep.Reopened)
	if len(first) > 0 {
		more := ""
		if total > len(first) {
			more = ", …"
		}
		fmt.Fprintf(w, "  first keys: %s%s\n", strings.Join(first, ", "), more)
	}
	fmt.Fprintf(w, "  history rows to write: %d\n", hist)
	for _, n := range p.notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	return rep, nil
}
