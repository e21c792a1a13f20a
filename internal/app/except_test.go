package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"qvt/internal/clock"
	"qvt/internal/store/storetest"
)

// The owners of the generated store (qvt gen --hosts 6): hosts 10.0.7.4
// and 10.0.7.6 carry the tag Crown Jewels, 10.0.7.2 is in dmz.example.org.
const exceptConfig = `owners:
  - name: Payments platform
    tags: [Crown Jewels]
  - name: DMZ team
    hostnames: ["*.dmz.example.org"]
`

// exceptStore makes a store at db from generated data, with the owners
// of exceptConfig, and returns the arguments that reach it.
func exceptStore(t *testing.T, db string) []string {
	t.Helper()
	dir := t.TempDir()
	gdir := filepath.Join(dir, "gen")
	mustRun(t, "gen", "-o", gdir, "--hosts", "6", "--detections", "8", "--qids", "30", "--cves", "30")
	cfg := filepath.Join(dir, "qvt.yaml")
	if err := os.WriteFile(cfg, []byte(exceptConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", cfg, "--db", db}
	mustRun(t, append(slices.Clone(args), "import", filepath.Join(gdir, "kb.xml"), filepath.Join(gdir, "detections.xml"))...)
	return args
}

// exceptRun runs qvt with the store's arguments, as user tester.
func exceptRun(t *testing.T, args []string, more ...string) (int, string, string) {
	t.Helper()
	return qvt(t, map[string]string{"USER": "tester"}, append(slices.Clone(args), more...)...)
}

func exceptMust(t *testing.T, args []string, more ...string) string {
	t.Helper()
	code, out, errs := exceptRun(t, args, more...)
	if code != 0 {
		t.Fatalf("qvt %s: exit %d\n%s", strings.Join(more, " "), code, errs)
	}
	return out
}

type exportedFinding struct {
	Key           string `json:"key"`
	Owner         string `json:"owner"`
	Excepted      bool   `json:"excepted"`
	Exception     string `json:"exception"`
	ExceptedUntil string `json:"excepted_until"`
}

func exportKeys(t *testing.T, args []string, flags ...string) ([]string, []exportedFinding) {
	t.Helper()
	out := exceptMust(t, args, append([]string{"export", "--format", "json"}, flags...)...)
	var fs []exportedFinding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.Key)
	}
	slices.Sort(keys)
	return keys, fs
}

