package jira

import (
	"slices"
	"strings"
	"testing"

	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/publish/publishtest"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// Times of the priority steps (Unix seconds, 2026-01-01 and later).
const (
	atKEV   = 1_767_225_600
	atLeave = 1_767_312_000
)

var (
	kev105936  = []store.KEVEntry{publishtest.KEV("CVE-2020-15778", "2026-01-02", true)}
	epss105936 = []store.EPSSScore{{CVE: "CVE-2020-15778", EPSS: 0.23456, Percentile: 0.97001}}
)

// With jira.priorities an issue's priority follows its finding's; a KEV
// finding's issue carries the label "kev" and its due date; all of it
// follows the finding when it leaves the catalog, with a comment saying
// what changed.
func TestPriorities(t *testing.T) { storetest.Each(t, testPriorities) }

func testPriorities(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{Priorities: []string{"Blocker", "Critical", "Major", "Minor"}})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	publishtest.Prioritize(t, st, atKEV, kev105936, epss105936)
	// P4 is left out: its issues get no priority field.
	tg, _ := newTarget(t, srv, func(c *Config) {
		c.Priorities = map[string]string{"p1": "Blocker", "P2": "Critical", "P3": "Major"}
	})
	if got := counts(mustRun(t, tg, st)); got != "c6 u0 x0 r0 f0" {
		t.Fatalf("first run: %s", got)
	}
	// 105936: first found 2025-12-20, its CVE added to KEV 2026-01-02:
	// P1, due 14 days after that (before its breach date, 2026-01-19).
	is := issueOf(t, srv, "10.0.0.1:105936:0")
	if is.Priority != "Blocker" || is.DueDate != "2026-01-16" || !slices.Contains(is.Labels, "kev") {
		t.Errorf("KEV issue: priority %q, due %q, labels %v", is.Priority, is.DueDate, is.Labels)
	}
	desc := flat(is.DescriptionText())
	for _, want := range []string{"Priority | P1 (known exploited)", "Due date | 2026-01-16", "Deadline | 2026-01-19",
		"KEV | yes: CVE-2020-15778 (added 2026-01-02, CISA due date 2026-01-23, known ransomware use)",
		"EPSS | 0.23456 (percentile 0.97001, CVE-2020-15778)", "QDS | none"} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
	// 1002 is High (P3: Major), 1003 Medium (P4: no priority sent).
	if p := issueOf(t, srv, "10.0.0.1:1002:0").Priority; p != "Major" {
		t.Errorf("P3 issue: priority %q", p)
	}
	if is := issueOf(t, srv, "10.0.0.1:1003:22"); is.Priority != "" || slices.Contains(is.Labels, "kev") || is.DueDate != "2026-03-20" {
		t.Errorf("P4 issue: priority %q, labels %v, due %q", is.Priority, is.Labels, is.DueDate)
	}
	if n := len(srv.WithLabel("kev")); n != 1 {
		t.Errorf("%d issues labelled kev, want 1", n)
	}

	// The CVE leaves KEV: P2 by its EPSS, due at the breach date, no kev
	// label; labels someone added stay.
	srv.AddLabel(is.Key, "triaged")
	publishtest.Prioritize(t, st, atLeave, nil, epss105936)
	if got := counts(mustRun(t, tg, st)); got != "c0 u1 x0 r0 f0" {
		t.Fatalf("after leaving KEV: %s", got)
	}
	is = issueOf(t, srv, "10.0.0.1:105936:0")
	if is.Priority != "Critical" || is.DueDate != "2026-01-19" || slices.Contains(is.Labels, "kev") || !slices.Contains(is.Labels, "triaged") {
		t.Errorf("after leaving KEV: priority %q, due %q, labels %v", is.Priority, is.DueDate, is.Labels)
	}
	if desc := flat(is.DescriptionText()); !strings.Contains(desc, "Priority | P2 (likely exploited)") || !strings.Contains(desc, "KEV | no") {
		t.Errorf("description after leaving KEV:\n%s", desc)
	}
	if len(is.Comments) != 1 || !strings.Contains(is.Comments[0].Text, "priority P1 → P2") || !strings.Contains(is.Comments[0].Text, "due date 2026-01-16 → 2026-01-19") {
		t.Errorf("comments: %+v", is.Comments)
	}
	if got := counts(mustRun(t, tg, st)); got != "c0 u0 x0 r0 f0" {
		t.Errorf("rerun: %s", got)
	}
}

