package assets

import (
	"fmt"
	"strings"
	"testing"

	"qvt/internal/finding"
	"qvt/internal/store"
)

func pub(key string, hostID int64, rating, status, closed string) *store.Published {
	addr, qid, port, _ := finding.ParseKey(key)
	p := &store.Published{Closed: closed}
	p.Finding = finding.Finding{Key: key, IP: addr, HostID: hostID, QID: qid, Port: port, Status: status, VulnScore: rating, BreachDate: "2026-01-19"}
	return p
}

func TestPlan(t *testing.T) {
	c := &Config{Token: "t", Schema: "ITA", URL: "https://jira.example/rest/assets/1.0"}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	const k = "10.0.0.1:1001:443"
	h := &HostFacts{ID: 1, Address: "10.0.0.1", Known: true, High: 1, Scope: true}
	mapped := func(item string, hash string) map[string]store.Mapping {
		return map[string]store.Mapping{item: {Item: item, Remote: "77", Hash: hash}}
	}
	open := pub(k, 1, "High", "Active", "")
	for _, tc := range []struct {
		name string
		cfg  *Config
		in   Input
		want string
	}{
		{"new host and finding", c, Input{Changed: []*store.Published{open}, Hosts: map[int64]*HostFacts{1: h}},
			"create host host:1 10.0.0.1|create finding " + k + " " + k},
		{"mapped, unchanged", c, Input{Changed: []*store.Published{open}, Mappings: mapped(k, hashValues(findingValues(open)))}, ""},
		{"closed: its Status is updated", c, Input{Changed: []*store.Published{pub(k, 1, "High", "Fixed", "fixed")}, Mappings: mapped(k, hashValues(findingValues(open)))},
			"update finding " + k + " " + k + " 77 status=Fixed"},
		{"gone", c, Input{Changed: []*store.Published{pub(k, 1, "High", "Active", "gone")}, Mappings: mapped(k, "x")},
			"update finding " + k + " " + k + " 77 status=Gone"},
		{"closed, no object: nothing", c, Input{Changed: []*store.Published{pub(k, 1, "High", "Fixed", "fixed")}}, ""},
		{"host counts change", c, Input{Hosts: map[int64]*HostFacts{1: {ID: 1, Address: "10.0.0.1", Known: true, Low: 2}}, Mappings: mapped("host:1", hashValues(hostValues(h)))},
			"update host host:1 10.0.0.1 77"},
		{"host without in-scope findings: no object", c, Input{Hosts: map[int64]*HostFacts{1: {ID: 1, Address: "10.0.0.1", Known: true}}}, ""},
		{"identity unknown: counts only", c, Input{Hosts: map[int64]*HostFacts{1: {ID: 1}}, Mappings: mapped("host:1", "old")},
			"update host host:1  77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.cfg.Plan(tc.in)
			var got []string
			for _, a := range p.Actions {
				s := fmt.Sprintf("%s %s %s %s", a.Kind, a.Type, a.Item, a.Name)
				if a.Object != "" {
					s += " " + a.Object
				}
				if a.Type == FindingObject && a.Kind == Update {
					s += " status=" + a.Values["status"][0]
				}
				if a.Type == FindingObject && a.Values["host"][0] != "host:1" {
					t.Errorf("reference %v", a.Values["host"])
				}
				if tc.name == "identity unknown: counts only" && len(a.Values) != 5 {
					t.Errorf("values %v", a.Values)
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got  %q\nwant %q", g, tc.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{"ASSETS_URL": "https://jira.example/rest/insight/1.0", "ASSETS_SCHEMA": "ITA", "JIRA_TOKEN": "pat-SECRET",
		"JIRA_URL": "https://jira.example", "ASSETS_WORKSPACE_ID": "ws"}
	var c Config
	c.FromEnv(func(k string) string { return env[k] })
	if c.URL != env["ASSETS_URL"] || c.Schema != "ITA" || c.Token != "pat-SECRET" || c.JiraURL != env["JIRA_URL"] || c.WorkspaceID != "ws" {
		t.Fatalf("FromEnv %+v", c)
	}
	tg, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := tg.Config(); got.HostType != "Host" || got.FindingType != "Vulnerability Finding" || got.Token == "pat-SECRET" {
		t.Errorf("config %+v", got)
	}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.URL = "https://jira.example/rest/api/2" }, "/rest/insight/1.0"},
		{func(c *Config) { c.Schema = "" }, "ASSETS_SCHEMA"},
		{func(c *Config) { c.Token = "" }, "JIRA_TOKEN"},
		{func(c *Config) { c.URL, c.JiraURL, c.WorkspaceID = "", "", "" }, "ASSETS_URL"},
		{func(c *Config) { c.URL = "" }, "JIRA_USER"},
		{func(c *Config) { c.Attributes = map[string]string{"colour": "Colour"} }, "unknown attribute"},
		{func(c *Config) { c.MinRating = "bad" }, "min_rating"},
	} {
		cc := c
		tc.mod(&cc)
		_, err := New(cc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error about %s, got %v", tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), "pat-SECRET") {
			t.Errorf("error shows the token")
		}
	}
}