// An exception from add to expiry: the findings it covers leave the
// overdue filter and come back the day after its last day, as list
// shows it expired; export selects by owner and by exception.
func TestExceptLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db string) {
		t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
		args := exceptStore(t, db)

		out := exceptMust(t, args, "except", "add", "--qid", "11576", "--tag", "crown jewels", "--type", "risk_accepted",
			"--reason", "WAF in front", "--approver", "ciso@corp.example", "--until", "2027-03-31")
		if want := "EXC-1: risk_accepted, QID 11576 tagged \"crown jewels\": 2 findings excepted until 2027-03-31\n"; out != want {
			t.Errorf("add printed %q, want %q", out, want)
		}
		covered := []string{"10.0.7.4:11576:9443", "10.0.7.6:11576:443"}
		keys, fs := exportKeys(t, args, "--excepted")
		if !slices.Equal(keys, covered) {
			t.Fatalf("--excepted: %v, want %v", keys, covered)
		}
		for _, f := range fs {
			if f.Owner != "Payments platform" || f.Exception != "EXC-1" || f.ExceptedUntil != "2027-03-31" || !f.Excepted {
				t.Errorf("excepted finding %+v", f)
			}
		}
		all, _ := exportKeys(t, args, "--status", "open")
		notExc, _ := exportKeys(t, args, "--status", "open", "--not-excepted")
		if len(notExc) != len(all)-2 || slices.Contains(notExc, covered[0]) {
			t.Errorf("--not-excepted: %d of %d", len(notExc), len(all))
		}
		// 10.0.7.6:11576:443 was due 2026-06-20: overdue, but excepted.
		overdue, _ := exportKeys(t, args, "--overdue")
		if slices.Contains(overdue, "10.0.7.6:11576:443") || len(overdue) == 0 {
			t.Errorf("--overdue lists the excepted finding or nothing: %v", overdue)
		}
		payments, _ := exportKeys(t, args, "--owner", "payments PLATFORM", "--status", "open")
		dmz, _ := exportKeys(t, args, "--owner", "DMZ team", "--status", "open")
		none, _ := exportKeys(t, args, "--owner", "none", "--status", "open")
		for _, k := range payments {
			if !strings.HasPrefix(k, "10.0.7.4:") && !strings.HasPrefix(k, "10.0.7.6:") {
				t.Errorf("--owner payments: %s", k)
			}
		}
		for _, k := range dmz {
			if !strings.HasPrefix(k, "10.0.7.2:") {
				t.Errorf("--owner DMZ team: %s", k)
			}
		}
		if len(payments) == 0 || len(dmz) == 0 || len(none) == 0 || len(payments)+len(dmz)+len(none) != len(all) {
			t.Errorf("owners split %d open findings into %d + %d + %d", len(all), len(payments), len(dmz), len(none))
		}
		both, _ := exportKeys(t, args, "--owner", "DMZ team", "--owner", "none", "--status", "open")
		if len(both) != len(dmz)+len(none) {
			t.Errorf("two --owner: %d, want %d", len(both), len(dmz)+len(none))
		}

		list := exceptMust(t, args, "except", "list")
		if !strings.Contains(list, "EXC-1  risk_accepted  active") || !strings.Contains(list, "2027-03-31  2 ") {
			t.Errorf("list:\n%s", list)
		}

		// The day after its last day, without any write in between.
		t.Setenv(clock.Env, "2027-04-01T00:00:00Z")
		if got := exceptMust(t, args, "except", "list"); got != "no exceptions\n" {
			t.Errorf("active after expiry:\n%s", got)
		}
		var listed []map[string]any
		if err := json.Unmarshal([]byte(exceptMust(t, args, "except", "list", "--state", "expired", "--format", "json")), &listed); err != nil {
			t.Fatal(err)
		}
		if len(listed) != 1 || listed[0]["id"] != "EXC-1" || listed[0]["state"] != "expired" || listed[0]["covered"] != 0.0 {
			t.Errorf("expired list: %v", listed)
		}
		if keys, _ := exportKeys(t, args, "--excepted"); len(keys) != 0 {
			t.Errorf("excepted after expiry: %v", keys)
		}
		if overdue, _ := exportKeys(t, args, "--overdue"); !slices.Contains(overdue, "10.0.7.6:11576:443") {
			t.Errorf("after expiry the finding is not overdue again: %v", overdue)
		}
		// An expired exception cannot be extended back to life; a write
		// records its expiry, with the history event on its findings.
		code, _, errs := exceptRun(t, args, "except", "extend", "EXC-1", "--until", "2027-06-30")
		if code != 1 || !strings.Contains(errs, "EXC-1 is expired") {
			t.Errorf("extend of an expired exception: exit %d, %s", code, errs)
		}
		exceptMust(t, args, "rescore")
		show := exceptMust(t, args, "except", "show", "EXC-1")
		for _, want := range []string{"EXC-1  risk_accepted, expired", "ended:       expired", "expire  by -  until=2027-03-31", "add     by tester"} {
			if !strings.Contains(show, want) {
				t.Errorf("show lacks %q:\n%s", want, show)
			}
		}
		hist := exceptMust(t, args, "history", "10.0.7.6:11576:443")
		for _, want := range []string{"exception EXC-1 (risk_accepted, approved by ciso@corp.example, until 2027-03-31) by tester", "exception ended: expired 2027-03-31"} {
			if !strings.Contains(hist, want) {
				t.Errorf("history lacks %q:\n%s", want, hist)
			}
		}
	})
}

