package jira

import (
	"encoding/json"
	"strings"
	"testing"

	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// One issue per QID lists its hosts; it is updated as findings come and
// go, closes when all are closed and reopens when one comes back.
func TestGroupingQID(t *testing.T) { storetest.Each(t, testGroupingQID) }

func testGroupingQID(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.Grouping = "qid" })
	// QIDs 1001 (2 hosts), 1002 (2 hosts), 1003, 105936.
	if got := counts(mustRun(t, tg, st)); got != "c4 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got)
	}
	q1002 := byLabel(t, srv)["qvt-qid-1002"]
	if q1002.Summary != "QID 1002: QID 1002" || !strings.Contains(q1002.DescriptionText(), "10.0.0.1:1002:0") ||
		!strings.Contains(q1002.DescriptionText(), "10.0.0.2:1002:0") || !strings.Contains(q1002.DescriptionText(), "2 open findings") {
		t.Errorf("QID 1002 issue: %s\n%s", q1002.Summary, q1002.DescriptionText())
	}
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun: %s", got)
	}
	// Scan B: 1002 fixed on one host (update), 1003 gone (close), 1004
	// and 1005 new (create); 1001 and 105936 only seen again (nothing).
	atlassiantest.Import(t, st, scanB())
	if got := counts(mustRun(t, tg, st)); got != "c2 u1 x1 r0 f0" {
		t.Fatalf("after B: %s", got)
	}
	q1002 = byLabel(t, srv)["qvt-qid-1002"]
	if strings.Contains(q1002.DescriptionText(), "10.0.0.1:1002:0") || !strings.Contains(q1002.DescriptionText(), "1 open finding") {
		t.Errorf("QID 1002 still lists the fixed finding:\n%s", q1002.DescriptionText())
	}
	if len(q1002.Comments) != 1 || !strings.Contains(q1002.Comments[0].Text, "10.0.0.1:1002:0") || !strings.Contains(q1002.Comments[0].Text, "closed: fixed") {
		t.Errorf("QID 1002 comment: %+v", q1002.Comments)
	}
	if q1003 := byLabel(t, srv)["qvt-qid-1003"]; q1003.Status != "Done" {
		t.Errorf("QID 1003: %s", q1003.Status)
	}
	// The other host fixes 1002 too: the issue closes.
	atlassiantest.Import(t, st, atlassiantest.Scan{Datetime: tC, Hosts: []*qualys.Host{
		atlassiantest.Host(43, "10.0.0.2", "db-01", "2026-01-14T10:00:00Z",
			det(1001, 443, 5, "Active", first, "2026-01-14T10:00:00Z"),
			det(1002, 0, 4, "Fixed", first, "2025-12-31T10:00:00Z"),
		)}})
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x1 r0 f0" {
		t.Fatalf("all of 1002 fixed: %s", got)
	}
	// 1002 comes back on host 42: the issue reopens, once.
	atlassiantest.Import(t, st, atlassiantest.Scan{Datetime: "2026-01-22T00:00:00Z", Hosts: []*qualys.Host{
		atlassiantest.Host(42, "10.0.0.1", "app-01", "2026-01-21T10:00:00Z",
			det(1001, 443, 5, "Active", "2025-12-31T10:00:00Z", "2026-01-21T10:00:00Z"),
			det(1002, 0, 4, "Re-Opened", first, "2026-01-21T10:00:00Z"),
			det(1004, 80, 2, "Active", first, "2026-01-21T10:00:00Z"),
			det(1005, 443, 3, "Active", "2026-01-07T10:00:00Z", "2026-01-21T10:00:00Z"),
			det(105936, 0, 4, "Active", first, "2026-01-21T10:00:00Z"),
		)}})
	if got := counts(mustRun(t, tg, st)); got != "c0 u1 x0 r1 f0" {
		t.Fatalf("1002 reopened: %s", got)
	}
	q1002 = byLabel(t, srv)["qvt-qid-1002"]
	if q1002.Status != "To Do" || strings.Join(q1002.Transitions, ",") != "Done,Reopen" {
		t.Errorf("QID 1002: %s %v", q1002.Status, q1002.Transitions)
	}
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun: %s", got)
	}
	byLabel(t, srv)
}

// One issue per host lists its open findings.
func TestGroupingHost(t *testing.T) { storetest.Each(t, testGroupingHost) }

