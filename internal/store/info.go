package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/ncruces/go-sqlite3/driver"
)

// Info is what qvt store info says of a store.
type Info struct {
	Location string `json:"location"` // as shown: no password
	Engine   string `json:"engine"`   // "sqlite" or "postgres"
	Version  string `json:"version"`  // the engine's version
	// Schema is the store's schema version (its last migration applied);
	// Latest the last this qvt knows.
	Schema int64 `json:"schema"`
	Latest int64 `json:"latest_schema"`
	// Bytes is the store's size: on SQLite the file and its write-ahead
	// log (WALBytes), on PostgreSQL the sum of its tables with their
	// indexes and TOAST.
	Bytes    int64       `json:"bytes"`
	WALBytes int64       `json:"wal_bytes,omitempty"`
	Tables   []TableInfo `json:"tables"`
	// Autovacuum is the PostgreSQL server's autovacuum setting (nil on
	// SQLite): off, only qvt's own ANALYZE after large writes keeps the
	// statistics, and nothing marks pages all-visible for index-only scans.
	Autovacuum *bool `json:"autovacuum,omitempty"`
}

// TableInfo is one table of a store.
type TableInfo struct {
	Name  string `json:"name"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes,omitempty"` // PostgreSQL only: pg_total_relation_size
}

// ReadInfo reads the Info of the store at loc without changing it: no
// schema upgrade, nothing created. All its counts come from one snapshot.
func ReadInfo(ctx context.Context, loc string) (*Info, error) {
	s, err := openReadOnly(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	in := &Info{Location: s.path, Engine: s.Engine()}
	if in.Latest, err = latestMigration(); err != nil {
		return nil, err
	}
	err = s.Snapshot(ctx, func(q *Snap) error {
		vq := "SELECT sqlite_version()"
		if q.pg != nil {
			vq = "SELECT current_setting('server_version')"
		}
		if err := q.Each(vq, nil, func(c Cols) error { in.Version = c.ColumnText(0); return nil }); err != nil {
			return err
		}
		if q.pg != nil {
			err := q.Each("SELECT (current_setting('autovacuum') = 'on')::int", nil, func(c Cols) error {
				on := c.ColumnInt64(0) == 1
				in.Autovacuum = &on
				return nil
			})
			if err != nil {
				return err
			}
		}
		var err error
		if in.Schema, err = schemaVersion(q); err != nil {
			return err
		}
		names, err := storeTables(q)
		if err != nil {
			return err
		}
		for _, name := range names {
			t := TableInfo{Name: name}
			if err := q.Each("SELECT count(*) FROM "+quoteIdent(name), nil, func(c Cols) error { t.Rows = c.ColumnInt64(0); return nil }); err != nil {
				return fmt.Errorf("counting %s: %w", name, err)
			}
			if q.pg != nil {
				if err := q.Each("SELECT pg_total_relation_size(to_regclass(?))", []any{quoteIdent(name)}, func(c Cols) error { t.Bytes = c.ColumnInt64(0); return nil }); err != nil {
					return fmt.Errorf("the size of %s: %w", name, err)
				}
				in.Bytes += t.Bytes
			}
			in.Tables = append(in.Tables, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", s.path, err)
	}
	if s.pg == nil {
		fi, err := os.Stat(loc)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		in.Bytes = fi.Size()
		if wal, err := os.Stat(loc + "-wal"); err == nil {
			in.WALBytes = wal.Size()
			in.Bytes += wal.Size()
		}
	}
	return in, nil
}

// openReadOnly opens the existing store at loc for reading only: no
// schema upgrade, no store created, on SQLite a read-only connection.
func openReadOnly(ctx context.Context, loc string) (*Store, error) {
	if loc == "" {
		return nil, errors.New("store: no database path")
	}
	if IsPostgres(loc) {
		return openPGReadOnly(ctx, loc)
	}
	ok, err := Exists(loc)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("store: %s: %w", loc, ErrNoStore)
	}
	// mode=ro: SQLite neither creates the file nor writes to it; the WAL
	// is read as any reader reads it, so a writer may go on meanwhile.
	db, err := driver.Open("file:" + (&url.URL{Path: loc}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("store: open %s read-only: %w", loc, err)
	}
	db.SetMaxIdleConns(2)
	s := &Store{db: db, path: loc}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'goose_db_version')").Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s is not a qvt store: %w", loc, err)
	}
	if n != 2 {
		db.Close()
		return nil, fmt.Errorf("store: %s is an SQLite database but not a qvt store", loc)
	}
	return s, nil
}

func openPGReadOnly(ctx context.Context, loc string) (*Store, error) {
	shown := Shown(loc)
	cfg, err := pgxpool.ParseConfig(loc)
	if err != nil {
		return nil, fmt.Errorf("store: %s: not a valid PostgreSQL URL", shown)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "qvt"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	cfg.MaxConns = 4
	connectCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(connectCtx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", shown, redactErr(err, loc))
	}
	if err := pool.Ping(connectCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, redactErr(err, loc))
	}
	s := &Store{pg: pool, path: shown, db: sql.OpenDB(rebindConnector{stdlib.GetPoolConnector(pool)})}
	ok, err := pgHasStore(ctx, pool)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	if !ok {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, ErrNoStore)
	}
	return s, nil
}

// schemaVersion is the last migration goose applied to the store.
func schemaVersion(q *Snap) (int64, error) {
	var v int64
	err := q.Each("SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied", nil, func(c Cols) error {
		v = c.ColumnInt64(0)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("no schema version: %w", err)
	}
	return v, nil
}

// eacher is what runs a query for the catalogue readers: a snapshot or a
// write transaction.
type eacher interface {
	Each(query string, args []any, fn func(Cols) error) error
	Engine() string
}

// txEacher is a write transaction as an eacher.
type txEacher struct{ tx *Tx }

func (e txEacher) Each(query string, args []any, fn func(Cols) error) error {
	return e.tx.query(query, fn, args...)
}

func (e txEacher) Engine() string {
	if e.tx.pg != nil {
		return "postgres"
	}
	return "sqlite"
}

// storeTables lists the store's tables, by name: every table of the
// schema but goose's own record of migrations.
func storeTables(q eacher) ([]string, error) {
	query := `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version'`
	if q.Engine() == "postgres" {
		query = `SELECT table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`
	}
	var names []string
	err := q.Each(query, nil, func(c Cols) error { names = append(names, c.ColumnText(0)); return nil })
	if err != nil {
		return nil, fmt.Errorf("listing the tables: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

// column is a table's column with the kind of value it holds: 'i'
// integer, 'f' floating point, 't' text.
type column struct {
	name string
	kind byte
}

// tableColumns lists a table's columns in their order.
func tableColumns(q eacher, table string) ([]column, error) {
	query := "SELECT name, type FROM pragma_table_info(?) ORDER BY cid"
	if q.Engine() == "postgres" {
		query = `SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
	}
	var cols []column
	err := q.Each(query, []any{table}, func(c Cols) error {
		t := strings.ToLower(c.ColumnText(1))
		k := byte('t')
		switch {
		case strings.Contains(t, "int"):
			k = 'i'
		case strings.Contains(t, "real"), strings.Contains(t, "double"), strings.Contains(t, "float"), strings.Contains(t, "numeric"):
			k = 'f'
		}
		cols = append(cols, column{name: c.ColumnText(0), kind: k})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the columns of %s: %w", table, err)
	}
	return cols, nil
}

// quoteIdent quotes a table or column name for both engines.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