// Extend and revoke, with who did it in the audit trail.
func TestExceptExtendRevoke(t *testing.T) {
	t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
	args := exceptStore(t, filepath.Join(t.TempDir(), "qvt.db"))
	exceptMust(t, args, "except", "add", "--qid", "372833", "--type", "compensating_control", "--reason", "isolated",
		"--approver", "ciso", "--until", "30d", "--by", "alice")
	if out := exceptMust(t, args, "except", "list", "--expiring", "30d"); !strings.Contains(out, "EXC-1 ") {
		t.Errorf("--expiring 30d lacks EXC-1, last day 2027-02-09:\n%s", out)
	}
	if out := exceptMust(t, args, "except", "list", "--expiring", "2027-02-08"); out != "no exceptions\n" {
		t.Errorf("--expiring 2027-02-08 lists EXC-1, last day 2027-02-09:\n%s", out)
	}
	out := exceptMust(t, args, "except", "extend", "exc-1", "--until", "2027-04-30", "--reason", "still isolated", "--by", "bob")
	if out != "EXC-1: until 2027-02-09 → 2027-04-30; 3 findings excepted\n" {
		t.Errorf("extend printed %q", out)
	}
	out = exceptMust(t, args, "except", "revoke", "EXC-1", "--reason", "network rebuilt")
	if out != "EXC-1 revoked: 3 findings are no longer excepted\n" {
		t.Errorf("revoke printed %q", out)
	}
	show := exceptMust(t, args, "except", "show", "EXC-1")
	for _, want := range []string{"recorded:    2027-01-10T00:00:00Z by alice", "edit    by bob  reason=\"still isolated\" until=2027-02-09 → 2027-04-30",
		"revoke  by tester  why=\"network rebuilt\"", "covers:      0 open findings today", "hosts:       3 fixed when recorded"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	if keys, _ := exportKeys(t, args, "--excepted"); len(keys) != 0 {
		t.Errorf("excepted after revoke: %v", keys)
	}
	code, _, errs := exceptRun(t, args, "except", "revoke", "EXC-1")
	if code != 1 || !strings.Contains(errs, "EXC-1 is already revoked") {
		t.Errorf("second revoke: exit %d, %s", code, errs)
	}
	code, _, errs = exceptRun(t, args, "except", "show", "EXC-9")
	if code != 1 || !strings.Contains(errs, "no exception EXC-9") {
		t.Errorf("show of a missing exception: exit %d, %s", code, errs)
	}
}

// Export and import: the file round-trips without a change; an edited
// file's diff is printed, --dry-run writes nothing, and a changed scope
// is refused naming the entry, leaving the store as it was.
func TestExceptFile(t *testing.T) {
	t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
	args := exceptStore(t, filepath.Join(t.TempDir(), "qvt.db"))
	exceptMust(t, args, "except", "add", "--qid", "11576", "--tag", "Crown Jewels", "--type", "risk_accepted",
		"--reason", "WAF in front", "--approver", "ciso@corp.example", "--until", "2027-03-31")
	exceptMust(t, args, "except", "add", "--key", "10.0.7.2:39843:995", "--type", "false_positive", "--reason", "patched",
		"--approver", "secops")
	exceptMust(t, args, "except", "add", "--qid", "372833", "--port", "0", "--type", "compensating_control", "--reason", "isolated",
		"--approver", "ciso", "--until", "2027-02-09")

	file := filepath.Join(t.TempDir(), "exceptions.yaml")
	exceptMust(t, args, "except", "export", "-o", file)
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if stdout := exceptMust(t, args, "except", "export"); stdout != string(text) {
		t.Errorf("export to stdout and to a file differ")
	}
	for _, want := range []string{"# EXC-1: 2 findings covered, on 2 hosts", "# EXC-2: 1 finding covered, on 1 host", "key: 10.0.7.2:39843:995", "port: 0"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("export lacks %q:\n%s", want, text)
		}
	}
	if out := exceptMust(t, args, "except", "import", file); !strings.HasPrefix(out, "no change\napplied 0 changes") {
		t.Errorf("round trip import: %q", out)
	}

	// Extend one, reword one, drop one, add one.
	edited := strings.Replace(string(text), `until: "2027-03-31"`, `until: "2027-04-30"`, 1)
	edited = strings.Replace(edited, "reason: patched", "reason: patched build", 1)
	edited = edited[:strings.Index(edited, "  # EXC-3")] + `  - type: false_positive
    scope: {qid: 15693, host: 10.0.7.3}
    reason: not there
    approver: secops
`
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	diff := "~ EXC-1 until 2027-03-31 → 2027-04-30\n~ EXC-2 reason \"patched\" → \"patched build\"\n" +
		"+ add false_positive, QID 15693 on host 10.0.7.3, approved by secops\n- revoke EXC-3 (compensating_control, QID 372833 port 0 on every host)\n"
	before := exceptMust(t, args, "except", "list", "--state", "all", "--format", "csv")
	if out := exceptMust(t, args, "except", "import", file, "--dry-run"); out != diff+"dry run: nothing written\n" {
		t.Errorf("dry run:\n%s\nwant:\n%s", out, diff)
	}
	if after := exceptMust(t, args, "except", "list", "--state", "all", "--format", "csv"); after != before {
		t.Errorf("--dry-run wrote:\n%s\nwas:\n%s", after, before)
	}
	if out := exceptMust(t, args, "except", "import", file); !strings.HasPrefix(out, diff) {
		t.Errorf("import:\n%s\nwant the diff first:\n%s", out, diff)
	}
	list := exceptMust(t, args, "except", "list", "--state", "all")
	for _, want := range []string{"EXC-1  risk_accepted         active   2027-01-10  2027-04-30", "patched build", "EXC-3  compensating_control  revoked", "EXC-4  false_positive        active"} {
		if !strings.Contains(list, want) {
			t.Errorf("list after import lacks %q:\n%s", want, list)
		}
	}

	// A widened scope: refused, naming the file and the entry, and
	// nothing else of the file applied.
	exceptMust(t, args, "except", "export", "-o", file)
	text, _ = os.ReadFile(file)
	bad := strings.Replace(string(text), "tag: Crown Jewels", "tag: Workstations", 1)
	bad = strings.Replace(bad, "reason: not there", "reason: gone", 1)
	os.WriteFile(file, []byte(bad), 0o600)
	before = exceptMust(t, args, "except", "list", "--state", "all", "--format", "csv")
	code, _, errs := exceptRun(t, args, "except", "import", file)
	if code != 1 || !strings.Contains(errs, file+": entry 1 (EXC-1): scope: QID 11576 tagged \"Crown Jewels\" → QID 11576 tagged \"Workstations\"") {
		t.Errorf("changed scope: exit %d, %s", code, errs)
	}
	if after := exceptMust(t, args, "except", "list", "--state", "all", "--format", "csv"); after != before {
		t.Errorf("a refused import wrote:\n%s", after)
	}
	// A new entry that covers nothing fails in the transaction: the
	// other changes of the file are undone with it.
	text = []byte(strings.Replace(string(text), "reason: patched build", "reason: patched, build 8.9", 1))
	os.WriteFile(file, append(text, []byte("  - {type: false_positive, scope: {qid: 1}, reason: r, approver: a}\n")...), 0o600)
	before = exceptMust(t, args, "except", "list", "--state", "all", "--format", "csv")
	code, _, errs = exceptRun(t, args, "except", "import", file)
	if code != 1 || !strings.Contains(errs, "entry 4: exception: QID 1 on every host covers no open finding") {
		t.Errorf("import of a scope without findings: exit %d, %s", code, errs)
	}
	if after := exceptMust(t, args, "except", "list", "--state", "all", "--format", "csv"); after != before {
		t.Errorf("a failed import wrote:\n%s", after)
	}
}

