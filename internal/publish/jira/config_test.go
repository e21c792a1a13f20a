package jira

import (
	"fmt"
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	env := map[string]string{"JIRA_URL": "https://example.atlassian.net/", "JIRA_USER": "bot@example.com", "JIRA_TOKEN": "tok-SECRET", "JIRA_PROJECT": "SEC"}
	var c Config
	c.Project = "OLD"
	c.FromEnv(func(k string) string { return env[k] })
	if c.URL != env["JIRA_URL"] || c.User != env["JIRA_USER"] || c.Token != env["JIRA_TOKEN"] || c.Project != "SEC" {
		t.Fatalf("FromEnv: %+v", c)
	}
	tg, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	got := tg.Config()
	if got.URL != "https://example.atlassian.net" || got.IssueType != "Bug" || got.Grouping != "finding" || got.MaxCreates != 500 ||
		got.DoneCategory != "done" || got.PriorityMap["Critical"] != "Highest" || got.DueDateField != "duedate" || got.MaxTextLength != 32767 {
		t.Errorf("defaults: %+v", got)
	}
	if strings.Contains(fmt.Sprintf("%+v", got), "tok-SECRET") {
		t.Errorf("Config() shows the token")
	}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.URL = "" }, "JIRA_URL"},
		{func(c *Config) { c.URL = "ftp://x" }, "http(s)"},
		{func(c *Config) { c.URL = "https://u:tok-SECRET@x" }, "credentials"},
		{func(c *Config) { c.Token = "" }, "JIRA_TOKEN"},
		{func(c *Config) { c.Project = "" }, "JIRA_PROJECT"},
		{func(c *Config) { c.Grouping = "team" }, "grouping"},
		{func(c *Config) { c.MinRating = "severe" }, "min_rating"},
		{func(c *Config) { c.Flavor = "cloud"; c.User = "" }, "JIRA_USER"},
		{func(c *Config) { c.PriorityMap = map[string]string{"urgent": "P1"} }, "priority_map"},
		{func(c *Config) { c.CustomFields = map[string]string{"customfield_1": "{{.Nope"} }, "custom_fields"},
	} {
		cc := c
		tc.mod(&cc)
		_, err := New(cc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error about %s, got %v", tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), "tok-SECRET") {
			t.Errorf("error shows the token: %v", err)
		}
	}
	cc := c
	cc.MinRating, cc.Labels = "high", []string{"vuln mgmt"}
	tg, err = New(cc)
	if err != nil || tg.Config().MinRating != "High" || tg.Config().Labels[0] != "vuln_mgmt" {
		t.Errorf("normalizing: %v %+v", err, tg.Config())
	}
}
