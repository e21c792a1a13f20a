package app

import (
	"context"
	"path/filepath"
	"testing"

	"qvt/internal/clock"
	"qvt/internal/config"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/publish/jira"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/store"
)

// The Jira target routes by the configuration's owners: section and
// resolves excepted findings' issues with exceptions.resolution, which
// live outside its jira: section.
func TestJiraTargetGetsOwnersAndResolution(t *testing.T) {
	cfg := config.Default()
	cfg.Jira = jira.Config{URL: "https://example.atlassian.net", User: "bot@example.com", Token: "tok", Project: "SEC"}
	cfg.Owners = owners.Set{{Name: "Payments platform", Tags: []string{"PCI"}, Jira: owners.Jira{Project: "PAY"}}}
	cfg.Exceptions.Resolution = "Won't Do"
	e := &env{cfg: cfg, getenv: func(string) string { return "" }}
	tg, err := e.target("jira")
	if err != nil {
		t.Fatal(err)
	}
	got := tg.(*jira.Target).Config()
	if len(got.Owners) != 1 || got.Owners[0].Jira.Project != "PAY" || got.ExceptionResolution != "Won't Do" {
		t.Errorf("the jira target has owners %+v and exception resolution %q", got.Owners, got.ExceptionResolution)
	}
}

// Publishing applies the exceptions as of today before it reads: an
// exception that expired since the last import brings its finding back,
// and its Jira issue reopens, without a sync in between.
func TestPublishAppliesExpiry(t *testing.T) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	j := jiratest.New(jiratest.Options{})
	defer j.Close()
	o := j.Options()
	db := filepath.Join(t.TempDir(), "qvt.db")
	env := map[string]string{"QVT_DB": db, "JIRA_URL": j.URL, "JIRA_USER": o.User, "JIRA_TOKEN": o.Token, "JIRA_PROJECT": "SEC"}
	check := func(args ...string) {
		t.Helper()
		if code, out, errs := qvt(t, env, args...); code != 0 {
			t.Fatalf("qvt %v: exit %d\n%s\n%s", args, code, out, errs)
		}
	}
	check("import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	check("publish", "--to", "jira")
	const key = "172.16.168.67:105936:0"
	issue := func() jiratest.Issue {
		t.Helper()
		for _, is := range j.WithLabel(jira.DedupeLabel(key)) {
			return is
		}
		t.Fatalf("no issue for %s", key)
		return jiratest.Issue{}
	}

	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	e := exceptions.Exception{Type: exceptions.RiskAccepted, Scope: exceptions.Scope{Key: key}, Reason: "a test",
		Approver: "ciso@corp.example", RecordedBy: "alice@corp.example", Until: "2026-02-28"}
	if err := e.Validate(exceptions.DefaultPolicy(), clock.Today()); err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.AddException(&e, clock.Now()); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(clock.Now(), nil)
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	check("publish", "--to", "jira")
	if is := issue(); is.Status != "Done" {
		t.Fatalf("the excepted finding's issue is %s", is.Status)
	}

	t.Setenv(clock.Env, "2026-03-02T00:00:00Z")
	check("publish", "--to", "jira")
	if is := issue(); is.Status != "To Do" {
		t.Errorf("after the expiry, with no sync in between, the issue is %s, want To Do", is.Status)
	}
}
