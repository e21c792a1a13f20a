package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"qvt/internal/priority"
)

// Without a priority section the policy is the contract's, and the feeds
// are CISA's and FIRST's.
func TestPriorityDefaults(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Priority().Hash(), priority.Default().Hash(); got != want {
		t.Errorf("default priority policy hash %s, want %s: %+v", got, want, c.Priority())
	}
	if c.KEVURL != "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json" ||
		c.EPSSURL != "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz" {
		t.Errorf("feeds: %q, %q", c.KEVURL, c.EPSSURL)
	}
	if c.Jira.Priorities != nil {
		t.Errorf("jira.priorities = %v, want none", c.Jira.Priorities)
	}
	if s := c.String(); !strings.Contains(s, "known exploited") || !strings.Contains(s, "kev_url:") {
		t.Errorf("String() lacks the priority rules or the feeds:\n%s", s)
	}
}

// A file's rules and days replace the defaults; names are read in any
// case; each condition reaches the policy.
func TestPriorityFromFile(t *testing.T) {
	c, err := Load("testdata/priority.yaml", env(map[string]string{"EPSS_URL": "https://mirror.example/epss.csv.gz"}))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Priority()
	if len(p.Rules) != 6 || p.Rules[0].Priority != priority.P1 || p.Rules[2].When.RatingAtLeast != "Medium" {
		t.Errorf("rules = %+v", p.Rules)
	}
	if !maps.Equal(p.Days, map[string]int{"P1": 7, "P2": 30}) {
		t.Errorf("days = %v", p.Days)
	}
	if !p.ReadsTags() {
		t.Error("ReadsTags: false")
	}
	ff := int64(1736467200) // 2025-01-10
	for _, tc := range []struct {
		name     string
		in       priority.Input
		why, due string
	}{
		{"kev_ransomware", priority.Input{KEV: true, KEVRansomware: true, KEVDateAdded: "2025-02-01", FirstFound: ff}, "ransomware", "2025-02-08"},
		{"kev", priority.Input{KEV: true, KEVDateAdded: "2025-02-01", FirstFound: ff}, "kev", "2025-02-08"},
		{"rating with a tag", priority.Input{Rating: "Medium", Tags: []string{"pci"}, FirstFound: ff}, "pci", "2025-02-09"},
		{"epss_at_least", priority.Input{EPSS: f(0.2)}, "hot", ""},
		{"percentile_at_least", priority.Input{Percentile: f(0.97)}, "hot", ""},
		{"threat_intel", priority.Input{ThreatIntel: []string{"Wormable"}}, "hot", ""},
		{"qds_at_least", priority.Input{QDS: n(95)}, "hot", ""},
		{"rating_at_least", priority.Input{Rating: "Critical", BreachDate: "2025-01-25"}, "severe", "2025-01-25"},
		{"nothing", priority.Input{Rating: "Medium", EPSS: f(0.19), Percentile: f(0.96), QDS: n(94)}, "rest", ""},
	} {
		if r := p.Eval(tc.in); r.Reason != tc.why || r.DueDate != tc.due {
			t.Errorf("%s: got %+v, want %q due %q", tc.name, r, tc.why, tc.due)
		}
	}
	if p.Hash() == priority.Default().Hash() {
		t.Error("the file's rules hash as the defaults")
	}
	if c.KEVURL != "http://127.0.0.1:8080/kev/known_exploited_vulnerabilities.json" || c.EPSSURL != "https://mirror.example/epss.csv.gz" {
		t.Errorf("feeds: %q, %q", c.KEVURL, c.EPSSURL)
	}
	if !maps.Equal(c.Jira.Priorities, map[string]string{"P1": "Highest", "P2": "High", "P4": "Low"}) {
		t.Errorf("jira.priorities = %v", c.Jira.Priorities)
	}
	// Priority is a copy: changing it does not change the configuration.
	p.Rules[0].Name, p.Days["P1"] = "changed", 1
	if q := c.Priority(); q.Rules[0].Name != "ransomware" || q.Days["P1"] != 7 {
		t.Errorf("Priority() shares memory with the configuration: %+v", q)
	}
}

func f(v float64) *float64 { return &v }
func n(v int) *int         { return &v }

// priority.rules and priority.days replace the defaults each on its own.
func TestPriorityPartial(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		rules      int
		days       map[string]int
	}{
		{"days only", "priority:\n  days: {P1: 10, P3: 60}\n", 4, map[string]int{"P1": 10, "P3": 60}},
		{"no days at all", "priority:\n  days: {}\n", 4, map[string]int{}},
		{"rules only", "priority:\n  rules:\n    - {name: all, priority: P2}\n", 1, map[string]int{"P1": 14}},
		{"empty section", "priority:\n", 4, map[string]int{"P1": 14}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(tc.body), 0o600)
		c, err := Load(path, env(nil))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		p := c.Priority()
		if len(p.Rules) != tc.rules || !maps.Equal(p.Days, tc.days) {
			t.Errorf("%s: %d rules, days %v; want %d rules, days %v", tc.name, len(p.Rules), p.Days, tc.rules, tc.days)
		}
	}
}

