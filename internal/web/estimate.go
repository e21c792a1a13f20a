package web

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// The list decides how to read a page by counting, up to a bound, the
// entries of the set a filter selects (plan in list.go): a set under the
// bound is read and sorted, a larger one is walked in order. SQLite
// counts a range of a covering index in a few milliseconds. PostgreSQL
// must visit the table for every entry until vacuum has marked its pages
// all-visible, and took 0.3 to 1 s to count to 50,000 at 400,000
// findings, on every page of every list sorted by host. Its planner's
// estimate of the set, from the statistics the store keeps current, is
// enough to tell a set far over the bound; only a set near or under it
// is counted.

// overEstimate is how far over the bound the planner's estimate must be
// for the set to be taken as over it without counting.
const overEstimate = 1.5

// boundedCount counts the rows query (a SELECT without LIMIT) gives, up
// to limit.
func boundedCount(ctx context.Context, tx *sql.Tx, d dialect, query string, args []any, limit int) (int, error) {
	if d.pg {
		est, err := estimateRows(ctx, tx, query, args)
		if err != nil {
			return 0, fmt.Errorf("findings: count: %w", err)
		}
		if est >= overEstimate*float64(limit) {
			return limit, nil
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ("+query+" LIMIT ?) AS m", append(args, limit)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("findings: count: %w", err)
	}
	return n, nil
}

// estimateRows is PostgreSQL's estimate of the rows query gives, with
// these arguments.
func estimateRows(ctx context.Context, tx *sql.Tx, query string, args []any) (float64, error) {
	var out string
	if err := tx.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&out); err != nil {
		return 0, err
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) == 0 {
		return 0, fmt.Errorf("reading the plan: %v", err)
	}
	return plans[0].Plan.Rows, nil
}
