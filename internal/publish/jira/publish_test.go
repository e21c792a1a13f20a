package jira

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// The life of findings on Jira Cloud: creates, reruns that change
// nothing, closes (fixed, gone), a late create, and a reopen, each once.
func TestLifecycleCloud(t *testing.T) { storetest.Each(t, testLifecycleCloud) }

func testLifecycleCloud(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, nil)

	rep := mustRun(t, tg, st)
	// 1004 is Fixed from the start: no issue.
	if got := counts(rep); got != "c6 u0 x0 r0 f0" {
		t.Fatalf("first run: %s\n%s", got, rep)
	}
	if n := len(srv.Issues()); n != 6 {
		t.Fatalf("%d issues, want 6", n)
	}
	is := issueOf(t, srv, "10.0.0.1:105936:0")
	if !slices.Contains(is.Labels, "qvt") || is.Priority != "High" || is.DueDate != "2026-01-19" || is.IssueType != "Bug" {
		t.Errorf("105936 issue: %+v", is)
	}
	desc := is.DescriptionText()
	for _, want := range []string{"10.0.0.1:105936:0", "CVE-2020-15778", "There is no vendor supplied patch.", "OpenSSH", "QID 105936 detected on port 0."} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
	if strings.Contains(desc, "<A HREF") || strings.Contains(desc, "TARGET=") {
		t.Errorf("description has raw HTML:\n%s", desc)
	}

	// A rerun with nothing new changes nothing.
	snap := srv.Snapshot()
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun: %s", got)
	}
	if srv.Snapshot() != snap {
		t.Errorf("a rerun changed Jira")
	}

	atlassiantest.Import(t, st, scanB())
	rep = mustRun(t, tg, st)
	// Created: 1004 (Re-Opened, Low) and 1005; closed: 1002 fixed, 1003 gone.
	if got := counts(rep); got != "c2 u0 x2 r0 f0" {
		t.Fatalf("after scan B: %s\n%s", got, rep)
	}
	fixed := issueOf(t, srv, "10.0.0.1:1002:0")
	gone := issueOf(t, srv, "10.0.0.1:1003:22")
	if fixed.Status != "Done" || gone.Status != "Done" || fixed.Resolution != "Done" {
		t.Errorf("closed issues: %s %s, %s", fixed.Status, fixed.Resolution, gone.Status)
	}
	if len(fixed.Comments) != 1 || !strings.Contains(fixed.Comments[0].Text, "fixed") {
		t.Errorf("fixed comment: %+v", fixed.Comments)
	}
	if len(gone.Comments) != 1 || !strings.Contains(gone.Comments[0].Text, "gone") {
		t.Errorf("gone comment: %+v", gone.Comments)
	}
	// New → Active is not news: no comment on 1001.
	if c := issueOf(t, srv, "10.0.0.1:1001:443").Comments; len(c) != 0 {
		t.Errorf("comments on 1001: %+v", c)
	}

	snap = srv.Snapshot()
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun after B: %s", got)
	}
	if srv.Snapshot() != snap {
		t.Errorf("a rerun changed Jira")
	}

	atlassiantest.Import(t, st, scanC())
	// The reopened issue is also updated: it now says "Times reopened: 1".
	if got := counts(mustRun(t, tg, st)); got != "c0 u1 x0 r1 f0" {
		t.Fatalf("after scan C: %s", got)
	}
	re := issueOf(t, srv, "10.0.0.1:1002:0")
	if re.Status != "To Do" || re.Resolution != "" || strings.Join(re.Transitions, ",") != "Done,Reopen" {
		t.Errorf("reopened issue: status %s, resolution %q, transitions %v", re.Status, re.Resolution, re.Transitions)
	}
	if len(re.Comments) != 2 || !strings.Contains(re.Comments[1].Text, "reopened") {
		t.Errorf("reopen comment: %+v", re.Comments)
	}
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun after C: %s", got)
	}
	byLabel(t, srv) // no duplicates
	if n := srv.Count("", "/rest/api/3/search/jql", 0); n == 0 {
		t.Errorf("search/jql never used")
	}
	if n := srv.Count("", "/rest/api/3/search", 0) - srv.Count("", "/rest/api/3/search/jql", 0); n != 0 {
		t.Errorf("the removed search was called %d times", n)
	}
}

