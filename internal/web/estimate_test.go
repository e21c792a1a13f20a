package web

import (
	"context"
	"testing"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// The bounded count the list plans by gives the exact count of a set
// under its bound on both engines, and the bound for a set over it: on
// PostgreSQL the planner's estimate stands in for counting a set far
// over the bound.
func TestBoundedCount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		st, _ := fixtureStoreAt(t, loc)
		if store.IsPostgres(loc) {
			// What the store does itself after a large write, for a
			// fixture too small to need it.
			if _, err := st.DB().ExecContext(ctx, "ANALYZE detections"); err != nil {
				t.Fatal(err)
			}
		}
		d := newDialect(map[bool]string{true: "postgres", false: "sqlite"}[store.IsPostgres(loc)])
		tx, err := st.BeginRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var all, fixed int
		if err := tx.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE status = 'Fixed') FROM detections WHERE type <> 'Info'").Scan(&all, &fixed); err != nil {
			t.Fatal(err)
		}
		if fixed == 0 || fixed*4 > all {
			t.Fatalf("the fixture has %d fixed findings of %d: the test needs a few", fixed, all)
		}
		q := "SELECT 1 FROM detections WHERE type <> 'Info' AND status = ?"
		for _, c := range []struct {
			what  string
			limit int
			want  int
		}{
			{"a set under its bound", fixed + 1, fixed},
			{"a set at its bound", fixed, fixed},
			{"a set far over its bound", fixed / 3, fixed / 3},
		} {
			n, err := boundedCount(ctx, tx, d, q, []any{"Fixed"}, c.limit)
			if err != nil || n != c.want {
				t.Errorf("%s: %d, %v; want %d", c.what, n, err, c.want)
			}
		}
		if d.pg {
			est, err := estimateRows(ctx, tx, "SELECT 1 FROM detections WHERE type <> 'Info'", nil)
			if err != nil || est < float64(all)/2 || est > float64(all)*2 {
				t.Errorf("the planner's estimate of %d findings: %v, %v", all, est, err)
			}
		}
	})
}
