package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// WriteLock is a store's writer lock, held from LockWriter to Release: one
// writer (sync, import, rescore, publish) at a time, while readers go on
// reading. On SQLite it is an OS lock on a file beside the store, which
// the OS releases when the process dies, so a kill -9 never leaves a
// stale lock; on PostgreSQL it is a session advisory lock on a connection
// of its own, which the server releases when that connection ends.
type WriteLock interface {
	Release() error
}

// Holder is who holds a writer lock, as the lock records it.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started"`
}

// BusyError says another process holds the writer lock.
type BusyError struct {
	Path   string
	Holder Holder // zero when the holder could not be read
}

func (e *BusyError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("another qvt process is writing %s", e.Path)
	}
	started := h.Started.Local()
	when := started.Format("15:04:05")
	if y, m, d := started.Date(); y != time.Now().Year() || m != time.Now().Month() || d != time.Now().Day() {
		when = started.Format("2006-01-02 15:04:05")
	}
	return fmt.Sprintf("another qvt %s (pid %d, started %s) is writing %s", h.Command, h.PID, when, e.Path)
}

// LockOptions say how LockWriter takes the lock.
type LockOptions struct {
	Command string // what the holder runs ("sync"), for the others' messages
	// Wait waits for the lock instead of returning a *BusyError at once.
	Wait bool
	// Waiting, if set, is called once when Wait finds the lock taken.
	Waiting func(*BusyError)
	// Via is, for a PostgreSQL store reached through a pooler in
	// transaction mode, the URL of the same database that the lock's own
	// connection takes instead: direct to the server or through a
	// session-mode pool (see lock_pg.go). "" uses the store's URL.
	Via string
}

// pollEvery is how often a waiting LockWriter tries again.
const pollEvery = 200 * time.Millisecond

// LockWriter takes the writer lock of the store at path: on SQLite an
// exclusive OS lock on path+".lock", which records the holder; on
// PostgreSQL (path a postgres:// URL) a session advisory lock keyed by
// the database and schema, whose connection's application_name records
// the holder. When
// another process holds it, it returns a *BusyError naming that process,
// or with opt.Wait waits until the lock is free or ctx ends.
func LockWriter(ctx context.Context, path string, opt LockOptions) (WriteLock, error) {
	if IsPostgres(path) {
		if opt.Via != "" && !IsPostgres(opt.Via) {
			return nil, fmt.Errorf("store: the writer lock's own route %s is not a postgres:// URL", Shown(opt.Via))
		}
		return lockPG(ctx, path, opt.Via, opt)
	}
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %s: writer lock: %w", path, err)
	}
	called := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("store: %s: writer lock: %w", name, err)
		}
		if ok {
			break
		}
		busy := &BusyError{Path: filepath.Clean(path), Holder: readHolder(f)}
		if !opt.Wait {
			f.Close()
			return nil, busy
		}
		if !called && opt.Waiting != nil {
			opt.Waiting(busy)
			called = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("store: waiting for the writer lock of %s: %w", path, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
	h := Holder{PID: os.Getpid(), Command: opt.Command, Started: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	// The record only serves the messages of others: failing to write it
	// does not stop the writer.
	return &fileLock{f: f}, nil
}

// readHolder reads the holder a lock file records; zero when it cannot.
func readHolder(f *os.File) Holder {
	var h Holder
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	if err == nil {
		json.Unmarshal(b, &h) //nolint:errcheck // a partial record reads as unknown
	}
	return h
}

type fileLock struct{ f *os.File }

// Release empties the record and lets the lock go. The file stays: a
// process waiting on it holds it open, and removing it would let a third
// take a lock on a new file beside the waiting one.
func (l *fileLock) Release() error {
	if l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