// Data Center: detected from serverInfo, REST v2 with wiki markup, a
// bearer PAT, and search paged with startAt. Losing the mapping table
// rebuilds it from the labels, through several pages, with no duplicate.
func TestLifecycleDataCenter(t *testing.T) { storetest.Each(t, testLifecycleDataCenter) }

func testLifecycleDataCenter(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{Flavor: "datacenter", PageSize: 2})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.User = "" })

	if got := counts(mustRun(t, tg, st)); got != "c6 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got)
	}
	if tg.Config().Flavor != DataCenter {
		t.Errorf("flavor %q, want datacenter", tg.Config().Flavor)
	}
	is := issueOf(t, srv, "10.0.0.1:105936:0")
	d, ok := is.Description.(string)
	if !ok {
		t.Fatalf("DC description is %T, want wiki markup", is.Description)
	}
	for _, want := range []string{"||Field||Value||", "[CVE-2020-15778|https://nvd.nist.gov/vuln/detail/CVE-2020-15778]", "{noformat}", "h3. Solution"} {
		if !strings.Contains(d, want) {
			t.Errorf("wiki description lacks %q:\n%s", want, d)
		}
	}
	if n := srv.Count("", "/rest/api/3/", 0); n != 0 {
		t.Errorf("%d calls to v3 on Data Center", n)
	}

	// The mapping table is lost: the next run rebuilds it from the
	// labels (3 pages of 2) and creates nothing.
	if err := st.DeleteMappings(t.Context(), TargetName, nil); err != nil {
		t.Fatal(err)
	}
	if got := counts(mustRun(t, tg, st)); got != "c0 u6 x0 r0 f0" {
		t.Errorf("rebuild: %s (adopted issues are brought up to date once)", got)
	}
	if n := srv.Count("POST", "/rest/api/2/search", 200); n < 3 {
		t.Errorf("rebuild searched %d pages, want 3", n)
	}
	if m := mappings(t, st); len(m) != 6 {
		t.Errorf("%d mappings after the rebuild, want 6", len(m))
	}
	atlassiantest.Import(t, st, scanB())
	if got := counts(mustRun(t, tg, st)); got != "c2 u0 x2 r0 f0" {
		t.Errorf("after scan B: %s", got)
	}
	if n := len(srv.Issues()); n != 8 {
		t.Errorf("%d issues, want 8", n)
	}
	byLabel(t, srv)
}

// A Cloud site configured as Data Center: the old search answers 410
// and the client moves to search/jql.
func TestRemovedSearch(t *testing.T) { storetest.Each(t, testRemovedSearch) }

func testRemovedSearch(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.Flavor = "datacenter" })
	if got := counts(mustRun(t, tg, st)); got != "c6 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got)
	}
	if srv.Count("POST", "/rest/api/2/search", 410) != 1 {
		t.Errorf("the removed search was not tried once: %v", srv.Calls())
	}
	if srv.Count("POST", "/rest/api/2/search/jql", 200) == 0 {
		t.Errorf("search/jql not used after the 410")
	}
	if _, ok := issueOf(t, srv, "10.0.0.1:1001:443").Description.(string); !ok {
		t.Errorf("v2 description is not a string")
	}
}

// One bad element of a bulk create does not lose the others; only the
// created ones are mapped, and a later run creates the rest once.
func TestBulkPartialFailure(t *testing.T) { storetest.Each(t, testBulkPartialFailure) }

