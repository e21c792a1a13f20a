package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"qvt/internal/store/storetest"
)

// On PostgreSQL, as on SQLite: one writer at a time, the second is told
// who holds the store (its pid, command and start, read from the lock
// session's application_name), waiting ends when the first releases, and
// a store in another schema of the same database is locked apart.
func TestLockWriterPostgres(t *testing.T) {
	ctx := context.Background()
	loc := storetest.Postgres(t)
	first, err := LockWriter(ctx, loc, LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockWriter(ctx, loc, LockOptions{Command: "import"})
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second writer: %v, want a BusyError", err)
	}
	want := fmt.Sprintf("another qvt sync (pid %d, started %s) is writing %s", os.Getpid(), busy.Holder.Started.Local().Format("15:04:05"), Shown(loc))
	if err.Error() != want || time.Since(busy.Holder.Started) > time.Minute {
		t.Errorf("second writer: %q, want %q", err, want)
	}
	other, err := LockWriter(ctx, storetest.Postgres(t), LockOptions{Command: "sync"})
	if err != nil {
		t.Fatalf("the store of another schema: %v", err)
	}
	other.Release()

	waitsForRelease(t, ctx, loc, first)
	held, err := LockWriter(ctx, loc, LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 3*pollEvery)
	defer cancel()
	if _, err := LockWriter(cctx, loc, LockOptions{Wait: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the context: %v", err)
	}

	// The store's own pool, however it recycles its connections and
	// whatever its transactions do, neither takes nor frees the lock.
	st, err := OpenWith(ctx, loc, Options{Create: true, Maker: "sync", Writer: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := st.Write(ctx, func(tx *Tx) error { return tx.SetMeta("probe", "x") }); err != nil {
			t.Fatal(err)
		}
	}
	st.pg.Reset() // every pooled connection closed
	st.Close()
	if _, err := LockWriter(ctx, loc, LockOptions{Command: "import"}); !errors.As(err, &busy) {
		t.Fatalf("after the pool's connections closed: %v, want the lock still held", err)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if err := held.Release(); err != nil {
		t.Errorf("a second release: %v", err)
	}
}

// A writer killed with -9 leaves no stale lock on PostgreSQL either: its
// session ends with its connection, and the lock with it.
func TestLockWriterPostgresDiesWithItsProcess(t *testing.T) {
	loc := storetest.Postgres(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+loc)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper: %q", line)
	}
	_, err = LockWriter(context.Background(), loc, LockOptions{Command: "sync"})
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Holder.PID != cmd.Process.Pid || busy.Holder.Command != "sync" {
		t.Fatalf("while the helper holds the lock: %v, want pid %d named", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	// The server notices the closed socket at once; a moment's grace for
	// the backend to exit.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := LockWriter(ctx, loc, LockOptions{Command: "sync", Wait: true})
	if err != nil {
		t.Fatalf("after kill -9 of the holder: %v", err)
	}
	l.Release()
}

// The holder's record survives a command too long for application_name,
// and a session that is not qvt's names nobody.
func TestParseHolder(t *testing.T) {
	h := parseHolder("qvt-writer 4242 1700000000 sync")
	if h.PID != 4242 || h.Command != "sync" || h.Started.Unix() != 1700000000 {
		t.Errorf("parsed %+v", h)
	}
	if h := parseHolder("psql"); h.PID != 0 {
		t.Errorf("psql parsed as %+v", h)
	}
}

// A password in the URL appears in no message of the lock.
func TestLockWriterPostgresHidesPassword(t *testing.T) {
	loc := storetest.Postgres(t)
	withPass := strings.Replace(loc, "postgres@", "postgres:s3cretPassw0rd@", 1)
	if withPass == loc {
		t.Skip("the test server's URL has no user to add a password to")
	}
	l, err := LockWriter(context.Background(), withPass, LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err) // trust authentication ignores the password
	}
	defer l.Release()
	_, err = LockWriter(context.Background(), withPass, LockOptions{Command: "sync"})
	if err == nil || strings.Contains(err.Error(), "s3cretPassw0rd") {
		t.Errorf("busy: %v", err)
	}
	bad := strings.Replace(withPass, "127.0.0.1:5432", "127.0.0.1:1", 1)
	_, err = LockWriter(context.Background(), bad, LockOptions{Command: "sync"})
	if err == nil || strings.Contains(err.Error(), "s3cretPassw0rd") {
		t.Errorf("unreachable: %v", err)
	}
}
