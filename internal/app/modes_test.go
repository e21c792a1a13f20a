//go:build unix

package app

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"qvt/internal/store"
)

// The store, its WAL and shared memory, exports and generated files are
// the owner's only, whatever the umask qvt starts with.
func TestFilesAreOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	syscall.Umask(0o022)
	db := filepath.Join(dir, "qvt.db")
	importWorked(t, db)
	out := filepath.Join(dir, "open.csv")
	mustRun(t, "--db", db, "export", "--format", "csv", "-o", out)
	gdir := filepath.Join(dir, "gen", "set")
	mustRun(t, "gen", "-o", gdir, "--hosts", "2", "--qids", "20", "--cves", "20")
	// A reader holds the store open: its WAL and shared memory exist.
	st, err := store.OpenWith(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Summarize(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		db: 0o600, db + "-wal": 0o600, db + "-shm": 0o600, db + ".lock": 0o600, out: 0o600,
		gdir: 0o700 | os.ModeDir, filepath.Join(dir, "gen"): 0o700 | os.ModeDir,
		filepath.Join(gdir, "kb.xml"): 0o600, filepath.Join(gdir, "detections.xml"): 0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", filepath.Base(path), fi.Mode(), mode)
		}
	}
}