func testBulkPartialFailure(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	// "P0" is no priority of the site: the two Critical findings fail.
	tg, _ := newTarget(t, srv, func(c *Config) {
		c.PriorityMap = map[string]string{"Critical": "P0", "High": "High", "Medium": "Medium", "Low": "Low"}
	})
	rep, _, err := publishRun(t, tg, st, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "c4 u0 x0 r0 f2" {
		t.Fatalf("partial: %s\n%s", got, rep)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "priority") {
		t.Errorf("notes do not say what failed: %v", rep.Notes)
	}
	m := mappings(t, st)
	if len(m) != 4 || m["10.0.0.1:1001:443"].Remote != "" {
		t.Errorf("mappings: %v", keysOf(m))
	}
	for _, mp := range m {
		if mp.State != StateOpen || mp.Remote == "" {
			t.Errorf("mapping %+v", mp)
		}
	}
	tg2, _ := newTarget(t, srv, nil)
	if got := counts(mustRun(t, tg2, st)); got != "c2 u0 x0 r0 f0" {
		t.Errorf("retry: %s", got)
	}
	if n := len(srv.Issues()); n != 6 {
		t.Errorf("%d issues, want 6", n)
	}
	byLabel(t, srv)
}

// A create whose answer is lost (the server created the issues, then a
// 500) is not retried blindly; the next run finds the issues by label.
// So does a run after mappings were lost one by one.
func TestCrashRecovery(t *testing.T) { storetest.Each(t, testCrashRecovery) }

func testCrashRecovery(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, nil)
	srv.Inject(atlassiantest.Rule{Method: "POST", PathPrefix: "/rest/api/3/issue/bulk", Status: 500, After: true,
		Body: `{"errorMessages":["Internal server error"],"errors":{}}`})
	rep, _, err := publishRun(t, tg, st, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 6 || srv.Count("POST", "/rest/api/3/issue/bulk", 0) != 1 {
		t.Fatalf("ambiguous create: %s; bulk calls %d", rep, srv.Count("POST", "/rest/api/3/issue/bulk", 0))
	}
	for k, m := range mappings(t, st) {
		if m.State != StatePending {
			t.Errorf("%s: state %q, want pending", k, m.State)
		}
	}
	if n := len(srv.Issues()); n != 6 {
		t.Fatalf("the double holds %d issues", n)
	}
	// Restart: the pending creates are found by label, nothing is created.
	rep = mustRun(t, tg, st)
	if rep.Created != 0 || len(srv.Issues()) != 6 {
		t.Fatalf("after restart: %s, %d issues", rep, len(srv.Issues()))
	}
	for k, m := range mappings(t, st) {
		if m.State != StateOpen || m.Remote == "" {
			t.Errorf("%s: %+v", k, m)
		}
	}
	// Mappings of two items lost; their findings change: found by label.
	if err := st.DeleteMappings(t.Context(), TargetName, []string{"10.0.0.1:1002:0", "10.0.0.1:1003:22"}); err != nil {
		t.Fatal(err)
	}
	atlassiantest.Import(t, st, scanB())
	rep = mustRun(t, tg, st)
	// The adopted issues are brought up to date (what they show was not
	// recorded), then closed.
	if got := counts(rep); got != "c2 u2 x2 r0 f0" {
		t.Errorf("after lost mappings: %s\n%s", got, rep)
	}
	if n := len(srv.Issues()); n != 8 {
		t.Errorf("%d issues, want 8", n)
	}
	byLabel(t, srv)
}

// The flood guard creates at most max_creates, the most severe first,
// and stops with a clear error; the next run goes on.
func TestFloodGuard(t *testing.T) { storetest.Each(t, testFloodGuard) }

func testFloodGuard(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, func(c *Config) { c.MaxCreates = 2 })
	rep, _, err := publishRun(t, tg, st, false)
	var fe *FloodError
	if !errors.As(err, &fe) || fe.Planned != 6 || fe.Created != 2 {
		t.Fatalf("want a flood error, got %v", err)
	}
	if !strings.Contains(err.Error(), "max_creates (2)") || !strings.Contains(err.Error(), "would create 6") {
		t.Errorf("unclear message: %v", err)
	}
	issues := srv.Issues()
	if rep.Created != 2 || len(issues) != 2 {
		t.Fatalf("created %d, double holds %d", rep.Created, len(issues))
	}
	for _, is := range issues {
		if is.Priority != "Highest" {
			t.Errorf("%s (%s) created before the Critical ones", is.Key, is.Priority)
		}
	}
	// The watermark did not move: the next runs create the rest, 2 by 2.
	for i, want := range []int{4, 6, 6} {
		publishRun(t, tg, st, false)
		if n := len(srv.Issues()); n != want {
			t.Errorf("run %d: %d issues, want %d", i+2, n, want)
		}
	}
	byLabel(t, srv)
}

