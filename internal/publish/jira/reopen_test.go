package jira

import (
	"strings"
	"testing"

	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/store/storetest"
)

// An issue qvt closed, whose mapping is then lost, is found again by its
// dedupe label when its finding comes back; it is known to be done, so
// it is reopened, not merely updated while it stays in Done.
func TestAdoptedDoneIssueReopens(t *testing.T) { storetest.Each(t, testAdoptedDoneIssueReopens) }

func testAdoptedDoneIssueReopens(t *testing.T, be storetest.Backend) {
	for _, flavor := range []string{"cloud", "datacenter"} {
		t.Run(flavor, func(t *testing.T) {
			srv := jiratest.New(jiratest.Options{Flavor: flavor})
			defer srv.Close()
			st := newStore(t, be)
			tg, _ := newTarget(t, srv, nil)
			atlassiantest.Import(t, st, scanA())
			mustRun(t, tg, st)
			atlassiantest.Import(t, st, scanB()) // 1002 fixed: its issue is closed
			mustRun(t, tg, st)
			const key = "10.0.0.1:1002:0"
			closed := issueOf(t, srv, key)
			if closed.Status != "Done" {
				t.Fatalf("the fixed finding's issue is %s, want Done", closed.Status)
			}
			if err := st.DeleteMappings(t.Context(), TargetName, []string{key}); err != nil {
				t.Fatal(err)
			}

			atlassiantest.Import(t, st, scanC()) // 1002 Re-Opened
			rep := mustRun(t, tg, st)
			is := issueOf(t, srv, key)
			if is.Key != closed.Key {
				t.Fatalf("a new issue %s was made instead of adopting %s", is.Key, closed.Key)
			}
			if is.Status != "To Do" || is.Resolution != "" || !strings.HasSuffix(strings.Join(is.Transitions, ","), "Reopen") {
				t.Errorf("the adopted done issue was not reopened: status %s, resolution %q, transitions %v (%s)",
					is.Status, is.Resolution, is.Transitions, counts(rep))
			}
			if m := mappings(t, st)[key]; m.State != StateOpen || m.Remote != closed.Key {
				t.Errorf("mapping after the reopen: %+v", m)
			}
		})
	}
}

// A rebuild of lost mappings records done issues as closed: it closes
// nothing that is already done.
func TestRebuildKeepsDoneIssuesClosed(t *testing.T) {
	storetest.Each(t, testRebuildKeepsDoneIssuesClosed)
}

func testRebuildKeepsDoneIssuesClosed(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	tg, _ := newTarget(t, srv, nil)
	atlassiantest.Import(t, st, scanA())
	mustRun(t, tg, st)
	atlassiantest.Import(t, st, scanB())
	mustRun(t, tg, st)
	if err := st.DeleteMappings(t.Context(), TargetName, nil); err != nil {
		t.Fatal(err)
	}
	rep := mustRun(t, tg, st)
	if rep.Closed != 0 || rep.Reopened != 0 || rep.Created != 0 {
		t.Errorf("rebuild: %s; done issues must be adopted as closed", counts(rep))
	}
	for _, key := range []string{"10.0.0.1:1002:0", "10.0.0.1:1003:22"} {
		if m := mappings(t, st)[key]; m.State != StateClosed {
			t.Errorf("%s: adopted as %q, want %q", key, m.State, StateClosed)
		}
	}
}

// Reopening clears the resolution the close set: Jira keeps a
// resolution across transitions unless it is cleared, and an issue with
// one counts as resolved in every filter, however open its status.
func TestReopenClearsResolution(t *testing.T) { storetest.Each(t, testReopenClearsResolution) }

func testReopenClearsResolution(t *testing.T, be storetest.Backend) {
	// A workflow whose reopen has no screen, and clears the resolution
	// in a post function: qvt sends no field the screen lacks.
	noScreen := jiratest.DefaultWorkflow()
	for i := range noScreen.Transitions {
		if tr := &noScreen.Transitions[i]; tr.Name == "Reopen" {
			tr.Screen, tr.ClearsResolution = false, true
		}
	}
	for name, opt := range map[string]jiratest.Options{
		"cloud":                   {Flavor: "cloud"},
		"datacenter":              {Flavor: "datacenter"},
		"reopen without a screen": {Workflow: noScreen},
	} {
		t.Run(name, func(t *testing.T) {
			srv := jiratest.New(opt)
			defer srv.Close()
			st := newStore(t, be)
			tg, _ := newTarget(t, srv, func(c *Config) { c.Resolution = "Won't Do" })
			atlassiantest.Import(t, st, scanA())
			mustRun(t, tg, st)
			atlassiantest.Import(t, st, scanB())
			mustRun(t, tg, st)
			const key = "10.0.0.1:1002:0"
			if is := issueOf(t, srv, key); is.Status != "Done" || is.Resolution != "Won't Do" {
				t.Fatalf("closed issue: status %s, resolution %q, want Done, Won't Do", is.Status, is.Resolution)
			}
			atlassiantest.Import(t, st, scanC())
			if rep := mustRun(t, tg, st); rep.Reopened != 1 {
				t.Fatalf("after the finding reopened: %s", counts(rep))
			}
			if is := issueOf(t, srv, key); is.Status != "To Do" || is.Resolution != "" {
				t.Errorf("reopened issue: status %s, resolution %q, want To Do and none", is.Status, is.Resolution)
			}
		})
	}
}
