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

// qvt owners: the rules' owners in their order, then the unowned; the
// counts add up to the store's open findings, and an excepted finding
// counts as excepted, not overdue. A renamed rule reassigns the findings
// on the next write, with the change in their history.
func TestOwnersCommand(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db string) {
		t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
		args := exceptStore(t, db)
		var before []ownerRow
		if err := json.Unmarshal([]byte(exceptMust(t, args, "owners", "--format", "json")), &before); err != nil {
			t.Fatal(err)
		}
		exceptMust(t, args, "except", "add", "--key", "10.0.7.6:11576:443", "--type", "false_positive", "--reason", "r", "--approver", "a")
		var rows []ownerRow
		if err := json.Unmarshal([]byte(exceptMust(t, args, "owners", "--format", "json")), &rows); err != nil {
			t.Fatal(err)
		}
		var names []string
		open := 0
		for _, r := range rows {
			names = append(names, r.Owner)
			open += r.Open
		}
		if !slices.Equal(names, []string{"Payments platform", "DMZ team", ""}) {
			t.Fatalf("owners %q", names)
		}
		all, _ := exportKeys(t, args, "--status", "open")
		if open != len(all) {
			t.Errorf("owners count %d open findings, export %d", open, len(all))
		}
		for i, r := range rows {
			own, _ := exportKeys(t, args, "--status", "open", "--owner", cmpOr(r.Owner, "none"))
			if r.Open != len(own) {
				t.Errorf("%q: %d open, export --owner lists %d", r.Owner, r.Open, len(own))
			}
			if i == 0 {
				// 10.0.7.6:11576:443 was overdue; now it is excepted.
				if r.Excepted != 1 || r.Overdue != before[0].Overdue-1 || r.Rule != "tags Crown Jewels" {
					t.Errorf("payments: %+v, before %+v", r, before[0])
				}
			}
		}
		table := exceptMust(t, args, "owners")
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "OWNER") || !strings.Contains(lines[0], "P1") ||
			!strings.HasPrefix(lines[1], "Payments platform  tags Crown Jewels") || !strings.HasPrefix(lines[3], "(none)") {
			t.Errorf("table:\n%s", table)
		}

		// Rename a rule: until a write, the store's name shows as one no
		// rule gives; the next write reassigns, with history.
		cfg := args[1]
		text, _ := os.ReadFile(cfg)
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(text), "DMZ team", "Edge team", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		exceptMust(t, args, "rescore")
		table = exceptMust(t, args, "owners")
		if !strings.Contains(table, "Edge team") || strings.Contains(table, "DMZ team") {
			t.Errorf("after the rename:\n%s", table)
		}
		hist := exceptMust(t, args, "history", "10.0.7.2:39843:995")
		if !strings.Contains(hist, "owner DMZ team → Edge team") {
			t.Errorf("history lacks the change of owner:\n%s", hist)
		}
		if code, _, errs := exceptRun(t, args, "owners", "--format", "xml"); code != ExitUsage || !strings.Contains(errs, "--format") {
			t.Errorf("--format xml: exit %d, %s", code, errs)
		}
	})
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// The unowned row shows how the configuration's rules read in short.
func TestRuleShort(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "qvt.yaml")
	os.WriteFile(cfg, []byte(`owners:
  - name: DB team
    qids: [19000]
    categories: [Database]
  - name: Ops
    cidrs: [10.0.0.0/8]
    os: ["Windows*"]
  - name: Hosts
    host_ids: [7, 9]
  - name: Rest
    default: true
`), 0o600)
	db := filepath.Join(dir, "qvt.db")
	t.Setenv(clock.Env, "2027-01-10T00:00:00Z")
	mustRun(t, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	var rows []ownerRow
	if err := json.Unmarshal([]byte(mustRun(t, "--config", cfg, "--db", db, "owners", "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DB team": "qids 19000; categories Database", "Ops": "cidrs 10.0.0.0/8; os Windows*", "Hosts": "host ids 7, 9", "Rest": "default"}
	for _, r := range rows {
		if w, ok := want[r.Owner]; ok && r.Rule != w {
			t.Errorf("%s: rule %q, want %q", r.Owner, r.Rule, w)
		}
	}
	if len(rows) != 5 {
		t.Errorf("%d rows, want DB team, Ops, Hosts, Rest and (none): %+v", len(rows), rows)
	}
}
