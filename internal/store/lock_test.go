package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The second writer is refused at once with the first one's pid, command
// and start; once the first releases, it gets the lock.
func TestLockWriterOneAtATime(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "qvt.db")
	first, err := LockWriter(ctx, db, LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockWriter(ctx, db, LockOptions{Command: "import"})
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second writer: %v, want a BusyError", err)
	}
	want := fmt.Sprintf("another qvt sync (pid %d, started %s) is writing %s", os.Getpid(), busy.Holder.Started.Local().Format("15:04:05"), db)
	if err.Error() != want || time.Since(busy.Holder.Started) > time.Minute {
		t.Errorf("second writer: %q, want %q", err, want)
	}
	// Waiting ends when the first releases.
	waitsForRelease(t, ctx, db, first)
	// Waiting ends with the context too.
	held, err := LockWriter(ctx, db, LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	cctx, cancel := context.WithTimeout(ctx, 3*pollEvery)
	defer cancel()
	if _, err := LockWriter(cctx, db, LockOptions{Wait: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the context: %v", err)
	}
}

// lockHelperEnv makes the test binary a process that holds the lock of
// the store it names until killed.
const lockHelperEnv = "QVT_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if db := os.Getenv(lockHelperEnv); db != "" {
		if _, err := LockWriter(context.Background(), db, LockOptions{Command: "sync"}); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A writer killed with -9 leaves no stale lock.
func TestLockWriterDiesWithItsProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+db)
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
	_, err = LockWriter(context.Background(), db, LockOptions{Command: "sync"})
	var busy *BusyError
	if !errors.As(err, &busy) || busy.Holder.PID != cmd.Process.Pid {
		t.Fatalf("while the helper holds the lock: %v, want pid %d named", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := LockWriter(context.Background(), db, LockOptions{Command: "sync"})
	if err != nil {
		t.Fatalf("after kill -9 of the holder: %v", err)
	}
	l.Release()
}

// Opening for reading never creates a store; opening to create records
// who made it.
func TestOpenCreatesOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "qvt.db")
	if _, err := OpenWith(ctx, db, Options{}); !errors.Is(err, ErrNoStore) {
		t.Fatalf("opening a missing store: %v, want ErrNoStore", err)
	}
	if _, err := ReadOrigin(ctx, db); !errors.Is(err, ErrNoStore) {
		t.Fatalf("the origin of a missing store: %v, want ErrNoStore", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("opening a missing store left %v", ents)
	}
	st, err := OpenWith(ctx, db, Options{Create: true, Maker: "import"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	o, err := ReadOrigin(ctx, db)
	if err != nil || o.By != "import" || time.Since(o.At) > time.Minute || o.Version == "" {
		t.Errorf("origin %+v, %v", o, err)
	}
	// Opening it again, as any maker, keeps the first.
	st, err = OpenWith(ctx, db, Options{Create: true, Maker: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if o, err := st.Origin(ctx); err != nil || o.By != "import" {
		t.Errorf("origin after reopening %+v, %v", o, err)
	}
	st.Close()
	if err := os.WriteFile(filepath.Join(dir, "text.db"), []byte("not a database, not at all, no\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOrigin(ctx, filepath.Join(dir, "text.db")); err == nil || !strings.Contains(err.Error(), "is not a qvt store") {
		t.Errorf("the origin of a text file: %v", err)
	}
}

// A reader opens the store and reads while a writer is inside its
// transaction: opening migrates nothing and waits for nobody.
func TestReaderOpensDuringAWrite(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "qvt.db")
	w, err := OpenWith(ctx, db, Options{Create: true, Maker: "sync", Writer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- w.Write(ctx, func(tx *Tx) error {
			if err := tx.SetMeta("probe", "1"); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	start := time.Now()
	r, err := OpenWith(ctx, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Summarize(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the reader took %s beside a writer", d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// waitsForRelease checks that a writer waiting (--wait) for the lock of
// loc, which first holds, waits, then goes ahead once first releases it.
func waitsForRelease(t *testing.T, ctx context.Context, loc string, first WriteLock) {
	t.Helper()
	waited := make(chan error, 1)
	var called bool
	go func() {
		l, err := LockWriter(ctx, loc, LockOptions{Command: "rescore", Wait: true, Waiting: func(*BusyError) { called = true }})
		if err == nil {
			err = l.Release()
		}
		waited <- err
	}()
	select {
	case err := <-waited:
		t.Fatalf("the waiting writer went ahead while the lock was held: %v", err)
	case <-time.After(3 * pollEvery):
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if err != nil || !called {
			t.Fatalf("waiting writer: %v (told it waits: %v)", err, called)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting writer never got the lock")
	}
}
