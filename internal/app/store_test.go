package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/sim"
	"qvt/internal/store"
)

// small are the demo's sizes for tests: a demo of a second or two.
var small = []string{"--hosts", "20", "--qids", "400", "--cves", "800", "--detections", "10"}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// importWorked makes a store at db with the worked example.
func importWorked(t *testing.T, db string) {
	t.Helper()
	mustRun(t, "--db", db, "import", worked("kb.xml"), worked("detections.xml"))
}

// worked is the path of a file of the worked example, from any directory.
func worked(name string) string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata", "worked", name)
}

// The demo never touches the store QVT_DB names: it writes its own file.
func TestDemoLeavesQVTDBAlone(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.db")
	importWorked(t, real)
	t.Chdir(dir)
	sum := fileSum(t, real)
	env := map[string]string{"QVT_DB": real}
	code, out, errs := qvt(t, env, append([]string{"demo", "--no-serve"}, small...)...)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, errs)
	}
	if fileSum(t, real) != sum {
		t.Error("the demo changed the store QVT_DB names")
	}
	if !strings.Contains(out, "store qvt-demo.db") {
		t.Errorf("the demo does not say it uses qvt-demo.db:\n%.300s", out)
	}
	if ok, _ := store.Exists(filepath.Join(dir, "qvt-demo.db")); !ok {
		t.Error("no ./qvt-demo.db after the demo")
	}
	// A second demo replaces the store the first one made.
	if code, _, errs := qvt(t, env, append([]string{"demo", "--no-serve"}, small...)...); code != 0 {
		t.Fatalf("second demo: exit %d\n%s", code, errs)
	}
}