// A dry run prints the plan and changes neither Jira nor the store.
func TestDryRun(t *testing.T) { storetest.Each(t, testDryRun) }

func testDryRun(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, nil)
	mustRun(t, tg, st)
	atlassiantest.Import(t, st, scanB())
	snap := srv.Snapshot()
	maps := mappings(t, st)
	rev, _ := st.PublishState(t.Context(), TargetName, stateRev)
	callsBefore := len(srv.Calls())
	rep, out, err := publishRun(t, tg, st, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(rep); got != "c2 u0 x2 r0 f0" {
		t.Errorf("dry run counts %s", got)
	}
	for _, want := range []string{"ACTION", "ITEM", "ISSUE", "SUMMARY", "create  10.0.0.1:1005:443", "(new)", "close   10.0.0.1:1002:0"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if srv.Snapshot() != snap {
		t.Errorf("a dry run changed Jira")
	}
	for _, c := range srv.Calls()[callsBefore:] {
		if c.Method != "GET" && !strings.Contains(c.Path, "/search") {
			t.Errorf("a dry run sent %s %s", c.Method, c.Path)
		}
	}
	if after := mappings(t, st); len(after) != len(maps) {
		t.Errorf("a dry run changed the mappings")
	} else {
		for k, m := range maps {
			if after[k].Hash != m.Hash || after[k].State != m.State || after[k].Remote != m.Remote {
				t.Errorf("mapping %s changed", k)
			}
		}
	}
	if rev2, _ := st.PublishState(t.Context(), TargetName, stateRev); rev2 != rev {
		t.Errorf("a dry run moved the watermark %s → %s", rev, rev2)
	}
	// The real run then does what the dry run said.
	if got := counts(mustRun(t, tg, st)); got != "c2 u0 x2 r0 f0" {
		t.Errorf("real run %s", got)
	}
}

// A 429 storm ends in success: Retry-After is honoured (seconds, an HTTP
// date, 0 clamped up), missing ones back off, nothing is duplicated.
func TestRateLimitStorm(t *testing.T) { storetest.Each(t, testRateLimitStorm) }

// httpDate stands for a Retry-After date set when its case runs.
const httpDate = "(an HTTP date 30 s ahead)"

func testRateLimitStorm(t *testing.T, be storetest.Backend) {
	for _, tc := range []struct {
		name string
		rule atlassiantest.Rule
		min  time.Duration // least total wait
	}{
		{"cloud retry-after 2", atlassiantest.Throttle429(25, "2"), 50 * time.Second},
		{"retry-after 0 clamped", atlassiantest.Throttle429(10, "0"), 10 * time.Second},
		// An HTTP date 30 s ahead, written when the case starts (httpDate):
		// written here, the cases before it would eat into it.
		{"http date", atlassiantest.Throttle429(3, httpDate), 60 * time.Second},
		{"no retry-after", atlassiantest.Throttle429(8, ""), 4 * time.Second},
		{"data center", atlassiantest.Throttle429DC(12, "1"), 12 * time.Second},
		{"503 retry-after on create", atlassiantest.Rule{Method: "POST", PathPrefix: "/rest/api/3/issue/bulk", Count: 3, Status: 503,
			Header: map[string]string{"Retry-After": "5"}}, 15 * time.Second},
		{"429 on create", atlassiantest.Rule{Method: "POST", PathPrefix: "/rest/api/3/issue/bulk", Count: 4, Status: 429,
			Header: map[string]string{"Retry-After": "1"}}, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := jiratest.New(jiratest.Options{})
			defer srv.Close()
			st := newStore(t, be)
			atlassiantest.Import(t, st, scanA())
			tg, sl := newTarget(t, srv, nil)
			if tc.rule.Header["Retry-After"] == httpDate {
				tc.rule = atlassiantest.Throttle429(tc.rule.Count, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
			}
			srv.Inject(tc.rule)
			if got := counts(mustRun(t, tg, st)); got != "c6 u0 x0 r0 f0" {
				t.Fatalf("storm: %s", got)
			}
			if n := len(srv.Issues()); n != 6 {
				t.Errorf("%d issues, want 6", n)
			}
			if sl.total() < tc.min {
				t.Errorf("waited %s, want at least %s (%v)", sl.total(), tc.min, sl.waits)
			}
			byLabel(t, srv)
		})
	}
}

// A storm that outlasts the retry budget stops the run with a clear
// error; the run after it succeeds without duplicates.
func TestRateLimitBudget(t *testing.T) { storetest.Each(t, testRateLimitBudget) }

func testRateLimitBudget(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	tg, _ := newTarget(t, srv, nil, WithRetryBudget(5, time.Hour))
	mustRun(t, tg, st)
	atlassiantest.Import(t, st, scanB())
	srv.Inject(atlassiantest.Throttle429(-1, "1"))
	_, _, err := publishRun(t, tg, st, false)
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "retry budget") {
		t.Fatalf("want a rate-limit error, got %v", err)
	}
	srv.ClearFaults()
	if got := counts(mustRun(t, tg, st)); got != "c2 u0 x2 r0 f0" {
		t.Errorf("after the storm: %s", got)
	}
	byLabel(t, srv)
}

