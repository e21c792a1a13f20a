package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	redactpkg "qvt/internal/redact"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// pgPassword is the password the tests put in store URLs: the test
// server trusts its users and ignores it, and no output may show it.
const pgPassword = "Pg-s3cret-pw"

// withPassword is the PostgreSQL URL loc with pgPassword in it.
func withPassword(t *testing.T, loc string) string {
	t.Helper()
	u := strings.Replace(loc, "postgres://postgres@", "postgres://postgres:"+pgPassword+"@", 1)
	if u == loc {
		t.Skip("the test server's URL names no user to give a password")
	}
	return u
}

// A store URL's password appears in no output of qvt, whether the
// command succeeds or fails, and wherever the location is named: errors,
// summaries, the lock's message, the doctor's report, the logs.
func TestPostgresPasswordNeverShown(t *testing.T) {
	pg := withPassword(t, storetest.Postgres(t))
	bad := strings.Replace(pg, "127.0.0.1:5432", "127.0.0.1:1", 1)
	a := filepath.Join(t.TempDir(), "a.db")
	importWorked(t, a)
	shown := store.Shown(pg)
	if strings.Contains(shown, pgPassword) || !strings.Contains(shown, "postgres:xxxxx@") {
		t.Fatalf("Shown: %s", shown)
	}
	type run struct {
		args []string
		env  map[string]string
		code int
		want string // in stdout or stderr
	}
	dbEnv := map[string]string{"QVT_DB": pg}
	runs := []run{
		{args: []string{"-v", "export"}, env: dbEnv, code: 1, want: "no store at " + shown},
		{args: []string{"--db", pg, "store", "info"}, code: 1, want: "no store at " + shown},
		{args: []string{"doctor"}, env: dbEnv, code: -1, want: "no store at " + shown},
		{args: []string{"store", "copy", "--from", a, "--to", pg}, code: 0, want: "to " + shown},
		{args: []string{"-v", "store", "copy", "--from", a, "--to", pg}, code: 1, want: "holds data"},
		{args: []string{"store", "copy", "--from", pg, "--to", filepath.Join(t.TempDir(), "b.db")}, code: 0, want: "from " + shown},
		{args: []string{"store", "info"}, env: dbEnv, code: 0, want: "store:   " + shown},
		{args: []string{"store", "info", "--json"}, env: dbEnv, code: 0, want: `"location": "postgres://postgres:xxxxx@127.0.0.1:5432/`},
		{args: []string{"doctor"}, env: dbEnv, code: -1, want: "db = " + shown},
		{args: []string{"--db", bad, "export"}, code: 1, want: "127.0.0.1:1"},
		{args: []string{"--db", bad, "store", "info"}, code: 1, want: "127.0.0.1:1"},
		{args: []string{"--db", bad, "rescore"}, code: 1, want: "127.0.0.1:1"},
		{args: []string{"store", "copy", "--from", bad, "--to", filepath.Join(t.TempDir(), "c.db")}, code: 1, want: "127.0.0.1:1"},
		{args: []string{"store", "copy", "--from", a, "--to", bad}, code: 1, want: "127.0.0.1:1"},
	}
	for _, r := range runs {
		code, out, errs := qvt(t, r.env, r.args...)
		// Errors pass through the redaction, which marks a URL's password
		// its own way.
		all := strings.ReplaceAll(out+errs, redactpkg.Mark, "xxxxx")
		if r.code >= 0 && code != r.code {
			t.Errorf("qvt %v: exit %d, want %d\n%s", r.args, code, r.code, all)
		}
		if !strings.Contains(all, r.want) {
			t.Errorf("qvt %v: no %q in\n%s", r.args, r.want, all)
		}
		if strings.Contains(all, pgPassword) {
			t.Errorf("qvt %v shows the password:\n%s", r.args, all)
		}
	}
	// A writer refused while another holds the store names the holder and
	// the store, without the password.
	l, err := store.LockWriter(context.Background(), pg, store.LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	code, out, errs := qvt(t, dbEnv, "rescore")
	errs = strings.ReplaceAll(errs, redactpkg.Mark, "xxxxx")
	want := fmt.Sprintf("qvt: another qvt sync (pid %d, started ", os.Getpid())
	if code != 1 || !strings.HasPrefix(errs, want) || !strings.HasSuffix(errs, ") is writing "+shown+"\n") {
		t.Errorf("rescore while the store is locked: exit %d, %q", code, errs)
	}
	if strings.Contains(out+errs, pgPassword) {
		t.Errorf("the lock's message shows the password: %s", errs)
	}
}

// The writer lock of a PostgreSQL store can take its own route: a store
// reached through a pooler in transaction mode locks over QVT_DB_LOCK,
// and a writer on the store's URL is refused while a writer holds it
// over the other route.
func TestPostgresLockRoute(t *testing.T) {
	pg := storetest.Postgres(t)
	a := filepath.Join(t.TempDir(), "a.db")
	importWorked(t, a)
	mustRun(t, "store", "copy", "--from", a, "--to", pg)
	// Another spelling of the same database and schema stands for the
	// direct route.
	direct := strings.Replace(pg, "127.0.0.1", "localhost", 1)
	l, err := store.LockWriter(context.Background(), direct, store.LockOptions{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := qvt(t, map[string]string{"QVT_DB": pg, "QVT_DB_LOCK": direct}, "rescore")
	if code != 1 || !strings.Contains(errs, "another qvt sync") {
		t.Errorf("rescore over the lock route while it is held: exit %d, %q", code, errs)
	}
	l.Release()
	// A route to another schema would lock nothing the store's writers
	// lock: refused.
	elsewhere := storetest.Postgres(t)
	code, _, errs = qvt(t, map[string]string{"QVT_DB": pg, "QVT_DB_LOCK": elsewhere}, "rescore")
	if code != 1 || !strings.Contains(errs, "the writer lock's route") {
		t.Errorf("a lock route to another schema: exit %d, %q", code, errs)
	}
	code, _, errs = qvt(t, map[string]string{"QVT_DB": pg, "QVT_DB_LOCK": "./not-a-url"}, "rescore")
	if code != 1 || !strings.Contains(errs, "not a postgres:// URL") {
		t.Errorf("a lock route that is no URL: exit %d, %q", code, errs)
	}
}