func testGroupingHost(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{Flavor: "datacenter"})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.Grouping = "host"; c.User = ""; c.TagLabels = true })
	if got := counts(mustRun(t, tg, st)); got != "c2 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got)
	}
	h42 := byLabel(t, srv)["qvt-host-42"]
	d := h42.Description.(string)
	if h42.Summary != "Open vulnerabilities on app-01 (10.0.0.1)" || !strings.Contains(d, "4 open findings") || h42.Priority != "Highest" {
		t.Errorf("host 42: %s %s\n%s", h42.Summary, h42.Priority, d)
	}
	if !strings.Contains(d, "||QID||Title||Port||Rating||Priority||KEV||CVSS||Due date||CVEs||") {
		t.Errorf("host table:\n%s", d)
	}
	atlassiantest.Import(t, st, scanB())
	if got := counts(mustRun(t, tg, st)); got != "c0 u1 x0 r0 f0" {
		t.Fatalf("after B: %s", got)
	}
	h42 = byLabel(t, srv)["qvt-host-42"]
	if len(h42.Comments) != 1 {
		t.Fatalf("comments: %+v", h42.Comments)
	}
	// 1005 is new; 1004 was known (fixed) and is open again.
	for _, want := range []string{"10.0.0.1:1005:443: new finding (Medium)", "10.0.0.1:1004:80: 2026-01-08: open again (was closed: fixed)", "closed: gone", "closed: fixed"} {
		if !strings.Contains(h42.Comments[0].Text, want) {
			t.Errorf("comment lacks %q:\n%s", want, h42.Comments[0].Text)
		}
	}
	if strings.Contains(h42.Comments[0].Text, "1001:443: new") {
		t.Errorf("1001 is not new:\n%s", h42.Comments[0].Text)
	}
}

// Only findings at or above min_rating get issues; one that drops below
// closes its issue, saying why.
func TestMinRating(t *testing.T) { storetest.Each(t, testMinRating) }

func testMinRating(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.MinRating = "high" })
	if got := counts(mustRun(t, tg, st)); got != "c5 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got) // all but the Medium 1003 (and the fixed Low 1004)
	}
	if _, ok := byLabel(t, srv)[DedupeLabel("10.0.0.1:1003:22")]; ok {
		t.Errorf("Medium finding published")
	}
	// 1001 on host 43 drops to Medium.
	atlassiantest.Import(t, st, atlassiantest.Scan{Datetime: tB, Hosts: []*qualys.Host{
		atlassiantest.Host(43, "10.0.0.2", "db-01", "2026-01-07T10:00:00Z",
			det(1001, 443, 3, "Active", first, "2026-01-07T10:00:00Z"),
			det(1002, 0, 4, "Active", first, "2026-01-07T10:00:00Z"),
		)}})
	if got := counts(mustRun(t, tg, st)); got != "c0 u1 x1 r0 f0" {
		t.Fatalf("rating drop: %s", got)
	}
	is := issueOf(t, srv, "10.0.0.2:1001:443")
	if is.Status != "Done" || !strings.Contains(is.Comments[0].Text, "below the publishing threshold (min_rating High)") ||
		!strings.Contains(is.Comments[0].Text, "rating Critical → Medium") {
		t.Errorf("dropped issue: %s %+v", is.Status, is.Comments)
	}
}

// Workflows without a matching transition, and issues people closed:
// a note, no error, no loop.
func TestTransitionEdgeCases(t *testing.T) { storetest.Each(t, testTransitionEdgeCases) }

func testTransitionEdgeCases(t *testing.T, be storetest.Backend) {
	wf := &jiratest.Workflow{
		Initial:    "Open",
		Categories: map[string]string{"Open": "new", "Triaged": "indeterminate", "Closed": "done"},
		Transitions: []jiratest.Transition{
			{From: []string{"Open"}, ID: "5", Name: "Triage", To: "Triaged"},
			{From: []string{"Triaged"}, ID: "6", Name: "Resolve", To: "Closed"},
		},
	}
	srv := jiratest.New(jiratest.Options{Workflow: wf})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, nil)
	mustRun(t, tg, st)
	// Someone closes 1003's issue by hand; 1002's stays Open, from where
	// no transition leads to done.
	srv.SetStatus(issueOf(t, srv, "10.0.0.1:1003:22").Key, "Closed")
	atlassiantest.Import(t, st, scanB())
	rep := mustRun(t, tg, st)
	if rep.Failed != 0 || rep.Closed != 1 {
		t.Fatalf("edge cases: %s", rep)
	}
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "already done") || !strings.Contains(notes, "no transition to done") || !strings.Contains(notes, "done_transitions") {
		t.Errorf("notes: %s", notes)
	}
	stuck := issueOf(t, srv, "10.0.0.1:1002:0")
	if stuck.Status != "Open" || len(stuck.Comments) != 1 || !strings.Contains(stuck.Comments[0].Text, "by hand") {
		t.Errorf("stuck issue: %s %+v", stuck.Status, stuck.Comments)
	}
	// Nothing is retried in a loop.
	calls := len(srv.Calls())
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun: %s", got)
	}
	if n := len(srv.Calls()) - calls; n > 2 {
		t.Errorf("a rerun made %d calls", n)
	}
	// By name: of two transitions to done, the configured one is used.
	wf2 := &jiratest.Workflow{
		Initial:    "Open",
		Categories: map[string]string{"Open": "new", "Closed": "done"},
		Transitions: []jiratest.Transition{
			{ID: "8", Name: "Won't Fix", To: "Closed"},
			{ID: "9", Name: "Resolve", To: "Closed", Screen: true},
		},
	}
	srv2 := jiratest.New(jiratest.Options{Workflow: wf2})
	defer srv2.Close()
	st2 := newStore(t, be)
	atlassiantest.Import(t, st2, scanA())
	tg2, _ := newTarget(t, srv2, func(c *Config) { c.DoneTransitions = []string{"resolve"} })
	mustRun(t, tg2, st2)
	atlassiantest.Import(t, st2, scanB())
	mustRun(t, tg2, st2)
	if is := issueOf(t, srv2, "10.0.0.1:1002:0"); strings.Join(is.Transitions, ",") != "Resolve" || is.Resolution != "Done" {
		t.Errorf("closed with %v (resolution %q), want Resolve", is.Transitions, is.Resolution)
	}
}

