package jira

import (
	"strings"
	"testing"

	"qvt/internal/finding"
	"qvt/internal/store"
)

func pub(key string, hostID int64, rating, status, closed string) *store.Published {
	addr, qid, port, _ := finding.ParseKey(key)
	ff := "2025-12-20T10:00:00Z"
	p := &store.Published{Closed: closed, FirstSeen: 100, LastSeen: 200}
	p.Finding = finding.Finding{Key: key, IP: addr, HostID: hostID, Hostname: "h", QID: qid, Port: port, Type: "Confirmed",
		Severity: 4, Status: status, FirstFound: &ff, VulnScore: rating, BreachDate: "2026-01-19", Title: "T"}
	return p
}

func hist(key string, hostID int64, event, old, new string) store.HistoryRow {
	_, qid, port, _ := finding.ParseKey(key)
	return store.HistoryRow{Key: key, HostID: hostID, QID: qid, Port: port, Event: event, Old: old, New: new, At: 1767830400}
}

func TestPlan(t *testing.T) {
	base := func(mod func(*Config)) *Config {
		c := &Config{URL: "https://x.example", Token: "t", Project: "SEC", Flavor: "datacenter"}
		if mod != nil {
			mod(c)
		}
		if err := c.normalize(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// published maps p as qvt last sent it: state, and the hash of p
	// (or of other, when what it shows has changed since).
	published := func(c *Config, item, issue, state string, shown *store.Published, rows ...*store.Row) store.Mapping {
		var ct *content
		var err error
		if shown != nil {
			ct, err = c.findingContent(shown)
		} else {
			ct, err = c.groupContent(item, rows, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		return store.Mapping{Item: item, Remote: issue, State: state, Hash: ct.hash()}
	}
	const k1, k2 = "10.0.0.1:1001:443", "10.0.0.2:1001:443"
	open1 := pub(k1, 1, "High", "Active", "")
	type tc struct {
		name     string
		cfg      *Config
		in       func(c *Config) Input
		want     []string // "kind item issue"
		comment  string   // a line some comment holds
		skipped  int
		unchange int
	}
	cases := []tc{
		{name: "new open finding: create", cfg: base(nil),
			in:   func(c *Config) Input { return Input{Changed: []*store.Published{open1}} },
			want: []string{"create " + k1 + " "}},
		{name: "closed, never published: nothing", cfg: base(nil), skipped: 1,
			in: func(c *Config) Input { return Input{Changed: []*store.Published{pub(k1, 1, "High", "Fixed", "fixed")}} }},
		{name: "below min_rating, never published: nothing", cfg: base(func(c *Config) { c.MinRating = "Critical" }), skipped: 1,
			in: func(c *Config) Input { return Input{Changed: []*store.Published{open1}} }},
		{name: "published, unchanged", cfg: base(nil), unchange: 1,
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{open1}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)}}
			}},
		{name: "New → Active is not news", cfg: base(nil), unchange: 1,
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{open1}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)},
					History: []store.HistoryRow{hist(k1, 1, "status", "New", "Active")}}
			}},
		{name: "published, rerated: update with the change", cfg: base(nil), comment: "rating Medium → High",
			in: func(c *Config) Input {
				was := pub(k1, 1, "Medium", "Active", "")
				return Input{Changed: []*store.Published{open1}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, was)},
					History: []store.HistoryRow{hist(k1, 1, "rating", "Medium", "High")}}
			},
			want: []string{"update " + k1 + " SEC-1"}},
		{name: "recorded change, same content: comment", cfg: base(nil), comment: "Qualys status Active → Re-Opened",
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{open1}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)},
					History: []store.HistoryRow{hist(k1, 1, "status", "Active", "Re-Opened")}}
			},
			want: []string{"comment " + k1 + " SEC-1"}},
		{name: "fixed: close", cfg: base(nil), comment: "Qualys reports the detection Fixed",
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "High", "Fixed", "fixed")}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)}}
			},
			want: []string{"close " + k1 + " SEC-1"}},
		{name: "gone: close", cfg: base(nil), comment: "closed as gone",
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "High", "Active", "gone")}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)}}
			},
			want: []string{"close " + k1 + " SEC-1"}},
		{name: "ignored: close", cfg: base(nil), comment: "ignored in Qualys",
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "High", "Active", "ignored")}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)}}
			},
			want: []string{"close " + k1 + " SEC-1"}},
		{name: "dropped below min_rating: update, close", cfg: base(func(c *Config) { c.MinRating = "High" }), comment: "below the publishing threshold",
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "Medium", "Active", "")}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateOpen, open1)}}
			},
			want: []string{"update " + k1 + " SEC-1", "close " + k1 + " SEC-1"}},
		{name: "reopened: reopen", cfg: base(nil), comment: "Qualys reports the detection again",
			in: func(c *Config) Input {
				re := pub(k1, 1, "High", "Re-Opened", "")
				return Input{Changed: []*store.Published{re}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateClosed, re)}}
			},
			want: []string{"reopen " + k1 + " SEC-1"}},
		{name: "reopened and changed: reopen, update", cfg: base(nil),
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "Critical", "Re-Opened", "")}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateClosed, open1)}}
			},
			want: []string{"reopen " + k1 + " SEC-1", "update " + k1 + " SEC-1"}},
		{name: "reopened as a new issue", cfg: base(func(c *Config) { c.ReopenAsNewIssue = true }),
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{open1}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateClosed, open1)}}
			},
			want: []string{"create " + k1 + " →SEC-1"}},
		{name: "closed and still closed", cfg: base(nil), unchange: 1,
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "Low", "Fixed", "fixed")}, Mappings: map[string]store.Mapping{k1: published(c, k1, "SEC-1", StateClosed, open1)}}
			}},
		{name: "most severe creates first", cfg: base(nil),
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub("10.0.0.1:1:0", 1, "Low", "New", ""), pub("10.0.0.1:2:0", 1, "Critical", "New", ""), pub("10.0.0.1:3:0", 1, "Medium", "New", "")}}
			},
			want: []string{"create 10.0.0.1:2:0 ", "create 10.0.0.1:3:0 ", "create 10.0.0.1:1:0 "}},
		{name: "qid group: one of two fixed: update", cfg: base(func(c *Config) { c.Grouping = "qid" }), comment: k1 + ": 2026-01-08: closed: fixed",
			in: func(c *Config) Input {
				a, b := &open1.Row, &pub(k2, 2, "High", "Active", "").Row
				return Input{Changed: []*store.Published{pub(k1, 1, "High", "Fixed", "fixed")},
					Members:  map[string][]*store.Row{"qid:1001": {b}},
					Mappings: map[string]store.Mapping{"qid:1001": published(c, "qid:1001", "SEC-7", StateOpen, nil, a, b)},
					History:  []store.HistoryRow{hist(k1, 1, "closed", "", "fixed")}}
			},
			want: []string{"update qid:1001 SEC-7"}},
		{name: "qid group: all closed: close", cfg: base(func(c *Config) { c.Grouping = "qid" }), comment: "all its findings are closed",
			in: func(c *Config) Input {
				return Input{Changed: []*store.Published{pub(k1, 1, "High", "Fixed", "fixed")},
					Mappings: map[string]store.Mapping{"qid:1001": published(c, "qid:1001", "SEC-7", StateOpen, nil, &open1.Row)}}
			},
			want: []string{"close qid:1001 SEC-7"}},
		{name: "host group: one back: reopen, update", cfg: base(func(c *Config) { c.Grouping = "host" }), comment: "reopened: 1 open finding again",
			in: func(c *Config) Input {
				re := pub(k1, 1, "High", "Re-Opened", "")
				return Input{Changed: []*store.Published{re}, Members: map[string][]*store.Row{"host:1": {&re.Row}},
					Mappings: map[string]store.Mapping{"host:1": {Item: "host:1", Remote: "SEC-9", State: StateClosed, Hash: "old"}}}
			},
			want: []string{"reopen host:1 SEC-9", "update host:1 SEC-9"}},
		{name: "host group: a new finding is named", cfg: base(func(c *Config) { c.Grouping = "host" }), comment: k2 + ": new finding (High)",
			in: func(c *Config) Input {
				n := pub(k2, 1, "High", "New", "")
				n.FirstSeen = 300
				return Input{Changed: []*store.Published{n}, Members: map[string][]*store.Row{"host:1": {&open1.Row, &n.Row}}, SeenBefore: 200,
					Mappings: map[string]store.Mapping{"host:1": published(c, "host:1", "SEC-9", StateOpen, nil, &open1.Row)}}
			},
			want: []string{"update host:1 SEC-9"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.cfg.Plan(tc.in(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var comments []string
			for _, a := range p.Actions {
				s := string(a.Kind) + " " + a.Item + " " + a.Issue
				if a.LinkTo != "" {
					s += "→" + a.LinkTo
				}
				got = append(got, s)
				comments = append(comments, a.Comment...)
				if a.Label != DedupeLabel(a.Item) {
					t.Errorf("label %q", a.Label)
				}
				if (a.Kind == Create || a.Kind == Update) && a.Content == nil {
					t.Errorf("%s without content", a.Kind)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("actions\n got %q\nwant %q", got, tc.want)
			}
			if tc.comment != "" && !strings.Contains(strings.Join(comments, "\n"), tc.comment) {
				t.Errorf("no comment says %q: %q", tc.comment, comments)
			}
			if p.Skipped != tc.skipped || p.Unchanged != tc.unchange {
				t.Errorf("skipped %d unchanged %d, want %d %d", p.Skipped, p.Unchanged, tc.skipped, tc.unchange)
			}
		})
	}
}

func TestDedupeLabel(t *testing.T) {
	for item, want := range map[string]string{
		"qid:105936": "qvt-qid-105936",
		"host:42":    "qvt-host-42",
	} {
		if got := DedupeLabel(item); got != want {
			t.Errorf("%s: %s", item, got)
		}
	}
	a, b := DedupeLabel("10.0.0.1:1001:443"), DedupeLabel("fe80::1:1001:443")
	if a == b || len(a) != 20 || !strings.HasPrefix(a, "qvt-") || strings.ContainsAny(b, " :") {
		t.Errorf("finding labels %q %q", a, b)
	}
	if DedupeLabel("10.0.0.1:1001:443") != a {
		t.Errorf("not stable")
	}
}
