package app

import (
	"path/filepath"
	"strings"
	"testing"

	"qvt/internal/gen"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/sim"
)

// The daily job end to end: qvt run syncs from the API double and
// publishes to the Jira double; a day later fixes close issues and
// nothing is created twice; secrets stay out of every output.
func TestRunSyncAndPublish(t *testing.T) {
	s := sim.New(sim.Config{Data: gen.Config{Seed: 5, QIDs: 800, Hosts: 30, DetectionsPerHost: 10, CVEs: 1200}, Password: "qualys-secret-pw"})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	j := jiratest.New(jiratest.Options{Token: "jira-secret-token", User: "bot@example.com"})
	defer j.Close()
	db := filepath.Join(t.TempDir(), "qvt.db")
	env := map[string]string{
		"QUALYS_API_URL": base, "QUALYS_USERNAME": "demo", "QUALYS_PASSWORD": "qualys-secret-pw",
		"NVD_API_URL": s.NVDURL(), "KEV_URL": s.KEVURL(), "EPSS_URL": s.EPSSURL(), "JIRA_URL": j.URL, "JIRA_USER": "bot@example.com",
		"JIRA_TOKEN": "jira-secret-token", "JIRA_PROJECT": "SEC", "QVT_DB": db,
	}
	check := func(args ...string) string {
		t.Helper()
		code, out, errs := qvt(t, env, args...)
		if code != 0 {
			t.Fatalf("qvt %v: exit %d\n%s\n%s", args, code, out, errs)
		}
		for _, secret := range []string{"qualys-secret-pw", "jira-secret-token"} {
			if strings.Contains(out+errs, secret) {
				t.Fatalf("qvt %v printed a secret", args)
			}
		}
		return out
	}
	out := check("--batch", "10", "run")
	if !strings.Contains(out, "full sync done") || !strings.Contains(out, "jira:") {
		t.Fatalf("run output:\n%s", out)
	}
	first := len(j.Issues())
	if first == 0 {
		t.Fatal("no Jira issue created")
	}
	// A dry run plans nothing new and changes nothing.
	snap := j.Snapshot()
	check("publish", "--to", "jira", "--dry-run")
	if j.Snapshot() != snap {
		t.Error("a dry run changed Jira")
	}
	s.Advance()
	out = check("run")
	if !strings.Contains(out, "incremental sync done") {
		t.Fatalf("second run:\n%s", out)
	}
	// Every open finding has exactly one issue: no duplicates across runs.
	labels := map[string]int{}
	for _, is := range j.Issues() {
		for _, l := range is.Labels {
			if strings.HasPrefix(l, "qvt-") {
				labels[l]++
			}
		}
	}
	for l, n := range labels {
		if n != 1 {
			t.Errorf("label %s on %d issues", l, n)
		}
	}
	if len(j.Issues()) < first {
		t.Errorf("issues went from %d to %d", first, len(j.Issues()))
	}
}