// With reopen_as_new_issue a reopened finding gets a new issue linked to
// the closed one; the closed one stays closed.
func TestReopenAsNewIssue(t *testing.T) { storetest.Each(t, testReopenAsNewIssue) }

func testReopenAsNewIssue(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.ReopenAsNewIssue = true })
	mustRun(t, tg, st)
	atlassiantest.Import(t, st, scanB())
	mustRun(t, tg, st)
	old := issueOf(t, srv, "10.0.0.1:1002:0")
	atlassiantest.Import(t, st, scanC())
	if got := counts(mustRun(t, tg, st)); got != "c1 u0 x0 r1 f0" {
		t.Fatalf("reopen as new: %s", got)
	}
	var news []jiratest.Issue
	for _, is := range srv.WithLabel(DedupeLabel("10.0.0.1:1002:0")) {
		if is.Key != old.Key {
			news = append(news, is)
		}
	}
	if len(news) != 1 || len(news[0].Links) != 1 || news[0].Links[0].Outward != old.Key || news[0].Links[0].Type != "Relates" {
		t.Fatalf("new issue: %+v", news)
	}
	if o, _ := srv.Issue(old.Key); o.Status != "Done" {
		t.Errorf("old issue %s", o.Status)
	}
	if m := mappings(t, st)["10.0.0.1:1002:0"]; m.Remote != news[0].Key || m.State != StateOpen {
		t.Errorf("mapping %+v", m)
	}
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun: %s", got)
	}
	// Mappings lost: the newest issue with the label wins.
	st.DeleteMappings(t.Context(), TargetName, nil)
	mustRun(t, tg, st)
	if m := mappings(t, st)["10.0.0.1:1002:0"]; m.Remote != news[0].Key {
		t.Errorf("rebuilt mapping %+v, want %s", m, news[0].Key)
	}
}

// Descriptions over Jira's limit are cut with a pointer, never
// rejected, in both flavors; custom fields render from templates.
func TestTruncationAndCustomFields(t *testing.T) { storetest.Each(t, testTruncationAndCustomFields) }

func testTruncationAndCustomFields(t *testing.T, be storetest.Backend) {
	for _, flavor := range []string{"cloud", "datacenter"} {
		t.Run(flavor, func(t *testing.T) {
			srv := jiratest.New(jiratest.Options{Flavor: flavor, CustomFields: []string{"customfield_10050", "customfield_10051"}})
			defer srv.Close()
			st := newStore(t, be)
			big := det(2001, 8443, 5, "Active", first, "2025-12-31T10:00:00Z")
			big.Results = strings.Repeat("line of a very long result <with> {markup} |pipes| *stars*\n", 2000)
			atlassiantest.Import(t, st, atlassiantest.Scan{Datetime: tA, Hosts: []*qualys.Host{
				atlassiantest.Host(50, "10.0.0.9", "big-01", "2025-12-31T10:00:00Z", big)}})
			tg, _ := newTarget(t, srv, func(c *Config) {
				if flavor == "datacenter" {
					c.User = ""
				}
				c.CustomFields = map[string]string{
					"customfield_10050": "{{.HostID}}/{{.QID}}",
					"customfield_10051": `json:{"value":"{{.Rating}}"}`,
				}
			})
			rep := mustRun(t, tg, st)
			if rep.Created != 1 || !strings.Contains(strings.Join(rep.Notes, "\n"), "truncated") {
				t.Fatalf("%s", rep)
			}
			is := srv.Issues()[0]
			text := is.DescriptionText()
			if !strings.Contains(text, "truncated; full record: ") || !strings.Contains(text, "qvt history 10.0.0.9:2001:8443") {
				t.Errorf("no pointer at the end:\n…%s", text[max(0, len(text)-300):])
			}
			var n int
			if s, ok := is.Description.(string); ok {
				n = units(s)
			} else {
				b, _ := json.Marshal(is.Description)
				n = units(string(b))
			}
			if n > 32767 || n < 30000 {
				t.Errorf("description length %d", n)
			}
			if is.Custom["customfield_10050"] != "50/2001" {
				t.Errorf("custom text field %v", is.Custom["customfield_10050"])
			}
			if m, _ := is.Custom["customfield_10051"].(map[string]any); m["value"] != "Critical" {
				t.Errorf("custom select field %v", is.Custom["customfield_10051"])
			}
		})
	}
}
