package store

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3"
)

// Cols reads the columns of a query's current row, numbered from 0. On
// SQLite it is the driver's statement itself (no copy, no boxing); on
// PostgreSQL, pgCols over the row's values.
type Cols interface {
	ColumnInt64(i int) int64
	ColumnInt(i int) int
	ColumnText(i int) string
	ColumnFloat(i int) float64
	ColumnBool(i int) bool
	ColumnRawText(i int) []byte
	ColumnType(i int) sqlite3.Datatype // sqlite3.NULL for a NULL
}

// pgCols is Cols over one row of a pgx query, whose values it converts as
// SQLite would: a NULL reads as 0 or "", booleans as 0 and 1.
type pgCols struct{ vals []any }

func (c *pgCols) ColumnInt64(i int) int64 {
	switch v := c.vals[i].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case float64:
		return int64(v)
	case float32:
		return int64(v)
	case bool:
		if v {
			return 1
		}
		return 0
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

func (c *pgCols) ColumnInt(i int) int { return int(c.ColumnInt64(i)) }

func (c *pgCols) ColumnText(i int) string {
	switch v := c.vals[i].(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

func (c *pgCols) ColumnFloat(i int) float64 {
	switch v := c.vals[i].(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return float64(c.ColumnInt64(i))
}

func (c *pgCols) ColumnBool(i int) bool { return c.ColumnInt64(i) != 0 || c.vals[i] == true }

func (c *pgCols) ColumnRawText(i int) []byte {
	if b, ok := c.vals[i].([]byte); ok {
		return b
	}
	return []byte(c.ColumnText(i))
}

func (c *pgCols) ColumnType(i int) sqlite3.Datatype {
	switch v := c.vals[i].(type) {
	case nil:
		return sqlite3.NULL
	case int64, int32, int16, bool:
		return sqlite3.INTEGER
	case float64:
		if math.IsNaN(v) {
			return sqlite3.NULL
		}
		return sqlite3.FLOAT
	case float32:
		return sqlite3.FLOAT
	case []byte:
		return sqlite3.BLOB
	}
	return sqlite3.TEXT
}

// pgQuerier is what a pgx query runs on: a transaction or a connection.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgEach runs the shared SQL q (? parameters) on PostgreSQL and calls fn
// for each row.
func pgEach(ctx context.Context, q pgQuerier, query string, args []any, fn func(Cols) error) error {
	rows, err := q.Query(ctx, rebind(query), args...)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	c := &pgCols{}
	for rows.Next() {
		if c.vals, err = rows.Values(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// sqliteEach runs query on an SQLite connection and calls fn for each row.
func sqliteEach(c *sqlite3.Conn, query string, args []any, fn func(Cols) error) error {
	st, _, err := c.Prepare(query)
	if err != nil {
		return fmt.Errorf("store: prepare: %w", err)
	}
	defer st.Close()
	for i, a := range args {
		if err := Bind(st, i+1, a); err != nil {
			return err
		}
	}
	for st.Step() {
		if err := fn(st); err != nil {
			return err
		}
	}
	if err := st.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Snap is one consistent snapshot of the store, for readers that run
// several queries (the dashboard's overview): the shared SQL of both
// engines, ? parameters (int, int64, string, float64).
type Snap struct {
	ctx  context.Context
	lite *sqlite3.Conn
	pg   pgx.Tx
}

// Each runs query and calls fn for each row.
func (q *Snap) Each(query string, args []any, fn func(Cols) error) error {
	if q.pg != nil {
		return pgEach(q.ctx, q.pg, query, args, fn)
	}
	return sqliteEach(q.lite, query, args, fn)
}

// Engine is the snapshot's engine: "sqlite" or "postgres".
func (q *Snap) Engine() string {
	if q.pg != nil {
		return "postgres"
	}
	return "sqlite"
}

// Snapshot runs fn on one snapshot of the store: SQLite's read
// transaction, PostgreSQL's REPEATABLE READ.
func (s *Store) Snapshot(ctx context.Context, fn func(*Snap) error) error {
	if s.pg != nil {
		return s.pgRead(ctx, func(tx pgx.Tx) error { return fn(&Snap{ctx: ctx, pg: tx}) })
	}
	return s.Read(ctx, func(c *sqlite3.Conn) error { return fn(&Snap{ctx: ctx, lite: c}) })
}