// A group issue takes its most urgent finding's priority, its earliest
// due date, and "kev" while any finding is KEV.
func TestPrioritiesGrouped(t *testing.T) { storetest.Each(t, testPrioritiesGrouped) }

func testPrioritiesGrouped(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	publishtest.Prioritize(t, st, atKEV, kev105936, epss105936)
	tg, _ := newTarget(t, srv, func(c *Config) {
		c.Grouping = ByHost
		c.Priorities = map[string]string{"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
	})
	mustRun(t, tg, st)
	h42, h43 := byLabel(t, srv)["qvt-host-42"], byLabel(t, srv)["qvt-host-43"]
	if h42.Priority != "Highest" || !slices.Contains(h42.Labels, "kev") || h42.DueDate != "2026-01-15" {
		t.Errorf("host 42: priority %q, labels %v, due %q", h42.Priority, h42.Labels, h42.DueDate)
	}
	if d := flat(h42.DescriptionText()); !strings.Contains(d, "Highest priority | P1 (known exploited)") || !strings.Contains(d, "KEV findings | 1") {
		t.Errorf("host 42 description:\n%s", h42.DescriptionText())
	}
	if h43.Priority != "Medium" || slices.Contains(h43.Labels, "kev") {
		t.Errorf("host 43: priority %q, labels %v", h43.Priority, h43.Labels)
	}
	publishtest.Prioritize(t, st, atLeave, nil, nil)
	mustRun(t, tg, st)
	h42 = byLabel(t, srv)["qvt-host-42"]
	if h42.Priority != "Medium" || slices.Contains(h42.Labels, "kev") {
		t.Errorf("host 42 after leaving KEV: priority %q, labels %v", h42.Priority, h42.Labels)
	}
}

// jira.priorities takes P1 … P4 in any case, each to a name.
func TestPrioritiesConfig(t *testing.T) {
	for _, c := range []struct {
		p    map[string]string
		want string
	}{
		{map[string]string{"P5": "Highest"}, `jira.priorities: "P5" is not a priority (P1, P2, P3, P4)`},
		{map[string]string{"P1": " "}, "jira.priorities.P1: no Jira priority name"},
	} {
		cfg := Config{URL: "https://example.atlassian.net", User: "u@example.com", Token: "t", Project: "SEC", Priorities: c.p}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.p, err, c.want)
		}
	}
	tg, err := New(Config{URL: "https://example.atlassian.net", User: "u@example.com", Token: "t", Project: "SEC",
		Priorities: map[string]string{"p1": " Highest "}})
	if err != nil || tg.Config().Priorities["P1"] != "Highest" {
		t.Errorf("normalized: %v %v", tg.Config().Priorities, err)
	}
}

// flat is a description's text on one line, single-spaced: a table row
// of ADF reads "Field | Value |".
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// The flood guard creates the most urgent first: a P1 High finding
// before the Critical ones.
func TestFloodGuardMostUrgent(t *testing.T) { storetest.Each(t, testFloodGuardMostUrgent) }

func testFloodGuardMostUrgent(t *testing.T, be storetest.Backend) {
	srv := jiratest.New(jiratest.Options{})
	defer srv.Close()
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	publishtest.Prioritize(t, st, atKEV, kev105936, nil)
	tg, _ := newTarget(t, srv, func(c *Config) { c.MaxCreates = 1 })
	rep, _, err := publishRun(t, tg, st, false)
	if err == nil || rep.Created != 1 {
		t.Fatalf("flood guard: %v %s", err, rep)
	}
	if is := srv.Issues(); len(is) != 1 || !slices.Contains(is[0].Labels, DedupeLabel("10.0.0.1:105936:0")) {
		t.Errorf("created first: %+v", is)
	}
}
