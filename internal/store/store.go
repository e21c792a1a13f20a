// Package store holds qvt's local store: the raw Qualys and NVD tables,
// the derived scores and finding fields, and the state of syncs, on one of
// two engines: SQLite (a file, the default) or PostgreSQL (a postgres://
// URL, for fleets too large for one machine's file). Load, pull, export,
// publish and web see Store, Tx and the row types only, never the engine.
//
// Both engines have the same tables, columns and schema version numbers
// (migrations/sqlite, migrations/postgres, applied by goose). Times are
// integer Unix seconds on both, not timestamptz: one set of queries
// serves both engines and integers bind and compare cheaply; the findings
// view spells them as RFC 3339 text. The SQL both share is written with ?
// parameters, which rebind turns into PostgreSQL's $N (pg.go); Store.DB is
// a database/sql handle that does the same.
//
// What is each engine's own:
//   - SQLite: Tx drives the connection directly (prepared statements
//     bound without database/sql's per-value boxing), and the findings
//     reader reads detections on one connection while a second, in the
//     same snapshot, loads KB entries (tx.go, hosts.go, findings.go).
//   - PostgreSQL: pgx natively. Writes (pg_write.go) COPY each batch into
//     temporary staging tables and apply it with set-based statements
//     that leave the same rows, revisions and history as SQLite's row by
//     row path; history comes from a trigger reading the transaction's
//     qvt.now setting. Write transactions are serial per store (an
//     advisory transaction lock), as SQLite's are. Readers take
//     REPEATABLE READ snapshots and stream through server-side cursors
//     (pg_read.go). The writer lock of a run is a session advisory lock
//     on a connection of its own (lock_pg.go).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

// cacheSize is each connection's page cache: 16 MB.
const cacheSize = "-16384"

// busyTimeout is how long a connection waits for another's lock.
const busyTimeout = 30 * time.Second

// Store is an open store.
type Store struct {
	db   *sql.DB // reads; on PostgreSQL over pg, with rebind
	pg   *pgxpool.Pool
	path string // as shown: a PostgreSQL URL without its password
	// analyze keeps PostgreSQL's statistics up with large writes.
	analyze pgAnalyzer
}

// ErrNoStore is what OpenWith returns when no store exists at the path
// and it was not asked to create one.
var ErrNoStore = errors.New("no store")

// Options say how OpenWith treats the path.
type Options struct {
	// Create lets OpenWith create a missing store. Without it a missing
	// (or empty) file is ErrNoStore, and nothing is created: no file, no
	// WAL.
	Create bool
	// Maker is who creates the store ("sync", "import", "demo"), recorded
	// with the time and qvt's version when OpenWith creates it.
	Maker string
	// Writer says the caller holds the writer lock (LockWriter), so it may
	// finish what a writer that died left undone (deferred indexes). A
	// reader leaves that alone: the writer may still be running.
	Writer bool
}

// Open opens (creating it if needed) the SQLite store at path and brings
// its schema up to date, as a writer: OpenWith with Create and Writer.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{Create: true, Writer: true})
}

// Exists tells whether a store exists at path: a file that is not empty
// (SQLite would take an empty file for an empty database).
func Exists(path string) (bool, error) {
	if IsPostgres(path) {
		return pgExists(path)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	if fi.IsDir() {
		return false, fmt.Errorf("store: %s is a directory", path)
	}
	return fi.Size() > 0, nil
}

// OpenWith opens the SQLite store at path as opt says and brings its
// schema up to date.
func OpenWith(ctx context.Context, path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: no database path")
	}
	if IsPostgres(path) {
		return openPG(ctx, path, opt)
	}
	if dir := filepath.Dir(path); dir != "." {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("store: %s: %w", path, err)
		}
	}
	exists, err := Exists(path)
	if err != nil {
		return nil, err
	}
	if !exists {
		if !opt.Create {
			return nil, fmt.Errorf("store: %s: %w", path, ErrNoStore)
		}
		// The store is the inventory of what is exploitable: owner only.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		f.Close()
	}
	// WAL lets the dashboard read while a sync writes; NORMAL syncs only at
	// checkpoints, which is safe in WAL mode (a power cut may lose the last
	// commit, never corrupt the file).
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		// SQLite must not create a missing file: that would be an empty store.
		"?mode=rw" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")&_pragma=page_size(16384)&_pragma=journal_mode(wal)&_pragma=synchronous(normal)" +
		"&_pragma=foreign_keys(off)&_pragma=cache_size(" + cacheSize + ")"
	db, err := driver.Open(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Each connection is an SQLite instance with its own page cache and
	// memory, which grows to its largest need and stays: few of them keep
	// memory flat. Two idle ones serve a writer and a reader.
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	s := &Store{db: db, path: path}
	if err := s.checkPragmas(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if !exists {
		if err := s.recordOrigin(ctx, opt.Maker); err != nil {
			db.Close()
			return nil, err
		}
	}
	// A first sync that died midway left its indexes unbuilt.
	if opt.Writer {
		if err := s.BuildIndexes(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: %s: building indexes: %w", path, err)
		}
	}
	return s, nil
}

// checkPragmas reads back the settings that matter: SQLite ignores a
// PRAGMA it cannot apply without saying so.
func (s *Store) checkPragmas(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: %s: journal mode is %q, want WAL (is the file on a network file system?)", s.path, mode)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, fsys)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: %s: migrating the schema: %w", s.path, err)
	}
	return nil
}