// A store the demo did not make is never replaced, at the demo's own path
// or at the one --db names.
func TestDemoRefusesAnotherStore(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.db")
	importWorked(t, other)
	importWorked(t, filepath.Join(dir, "qvt-demo.db"))
	t.Chdir(dir)
	for _, args := range [][]string{{"demo"}, {"--db", other, "demo"}} {
		db := "qvt-demo.db"
		if len(args) > 1 {
			db = other
		}
		sum := fileSum(t, db)
		code, out, errs := qvt(t, nil, append(args, append([]string{"--no-serve"}, small...)...)...)
		if code != 1 || !strings.Contains(errs, db+" holds a store made by qvt import on ") ||
			!strings.Contains(errs, "not the demo: refusing to replace it") {
			t.Errorf("qvt %v over a store made by import: exit %d\n%s", args, code, errs)
		}
		if strings.Contains(out, "sync done") {
			t.Errorf("qvt %v synced before refusing:\n%s", args, out)
		}
		if fileSum(t, db) != sum {
			t.Errorf("qvt %v changed %s", args, db)
		}
	}
	// A store that does not say who made it may be an older qvt's demo.
	old := filepath.Join(dir, "old.db")
	st, err := store.Open(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, _, errs := qvt(t, nil, append([]string{"--db", old, "demo", "--no-serve"}, small...)...)
	if code != 1 || !strings.Contains(errs, "holds a store whose maker is not recorded, not the demo: refusing to replace it (remove it yourself if an older qvt's demo made it") {
		t.Errorf("demo over a store of unknown maker: exit %d\n%s", code, errs)
	}
}

// Only sync, run, import (and the demo for its own file) create a store;
// every other command says there is none and creates nothing.
func TestNoStoreIsNotCreated(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	env := map[string]string{"QVT_MYSQL_DSN": "qvt:secret@tcp(127.0.0.1:1)/qvt"}
	for _, args := range [][]string{
		{"export"},
		{"export", "--format", "csv", "-o", "out.csv"},
		{"history", "10.1.2.3:105936:443"},
		{"serve", "--addr", freeAddr(t)},
		{"rescore"},
		{"publish", "--to", "mysql"},
		{"publish", "--to", "mysql", "--wait"},
	} {
		// serve on a store it created would serve until stopped.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var outb, errb bytes.Buffer
		code := Run(ctx, append([]string{"--db", "nope.db"}, args...), &outb, &errb, func(k string) string { return env[k] })
		cancel()
		out, errs := outb.String(), errb.String()
		if code != 1 || errs != "qvt: no store at nope.db (run qvt sync or qvt import first)\n" {
			t.Errorf("qvt %v without a store: exit %d\n%s%s", args, code, out, errs)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("qvt %v without a store left %v", args, ents)
			for _, e := range ents {
				os.Remove(e.Name())
			}
		}
	}
	// An empty file is no store either: SQLite would make it one.
	if err := os.WriteFile("empty.db", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := qvt(t, nil, "--db", "empty.db", "export"); code != 1 || !strings.Contains(errs, "no store at empty.db") {
		t.Errorf("export from an empty file: exit %d, %s", code, errs)
	}
	if fi, err := os.Stat("empty.db"); err != nil || fi.Size() != 0 {
		t.Errorf("export wrote into the empty file: %v", err)
	}
}

// startSim starts the API double with small data and the given latency.
func startSim(t *testing.T, latency time.Duration) *sim.Server {
	t.Helper()
	// alice is a second API user of the subscription: the same data, another account.
	s := sim.New(sim.Config{Data: gen.Config{Seed: 3, QIDs: 300, Hosts: 20, DetectionsPerHost: 8, CVEs: 400}, Latency: latency,
		Password: simPassword, OtherUsers: []string{"alice"}})
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const simPassword = "sim-secret-pw"

func simEnv(s *sim.Server, db, user string) map[string]string {
	return map[string]string{
		"QUALYS_API_URL": s.BaseURL(), "QUALYS_USERNAME": user, "QUALYS_PASSWORD": simPassword,
		"NVD_API_URL": s.NVDURL(), "KEV_URL": s.KEVURL(), "EPSS_URL": s.EPSSURL(), "QVT_DB": db,
	}
}

// One writer at a time: while a sync writes, a second writer is refused
// at once, naming the first; with --wait it runs when the first is done;
// readers read meanwhile.
func TestOneWriter(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	s := startSim(t, 0)
	env := simEnv(s, db, "demo")
	if code, _, errs := qvt(t, env, "sync", "--skip-nvd"); code != 0 {
		t.Fatalf("first sync: exit %d\n%s", code, errs)
	}
	// The second sync is slow: every call waits.
	slow := startSim(t, 400*time.Millisecond)
	env2 := simEnv(slow, db, "demo")
	syncDone := make(chan time.Time, 1)
	go func() {
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"sync", "--skip-nvd", "--adopt", "--full"}, &out, &errb, func(k string) string { return env2[k] })
		if code != 0 {
			t.Errorf("slow sync: exit %d\n%s", code, errb.String())
		}
		syncDone <- time.Now()
	}()
	// Wait until it holds the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(db + ".lock"); bytes.Contains(b, []byte(`"command":"sync"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sync never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := fmt.Sprintf("qvt: another qvt sync (pid %d, started ", os.Getpid())
	for _, args := range [][]string{{"rescore"}, {"import", worked("kb.xml")}, {"sync"}, {"publish", "--to", "mysql"}} {
		start := time.Now()
		code, _, errs := qvt(t, map[string]string{"QVT_DB": db, "QVT_MYSQL_DSN": "u:p@tcp(127.0.0.1:1)/x",
			"QUALYS_API_URL": slow.BaseURL(), "QUALYS_USERNAME": "demo", "QUALYS_PASSWORD": simPassword}, args...)
		if code != 1 || !strings.HasPrefix(errs, want) || !strings.HasSuffix(errs, ") is writing "+db+"\n") {
			t.Errorf("qvt %v during a sync: exit %d, %q", args, code, errs)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("qvt %v took %s to refuse", args, d)
		}
	}
	// Readers read while the sync writes.
	if code, out, errs := qvt(t, map[string]string{"QVT_DB": db}, "export", "--format", "ndjson"); code != 0 || !strings.Contains(out, `"key"`) {
		t.Errorf("export during a sync: exit %d\n%s", code, errs)
	}
	// --wait waits, then runs.
	code, _, errs := qvt(t, map[string]string{"QVT_DB": db}, "rescore", "--wait")
	finished := time.Now()
	if code != 0 {
		t.Fatalf("rescore --wait: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "waiting for the store") {
		t.Errorf("rescore --wait did not say it waits:\n%s", errs)
	}
	if synced := <-syncDone; finished.Before(synced) {
		t.Errorf("rescore --wait finished at %s, before the sync (%s)", finished, synced)
	}
}

// A store remembers the Qualys subscription that filled it: a sync from
// another one is refused, naming both, unless --adopt says it is meant.
func TestSubscriptionIsKept(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	a := startSim(t, 0)
	b := startSim(t, 0)
	if code, _, errs := qvt(t, simEnv(a, db, "demo"), "sync", "--skip-nvd"); code != 0 {
		t.Fatalf("first sync: exit %d\n%s", code, errs)
	}
	sum := fileSum(t, db)
	for _, env := range []map[string]string{simEnv(b, db, "demo"), simEnv(a, db, "alice")} {
		code, out, errs := qvt(t, env, "sync", "--skip-nvd")
		want := fmt.Sprintf("qvt: sync: %s holds the Qualys subscription of user demo at %s; this sync is for user %s at %s: refusing to mix them",
			db, a.BaseURL(), env["QUALYS_USERNAME"], env["QUALYS_API_URL"])
		if code != 1 || !strings.HasPrefix(errs, want) || strings.Contains(out, "sync done") {
			t.Errorf("sync from %s %s: exit %d\n%s%s", env["QUALYS_USERNAME"], env["QUALYS_API_URL"], code, out, errs)
		}
	}
	if fileSum(t, db) != sum {
		t.Error("a refused sync changed the store")
	}
	// The same subscription, spelled otherwise, is the same.
	same := simEnv(a, db, "demo")
	same["QUALYS_API_URL"] += "/"
	if code, _, errs := qvt(t, same, "sync", "--skip-nvd"); code != 0 {
		t.Errorf("sync at %s: exit %d\n%s", same["QUALYS_API_URL"], code, errs)
	}
	// --adopt moves the store to b; from then on b is its subscription.
	if code, _, errs := qvt(t, simEnv(b, db, "demo"), "sync", "--skip-nvd", "--adopt"); code != 0 {
		t.Fatalf("sync --adopt: exit %d\n%s", code, errs)
	}
	if code, _, errs := qvt(t, simEnv(b, db, "demo"), "sync", "--skip-nvd"); code != 0 {
		t.Errorf("sync from the adopted subscription: exit %d\n%s", code, errs)
	}
	if code, _, _ := qvt(t, simEnv(a, db, "demo"), "sync", "--skip-nvd"); code != 1 {
		t.Errorf("sync from the old subscription after --adopt: exit %d, want 1", code)
	}
	// The password is never recorded.
	if d := dump(t, db); !strings.Contains(d, "qualys_username demo") || strings.Contains(d, "qualys_password") {
		t.Errorf("the store's meta rows:\n%s", grepLines(d, "meta "))
	}
}

func grepLines(s, prefix string) string {
	var b strings.Builder
	for l := range strings.Lines(s) {
		if strings.HasPrefix(l, prefix) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// A dashboard address that is busy, or that the dashboard refuses, fails
// the demo before anything else.
func TestDemoChecksTheAddressFirst(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for addr, want := range map[string]string{
		ln.Addr().String(): "qvt: demo: the dashboard cannot listen on " + ln.Addr().String() + ": ",
		"0.0.0.0:0":        "qvt: demo: the dashboard refuses to serve on 0.0.0.0:0 without a login",
	} {
		start := time.Now()
		code, out, errs := qvt(t, nil, append([]string{"demo", "--addr", addr}, small...)...)
		if code != 1 || !strings.HasPrefix(errs, want) || out != "" {
			t.Errorf("demo --addr %s: exit %d\n%s%s", addr, code, out, errs)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("demo --addr %s took %s to fail", addr, d)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("demo --addr %s left %v", addr, ents)
		}
	}
}

// The demo's data is as of today: its clock reads today after the day it
// moves on, no finding is found in the future, and its hint writes the CSV
// to a file rather than the terminal.
func TestDemoIsAsOfToday(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	out := mustRun(t, append([]string{"demo", "--no-serve"}, small...)...)
	today := time.Now().UTC().Format(time.DateOnly)
	if !strings.Contains(out, "A day later ("+today+" on the double's clock)") {
		t.Errorf("the double's clock is not at today (%s):\n%s", today, out)
	}
	nd := mustRun(t, "--db", "qvt-demo.db", "export", "--format", "ndjson", "--status", "open")
	newest := ""
	for l := range strings.Lines(nd) {
		var f struct {
			LastFound string `json:"last_found"`
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatal(err)
		}
		newest = max(newest, f.LastFound)
	}
	if newest[:10] != today && newest[:10] != time.Now().UTC().Add(-24*time.Hour).Format(time.DateOnly) {
		t.Errorf("the newest detection was found %s, want today or yesterday (%s)", newest, today)
	}
	if newest > time.Now().UTC().Format(time.RFC3339) {
		t.Errorf("a detection was found in the future: %s", newest)
	}
	// Overdue findings are a minority of the open ones.
	var total, open, overdue, soon int
	last := out[strings.LastIndex(out, "findings: "):]
	if _, err := fmt.Sscanf(last, "findings: %d (%d open", &total, &open); err != nil {
		t.Fatalf("no summary: %v\n%s", err, last)
	}
	if _, err := fmt.Sscanf(last[strings.Index(last, "overdue: "):], "overdue: %d   due within 7 days: %d", &overdue, &soon); err != nil {
		t.Fatalf("no overdue count: %v\n%s", err, last)
	}
	if overdue*2 >= open {
		t.Errorf("%d of %d open findings are overdue, want a minority", overdue, open)
	}
	for l := range strings.Lines(out) {
		if strings.Contains(l, "--format csv") && !strings.Contains(l, " -o ") {
			t.Errorf("the hint prints the CSV on the terminal: %s", l)
		}
	}
}
