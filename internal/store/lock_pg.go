package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// On PostgreSQL the writer lock is a session advisory lock, taken on a
// connection of its own (not one of the store's pool) that is held open
// until Release. A session lock lives exactly as long as the server
// session that took it, so:
//   - the pool may recycle its connections at will without losing it, and
//     transactions (pgWrite's xact lock) never release it;
//   - a writer that dies, however it dies, ends its session and with it
//     the lock: the server frees it when the connection closes, as the OS
//     frees a file lock;
//   - through a pooler in transaction mode (PgBouncer pool_mode =
//     transaction) the lock's client connection is not tied to one server
//     session, so the lock would be taken on one session and then belong
//     to whichever client the pooler hands that session next: that
//     connection must go directly to the server or through a session-mode
//     pool (LockOptions.Via, QVT_DB_LOCK).
//
// The holder is named by the lock connection's application_name, which
// every session can read in pg_stat_activity beside pg_locks.

// pgLockPrefix starts the application_name of a lock connection:
// "qvt-writer <pid> <unix start> <command>".
const pgLockPrefix = "qvt-writer "

type pgLock struct{ conn *pgx.Conn }

// Release closes the lock's session, which ends the lock with it.
func (l *pgLock) Release() error {
	if l.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Unlocking first says so at once even if closing the connection
	// lingers; closing alone would release it as well.
	_, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
	if cerr := l.conn.Close(ctx); err == nil {
		err = cerr
	}
	l.conn = nil
	if err != nil {
		return fmt.Errorf("store: releasing the writer lock: %w", err)
	}
	return nil
}

// pgLockKey is the advisory lock key of the store in database db, schema
// schema: two stores in two schemas of one database lock apart.
func pgLockKey(db, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("qvt writer\x00" + db + "\x00" + schema))
	return int64(h.Sum64())
}

// lockPG is LockWriter on the PostgreSQL store at loc. via, when set, is
// the URL the lock's own connection uses (a direct or session-mode route
// to the same database when loc goes through a transaction-mode pooler).
func lockPG(ctx context.Context, loc, via string, opt LockOptions) (WriteLock, error) {
	shown := Shown(loc)
	dial := loc
	if via != "" {
		dial = via
	}
	cfg, err := pgx.ParseConfig(dial)
	if err != nil {
		return nil, fmt.Errorf("store: %s: writer lock: not a valid PostgreSQL URL", Shown(dial))
	}
	started := time.Now().UTC().Truncate(time.Second)
	// application_name holds 63 bytes: pid and start first, the command
	// (ours are short words) last, where a cut would fall.
	name := fmt.Sprintf("%s%d %d %s", pgLockPrefix, os.Getpid(), started.Unix(), opt.Command)
	if len(name) > 63 {
		name = name[:63]
	}
	cfg.RuntimeParams["application_name"] = name
	// The lock is one statement, never a prepared one: a pooler in front
	// must not see statements it would have to track.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("store: %s: writer lock: %w", shown, redactErr(err, dial))
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close(context.Background())
		}
	}()
	// The session is idle for the whole run: a server that ends idle
	// sessions (idle_session_timeout, PostgreSQL 14 and later) would end
	// the lock with it. Older servers have no such setting.
	conn.Exec(ctx, "SET idle_session_timeout = 0") //nolint:errcheck // absent before PostgreSQL 14
	var db, schema string
	if err := conn.QueryRow(ctx, "SELECT current_database(), COALESCE(current_schema(), '')").Scan(&db, &schema); err != nil {
		return nil, fmt.Errorf("store: %s: writer lock: %w", shown, err)
	}
	if via != "" {
		// The lock's route must reach the store itself: another database
		// or schema would lock another key, and exclude nobody.
		sdb, sschema, err := pgWhere(ctx, loc)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", shown, err)
		}
		if sdb != db || sschema != schema {
			return nil, fmt.Errorf("store: the writer lock's route %s reaches database %s, schema %s; the store %s is in database %s, schema %s",
				Shown(via), db, schema, shown, sdb, sschema)
		}
	}
	key := pgLockKey(db, schema)
	called := false
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("store: waiting for the writer lock of %s: %w", shown, ctx.Err())
			}
			return nil, fmt.Errorf("store: %s: writer lock: %w", shown, err)
		}
		if got {
			break
		}
		busy := &BusyError{Path: shown, Holder: pgHolder(ctx, conn, key)}
		if !opt.Wait {
			return nil, busy
		}
		if !called && opt.Waiting != nil {
			opt.Waiting(busy)
			called = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("store: waiting for the writer lock of %s: %w", shown, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
	ok = true
	return &pgLock{conn: conn}, nil
}

// pgHolder reads who holds the advisory lock key from the holder's
// application_name; zero when it cannot (the holder is no qvt, or this
// role may not see its session).
func pgHolder(ctx context.Context, conn *pgx.Conn, key int64) Holder {
	u := uint64(key)
	var name *string
	err := conn.QueryRow(ctx, `SELECT a.application_name
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid
LIMIT 1`, int64(u>>32), int64(u&0xffffffff)).Scan(&name)
	if err != nil || name == nil {
		return Holder{}
	}
	return parseHolder(*name)
}

// parseHolder reads a lock connection's application_name.
func parseHolder(name string) Holder {
	rest, found := strings.CutPrefix(name, pgLockPrefix)
	if !found {
		return Holder{}
	}
	f := strings.SplitN(rest, " ", 3)
	if len(f) < 2 {
		return Holder{}
	}
	pid, err1 := strconv.Atoi(f[0])
	at, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Holder{}
	}
	h := Holder{PID: pid, Started: time.Unix(at, 0).UTC()}
	if len(f) == 3 {
		h.Command = f[2]
	}
	return h
}

// redactErr is err without the password of loc, should the driver quote
// the URL.
func redactErr(err error, loc string) error {
	msg := err.Error()
	clean := HidePassword(msg, loc)
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// HidePassword is msg with every occurrence of the password of the
// PostgreSQL URL loc masked, for messages that may quote the URL as given.
func HidePassword(msg, loc string) string {
	if !IsPostgres(loc) {
		return msg
	}
	u, err := url.Parse(loc)
	if err != nil {
		return msg
	}
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	if p := u.Query().Get("password"); p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

// pgWhere is the database and schema the URL loc reaches.
func pgWhere(ctx context.Context, loc string) (db, schema string, err error) {
	cfg, err := pgx.ParseConfig(loc)
	if err != nil {
		return "", "", errors.New("not a valid PostgreSQL URL")
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return "", "", redactErr(err, loc)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(cctx, "SELECT current_database(), COALESCE(current_schema(), '')").Scan(&db, &schema)
	return db, schema, err
}
