package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// IsPostgres tells whether a store location names a PostgreSQL database
// (a postgres:// or postgresql:// URL) rather than an SQLite file.
func IsPostgres(loc string) bool {
	return strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://")
}

// Shown is a store location as qvt prints it: a PostgreSQL URL without
// its password, an SQLite path as it is.
func Shown(loc string) string {
	if !IsPostgres(loc) {
		return loc
	}
	u, err := url.Parse(loc)
	if err != nil {
		// Too malformed to parse is too malformed to show: it may hold
		// the password anywhere.
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Engine names the store's database engine: "sqlite" or "postgres".
func (s *Store) Engine() string {
	if s.pg != nil {
		return "postgres"
	}
	return "sqlite"
}

// writeLockKey is the transaction-level advisory lock every write
// transaction on PostgreSQL takes first: writes are serial, as SQLite's
// BEGIN IMMEDIATE makes them, so the revision counter and the history's
// order mean the same on both engines.
const writeLockKey = 0x71767477 // "qvtw"

// openPG opens the PostgreSQL store at the URL loc and brings its schema up
// to date. A database with no qvt schema is no store unless opt.Create.
func openPG(ctx context.Context, loc string, opt Options) (*Store, error) {
	shown := Shown(loc)
	cfg, err := pgxpool.ParseConfig(loc)
	if err != nil {
		// pgx's message may quote the URL: say only where it failed.
		return nil, fmt.Errorf("store: %s: not a valid PostgreSQL URL", shown)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "qvt"
	// Times are Unix seconds in integer columns; the session's time zone
	// matters only to the findings view's text times, which are UTC.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// A qvt killed mid-statement leaves its query running on the server,
	// holding its locks, until the server notices the connection is gone:
	// have it check while it works.
	cfg.ConnConfig.RuntimeParams["client_connection_check_interval"] = "10s"
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	cfg.MaxConnIdleTime = time.Minute
	connectCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(connectCtx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	if err := pool.Ping(connectCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	s := &Store{pg: pool, path: shown, db: sql.OpenDB(rebindConnector{stdlib.GetPoolConnector(pool)})}
	exists, err := pgHasStore(ctx, pool)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	if !exists && !opt.Create {
		s.Close()
		return nil, fmt.Errorf("store: %s: %w", shown, ErrNoStore)
	}
	if err := s.migratePG(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if !exists {
		if err := s.recordOrigin(ctx, opt.Maker); err != nil {
			s.Close()
			return nil, err
		}
	}
	// A first load that died midway left its indexes unbuilt.
	if opt.Writer {
		if err := s.BuildIndexes(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: %s: building indexes: %w", shown, err)
		}
	}
	return s, nil
}

// pgHasStore tells whether the database holds a qvt store: its meta table
// with a row in it.
func pgHasStore(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var reg *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('meta')::text").Scan(&reg); err != nil {
		return false, err
	}
	if reg == nil {
		return false, nil
	}
	var n bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM meta)").Scan(&n); err != nil {
		return false, err
	}
	return n, nil
}

// pgExists tells whether the PostgreSQL database at loc holds a qvt store.
func pgExists(loc string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(loc)
	if err != nil {
		return false, fmt.Errorf("store: %s: not a valid PostgreSQL URL", Shown(loc))
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", Shown(loc), err)
	}
	defer pool.Close()
	ok, err := pgHasStore(ctx, pool)
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", Shown(loc), err)
	}
	return ok, nil
}

func (s *Store) migratePG(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations/postgres")
	if err != nil {
		return err
	}
	// Two qvt processes starting on a new database must not both create
	// the schema: goose holds a session advisory lock while it migrates.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pg)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: %s: migrating the schema: %w", s.path, err)
	}
	return nil
}

// pgWrite is Write on PostgreSQL: one transaction, serial with every other
// write transaction on the store (see writeLockKey).
func (s *Store) pgWrite(ctx context.Context, fn func(*Tx) error) (err error) {
	conn, err := s.pg.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Release()
	ptx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			// The rollback must run even when ctx is cancelled.
			if rerr := ptx.Rollback(context.Background()); rerr != nil && err == nil && !errors.Is(rerr, pgx.ErrTxClosed) {
				err = fmt.Errorf("store: rollback: %w", rerr)
			}
		}
	}()
	// Keyed by the schema too: the stores in two schemas of one database
	// write independently.
	//
	// Every statement of a write is planned for its own execution
	// (force_custom_plan): pgx prepares the statements it runs again, and
	// PostgreSQL keeps a generic plan once it has made five custom ones:
	// made for a first import's nearly empty tables, it reads them whole.
	// Samples of the server's activity during an import of ten million
	// detections found it mostly in each batch's lookup of its hosts and
	// deletion of their tags, a cost that grew with every batch.
	if _, err := ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema())), set_config('plan_cache_mode', 'force_custom_plan', true)", int32(writeLockKey)); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{ctx: ctx, pg: ptx, checkedBulk: true}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.pgFlush(); err != nil {
		return err
	}
	if err := tx.saveRev(); err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	conn.Release()
	s.analyze.wrote(ctx, s.pg, tx.Stats)
	return nil
}

// pgRead runs fn in one REPEATABLE READ, read-only transaction: one
// snapshot of the store, however long fn reads, while writers go on.
func (s *Store) pgRead(ctx context.Context, fn func(pgx.Tx) error) error {
	conn, err := s.pg.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Release()
	ptx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer ptx.Rollback(context.Background())
	if err := fn(ptx); err != nil {
		return err
	}
	return ptx.Commit(ctx)
}

// rebind turns the ? and ?NNN parameters of the SQL qvt shares between
// engines into PostgreSQL's $N. Quoted text and identifiers are left
// alone.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var sb strings.Builder
	sb.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			sb.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			sb.WriteByte(c)
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			sb.WriteByte('$')
			if j > i+1 {
				sb.WriteString(q[i+1 : j])
			} else {
				n++
				fmt.Fprintf(&sb, "%d", n)
			}
			i = j - 1
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// rebindConnector serves database/sql over the pool with rebind applied
// to every statement, so that the store's and the dashboard's shared SQL
// runs on PostgreSQL as written.
type rebindConnector struct{ inner driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

func (c rebindConnector) Driver() driver.Driver { return c.inner.Driver() }

type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(q string) (driver.Stmt, error) { return c.Conn.Prepare(rebind(q)) }

func (c *rebindConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(q))
}

func (c *rebindConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(q), args)
}

func (c *rebindConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(q), args)
}