// Bad values exit 2 with a message that names the flag.
func TestExceptBadValues(t *testing.T) {
	t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
	args := exceptStore(t, filepath.Join(t.TempDir(), "qvt.db"))
	add := []string{"except", "add", "--qid", "11576", "--type", "risk_accepted", "--reason", "r", "--approver", "a"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(slices.Clone(add), "--until", "2027-13-01"), "--until:"},
		{append(slices.Clone(add), "--until", "2026-12-31"), "--until: 2026-12-31 is in the past"},
		{append(slices.Clone(add), "--until", "2028-06-01"), "--until: 2028-06-01 is 508 days after 2027-01-10; exceptions.max_days allows 365"},
		{add, "needs an expiry (--until"},
		{[]string{"except", "add", "--qid", "11576", "--type", "accepted", "--reason", "r", "--approver", "a"}, "--type:"},
		{[]string{"except", "add", "--qid", "11576", "--type", "false_positive", "--approver", "a"}, "--reason:"},
		{[]string{"except", "add", "--qid", "11576", "--type", "false_positive", "--reason", "r"}, "--approver:"},
		{[]string{"except", "add", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--qid"},
		{[]string{"except", "add", "--qid", "x", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--qid"},
		{[]string{"except", "add", "--qid", "11576", "--port", "70000", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--port:"},
		{[]string{"except", "add", "--qid", "11576", "--cidr", "10.0.0.0/99", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--cidr:"},
		{[]string{"except", "add", "--key", "10.0.7.2:39843", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--key"},
		{[]string{"except", "add", "--key", "10.0.7.2:39843:995", "--tag", "x", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--key: a finding key is a whole scope"},
		{[]string{"except", "add", "--qid", "11576", "--start", "soon", "--type", "false_positive", "--reason", "r", "--approver", "a"}, "--start:"},
		{[]string{"except", "list", "--state", "gone"}, "--state:"},
		{[]string{"except", "list", "--expiring", "soon"}, "--expiring:"},
		{[]string{"except", "list", "--format", "xml"}, "--format:"},
		{[]string{"except", "show", "EXC-x"}, `"EXC-x" is not an exception id`},
		{[]string{"except", "show"}, "name one exception"},
		{[]string{"except", "extend", "EXC-1"}, "--until:"},
		{[]string{"except", "extend", "EXC-1", "--until", "someday"}, "--until:"},
		{[]string{"except", "import"}, "name one file"},
		{[]string{"except", "frobnicate"}, "unknown command"},
		{[]string{"export", "--excepted", "--not-excepted"}, "--excepted and --not-excepted"},
		{[]string{"export", "--owner", " "}, "--owner:"},
	} {
		code, _, errs := exceptRun(t, args, c.args...)
		if code != ExitUsage || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 1 {
			t.Errorf("qvt %s: exit %d, %q; want exit 2 naming %q", strings.Join(c.args, " "), code, errs, c.want)
		}
	}
	// Nothing was recorded.
	if out := exceptMust(t, args, "except", "list", "--state", "all"); out != "no exceptions\n" {
		t.Errorf("bad values recorded:\n%s", out)
	}
	// A bad QVT_NOW stops every command.
	t.Setenv(clock.Env, "tomorrow")
	for _, cmd := range [][]string{{"except", "list"}, {"export"}, {"version"}} {
		code, _, errs := exceptRun(t, args, cmd...)
		if code != ExitUsage || !strings.Contains(errs, `QVT_NOW: "tomorrow" is not an RFC 3339 time`) {
			t.Errorf("qvt %s with a bad QVT_NOW: exit %d, %s", strings.Join(cmd, " "), code, errs)
		}
	}
}
