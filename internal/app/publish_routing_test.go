package app

import (
	"testing"

	"qvt/internal/config"
	"qvt/internal/owners"
	"qvt/internal/publish/jira"
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