// Mistakes in the priority section, the feeds' addresses and Jira's
// priorities are one line naming the key.
func TestPriorityErrors(t *testing.T) {
	dir := t.TempDir()
	rules := func(last string) string {
		return "priority:\n  rules:\n    - {name: kev, priority: P1, when: {kev: true}}\n    - {name: hot, priority: P2, when: {epss_at_least: 0.1}}\n" + last
	}
	for _, tc := range []struct {
		name, body string
		getenv     map[string]string
		want       string // after "config: "; a leading ":" is after the file's path
	}{
		{"unknown priority", rules("    - {name: rest, priority: P5}\n"),
			nil, `priority.rules[2] (rest): priority: "P5" is not a priority (P1, P2, P3, P4)`},
		{"bad rating", rules("    - {name: severe, priority: P3, when: {rating_at_least: Hgh}}\n    - {name: rest, priority: P4}\n"),
			nil, `priority.rules[2] (severe): rating_at_least: "Hgh" is not a rating (None, Low, Medium, High, Critical)`},
		{"last rule not catch-all", rules("    - {name: severe, priority: P3, when: {rating_at_least: High}}\n"),
			nil, "priority.rules[2] (severe): the last rule must match always (give it no conditions)"},
		{"no rules", "priority:\n  rules: []\n", nil, "priority.rules: no rules (the last rule must match always)"},
		{"rule without a name", "priority:\n  rules:\n    - {priority: P4}\n", nil,
			"priority.rules[0]: name: empty (the name is the priority_reason of the findings the rule matches)"},
		{"negative days", "priority:\n  days: {P1: -1}\n", nil, "priority.days: P1: -1 is negative"},
		{"days of no priority", "priority:\n  days: {P0: 1}\n", nil, `priority.days: "P0" is not a priority (P1, P2, P3, P4)`},
		{"valid", rules("    - {name: rest, priority: P4}\n") + "  days: {}\n", nil, ""},
		{"epss over 1", "priority:\n  rules:\n    - {name: hot, priority: P2, when: {epss_at_least: 10}}\n    - {name: rest, priority: P4}\n", nil,
			"priority.rules[0] (hot): epss_at_least: 10 is not between 0 and 1"},
		{"unknown condition key", "priority:\n  rules:\n    - name: hot\n      priority: P2\n      when: {epss_at_lest: 0.1}\n", nil,
			":5: priority.rules[0].when.epss_at_lest: unknown key (did you mean epss_at_least?)"},
		{"unknown condition far from any", "priority:\n  rules:\n    - name: hot\n      priority: P2\n      when:\n        cvss: 9\n", nil,
			":6: priority.rules[0].when.cvss: unknown key (valid keys: epss_at_least, kev, kev_ransomware, percentile_at_least, qds_at_least, rating_at_least, tags, threat_intel)"},
		{"unknown rule key", "priority:\n  rules:\n    - {name: x, priorty: P2}\n", nil,
			":3: priority.rules[0].priorty: unknown key (did you mean priority?)"},
		{"unknown section key", "priority:\n  rule: []\n", nil, ":2: priority.rule: unknown key (did you mean rules?)"},
		{"text for a number", "priority:\n  rules:\n    - {name: q, priority: P2, when: {qds_at_least: CFGPW-1}}\n", nil,
			":3: priority.rules[0].when.qds_at_least: want a whole number"},
		{"text for a bool", "priority:\n  rules:\n    - {name: k, priority: P1, when: {kev: CFGPW-1}}\n", nil,
			":3: priority.rules[0].when.kev: want true or false"},
		{"text for a list", "priority:\n  rules:\n    - {name: t, priority: P2, when: {tags: CFGPW-1}}\n", nil,
			":3: priority.rules[0].when.tags: want a list, not a single value"},
		{"kev_url not http", "kev_url: ftp://example.com/kev.json\n", nil, "KEV_URL (kev_url): want an http or https URL"},
		{"epss_url from the environment", "db: qvt.db\n", map[string]string{"EPSS_URL": "epss.example.com/x.csv.gz"}, "EPSS_URL (epss_url): want an http or https URL"},
		{"feed url with a password", "db: qvt.db\n", map[string]string{"KEV_URL": "https://u:CFGPW-1@example.com/kev.json"},
			"KEV_URL (kev_url): the URL holds a user or password; the feed is public"},
		{"jira priority of no priority", "jira:\n  priorities: {P5: Highest}\n", nil, `jira.priorities: "P5" is not a priority (P1, P2, P3, P4)`},
		{"jira priority empty", "jira:\n  priorities: {P1: \" \"}\n", nil, "jira.priorities: P1: empty name"},
		{"jira priority twice", "jira:\n  priorities: {P1: Highest, p1: High}\n", nil, "jira.priorities: P1 is given twice"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(tc.body), 0o600)
		_, err := Load(path, env(tc.getenv))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		want := "config: " + tc.want
		if strings.HasPrefix(tc.want, ":") {
			want = "config: " + path + tc.want
		}
		if err == nil {
			t.Errorf("%s: no error, want %q", tc.name, want)
			continue
		}
		if err.Error() != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, err, want)
		}
		if strings.Contains(err.Error(), "CFGPW") {
			t.Errorf("%s: the error shows the value: %q", tc.name, err)
		}
	}
}
