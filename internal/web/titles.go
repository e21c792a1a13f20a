package web

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"qvt/internal/store"
)

// titleIndex holds every KB title in memory for the list's text search:
// a substring search in SQL reads the whole KB table (its rows carry the
// KB text), a tenth of a second at 150,000 QIDs; here it is a few
// milliseconds. It is reloaded when the KB changes.
type titleIndex struct {
	mu    sync.Mutex
	stamp string
	qids  []int    // ascending
	lower []string // lower-case titles, parallel to qids
}

// search returns, ascending, the QIDs whose title contains text,
// case-insensitive.
func (t *titleIndex) search(ctx context.Context, tx *sql.Tx, text string) ([]int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.refresh(ctx, tx); err != nil {
		return nil, err
	}
	needle := strings.ToLower(text)
	out := []int{}
	for i, s := range t.lower {
		if strings.Contains(s, needle) {
			out = append(out, t.qids[i])
		}
	}
	return out, nil
}

// refresh reloads the titles if the KB has changed; t.mu is held.
func (t *titleIndex) refresh(ctx context.Context, tx *sql.Tx) error {
	var stamp string
	// Two subqueries: SQLite answers a lone max() from an index, not two.
	err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT max(qid) FROM kb_vulns), 0) || '/' ||
  COALESCE((SELECT max(last_modified) FROM kb_vulns), '')`).Scan(&stamp)
	if err != nil {
		return fmt.Errorf("titles: %w", err)
	}
	if stamp == t.stamp {
		return nil
	}
	t.stamp = ""
	if err := t.load(ctx, tx); err != nil {
		return err
	}
	t.stamp = stamp
	return nil
}

// warm loads the titles ahead of the first search.
func (t *titleIndex) warm(ctx context.Context, st *store.Store) error {
	tx, err := st.BeginRead(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refresh(ctx, tx)
}

func (t *titleIndex) load(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT qid, title FROM kb_vulns ORDER BY qid")
	if err != nil {
		return fmt.Errorf("titles: %w", err)
	}
	defer rows.Close()
	t.qids, t.lower = t.qids[:0], t.lower[:0]
	for rows.Next() {
		var q int
		var title string
		if err := rows.Scan(&q, &title); err != nil {
			return fmt.Errorf("titles: %w", err)
		}
		t.qids = append(t.qids, q)
		t.lower = append(t.lower, strings.ToLower(title))
	}
	return rows.Err()
}