// Bad credentials fail fast, naming the settings and never the token.
func TestAuthFailure(t *testing.T) { storetest.Each(t, testAuthFailure) }

func testAuthFailure(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	tg, _ := newTarget(t, srv, func(c *Config) { c.Token = "s3cret-wrong" })
	_, _, err := publishRun(t, tg, st, false)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "JIRA_TOKEN") {
		t.Fatalf("want a 401 naming JIRA_TOKEN, got %v", err)
	}
	if strings.Contains(err.Error(), "s3cret-wrong") {
		t.Errorf("the token is in the error: %v", err)
	}
	if n := len(srv.Calls()); n > 2 {
		t.Errorf("%d calls after a 401: %v", n, srv.Calls())
	}
	// A wrong project is named before anything is sent.
	tg, _ = newTarget(t, srv, func(c *Config) { c.Project = "NOPE" })
	atlassiantest.Import(t, st, scanA())
	_, _, err = publishRun(t, tg, st, false)
	if err == nil || !strings.Contains(err.Error(), `project "NOPE"`) || srv.Count("POST", "", 0) != 0 {
		t.Errorf("wrong project: %v", err)
	}
}

// Creates go in bulk calls of at most 50; a lost mapping table is rebuilt
// through Cloud's token paging even when pages come short.
func TestBulkBatchesAndPaging(t *testing.T) { storetest.Each(t, testBulkBatchesAndPaging) }

func testBulkBatchesAndPaging(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{PageSize: 7, ShortPages: true})
	defer srv.Close()
	st := newStore(t, be)
	var dets []qualys.Detection
	for i := range 60 {
		dets = append(dets, det(3000+i, 0, 3, "Active", first, "2025-12-31T10:00:00Z"))
	}
	atlassiantest.Import(t, st, atlassiantest.Scan{Datetime: tA, Hosts: []*qualys.Host{
		atlassiantest.Host(60, "10.0.0.60", "many-01", "2025-12-31T10:00:00Z", dets...)}})
	tg, _ := newTarget(t, srv, nil)
	if got := counts(mustRun(t, tg, st)); got != "c60 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got)
	}
	if n := srv.Count("POST", "/rest/api/3/issue/bulk", 201); n != 2 {
		t.Errorf("%d bulk calls, want 2", n)
	}
	st.DeleteMappings(t.Context(), TargetName, nil)
	rep := mustRun(t, tg, st)
	if rep.Created != 0 || len(mappings(t, st)) != 60 || len(srv.Issues()) != 60 {
		t.Fatalf("rebuild: %s, %d mappings", rep, len(mappings(t, st)))
	}
	if n := srv.Count("POST", "/rest/api/3/search/jql", 200); n < 60/6 {
		t.Errorf("%d search pages for 60 issues in pages of at most 6", n)
	}
}