// DB is the database handle for reads.
func (s *Store) DB() *sql.DB { return s.db }

// Path is where the store lives.
func (s *Store) Path() string { return s.path }

// Close closes the store.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.pg != nil {
		s.pg.Close()
	}
	return err
}

// Meta reads a value of the meta table; "" when absent.
func (s *Store) Meta(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// Read runs fn inside one read transaction (one snapshot of the store) on
// one of its connections, with the driver's own statements: readers that
// step through millions of rows pay several times more through
// database/sql's per-value boxing. fn must close the statements it
// prepares before it returns.
func (s *Store) Read(ctx context.Context, fn func(c *sqlite3.Conn) error) error {
	return s.conn(ctx, func(c *sqlite3.Conn) error {
		old := c.SetInterrupt(ctx)
		defer c.SetInterrupt(old)
		if err := c.Exec("BEGIN"); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		err := fn(c)
		// End the snapshot even when ctx is cancelled: a transaction left
		// open would break the next user of this pooled connection.
		c.SetInterrupt(context.Background())
		if cerr := c.Exec("COMMIT"); cerr != nil && err == nil {
			err = fmt.Errorf("store: %w", cerr)
		}
		return err
	})
}

// conn runs fn on one of the pool's connections, as the driver's own.
func (s *Store) conn(ctx context.Context, fn func(c *sqlite3.Conn) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return fn(dc.(driver.Conn).Raw()) })
}

// readPair is Read with a second connection in the same snapshot, so that
// two goroutines can read one consistent store at once. To start both
// snapshots at one point of the store's history it holds the write lock
// for that moment; if a writer holds it (a long import), it does not
// wait: fn gets a nil second connection and reads on one.
func (s *Store) readPair(ctx context.Context, fn func(a, b *sqlite3.Conn) error) error {
	if m := s.db.Stats().MaxOpenConnections; m != 0 && m < 3 {
		// A pool this small could not give the two more connections
		// while the first is held.
		return s.Read(ctx, func(a *sqlite3.Conn) error { return fn(a, nil) })
	}
	return s.Read(ctx, func(a *sqlite3.Conn) error {
		return s.conn(ctx, func(b *sqlite3.Conn) error {
			// The locking connection goes back to the pool once both
			// snapshots have started.
			var ok bool
			err := s.conn(ctx, func(l *sqlite3.Conn) (err error) {
				ok, err = startPair(l, a, b)
				return err
			})
			if err != nil {
				return err
			}
			if !ok {
				return fn(a, nil)
			}
			old := b.SetInterrupt(ctx)
			defer b.SetInterrupt(old)
			err = fn(a, b)
			b.SetInterrupt(context.Background())
			if cerr := b.Exec("COMMIT"); cerr != nil && err == nil {
				err = fmt.Errorf("store: %w", cerr)
			}
			return err
		})
	})
}

// startPair starts the snapshots of a (in a transaction already) and b
// while l holds the write lock, so that no commit falls between them. It
// reports false, having started nothing on b, when the lock is taken.
func startPair(l, a, b *sqlite3.Conn) (bool, error) {
	l.BusyTimeout(0)
	defer l.BusyTimeout(busyTimeout)
	if err := l.Exec("BEGIN IMMEDIATE"); err != nil {
		if errors.Is(err, sqlite3.BUSY) {
			return false, nil
		}
		return false, fmt.Errorf("store: %w", err)
	}
	defer l.Exec("ROLLBACK")
	// A WAL snapshot starts at a transaction's first read.
	if err := a.Exec("SELECT 1 FROM meta LIMIT 1"); err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	if err := b.Exec("BEGIN; SELECT 1 FROM meta LIMIT 1"); err != nil {
		b.Exec("ROLLBACK")
		return false, fmt.Errorf("store: %w", err)
	}
	return true, nil
}

// BeginRead starts a read-only transaction on DB() that is one snapshot
// of the store: on PostgreSQL REPEATABLE READ (its default, READ
// COMMITTED, would let each statement see a later store); on SQLite a
// read transaction of WAL mode, which is a snapshot from its first read
// (the driver takes no other isolation level).
func (s *Store) BeginRead(ctx context.Context) (*sql.Tx, error) {
	opt := &sql.TxOptions{ReadOnly: true}
	if s.pg != nil {
		opt.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return tx, nil
}
