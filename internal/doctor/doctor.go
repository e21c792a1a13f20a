package doctor

import (
	"context"
	"qvt/internal/clock"
	"time"

	"qvt/internal/config"
)

// probeTimeout bounds each service's checks.
const probeTimeout = time.Minute

// Run checks the installation: the configuration, the store, Qualys, NVD,
// the KEV and EPSS feeds and each configured publish target, in that
// order. When the
// configuration does not load, the report stops there.
func Run(ctx context.Context, in ConfigInput) *Report {
	r := &Report{}
	cfg, checks := Configuration(in)
	r.Add(checks...)
	if cfg == nil {
		return r
	}
	probe := func(fn func(ctx context.Context) []Check) {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		r.Add(fn(ctx)...)
	}
	probe(func(ctx context.Context) []Check { return Store(ctx, cfg.DB, time.Now()) })
	probe(func(ctx context.Context) []Check { return Ownership(ctx, cfg, clock.Now()) })
	probe(func(ctx context.Context) []Check { return Qualys(ctx, cfg.Qualys) })
	probe(func(ctx context.Context) []Check { return NVD(ctx, cfg.NVD) })
	probe(func(ctx context.Context) []Check { return KEV(ctx, cfg.KEVURL) })
	probe(func(ctx context.Context) []Check { return EPSS(ctx, cfg.EPSSURL, time.Now()) })
	targets := Targets(cfg)
	r.Add(targets.Checks...)
	if targets.MySQL {
		probe(func(ctx context.Context) []Check { return MySQL(ctx, cfg.MySQL) })
	}
	if targets.Jira {
		probe(func(ctx context.Context) []Check { return Jira(ctx, cfg.Jira) })
	}
	if targets.Assets {
		probe(func(ctx context.Context) []Check { return Assets(ctx, cfg.Assets) })
	}
	return r
}

// ConfiguredTargets tells which publish targets qvt publish would use,
// with a warning for each one set up only in part.
type ConfiguredTargets struct {
	MySQL, Jira, Assets bool
	Checks              []Check
}

// Targets reads which publish targets the configuration sets up, as qvt
// publish does when --to is not given.
func Targets(cfg *config.Config) ConfiguredTargets {
	var t ConfiguredTargets
	t.MySQL = cfg.MySQL.DSN != ""
	t.Jira = cfg.Jira.URL != "" && cfg.Jira.Project != ""
	assetsBase := cfg.Assets.URL != "" || cfg.Assets.WorkspaceID != "" || cfg.Assets.JiraURL != ""
	t.Assets = cfg.Assets.Schema != "" && assetsBase
	if cfg.Jira.Project != "" && cfg.Jira.URL == "" {
		t.Checks = append(t.Checks, warn("jira", "set JIRA_URL, or unset JIRA_PROJECT", "JIRA_PROJECT is set but JIRA_URL is not: qvt publish skips Jira"))
	}
	if cfg.Assets.Schema != "" && !assetsBase {
		t.Checks = append(t.Checks, warn("assets", "set ASSETS_URL (Data Center), or ASSETS_WORKSPACE_ID or JIRA_URL (Cloud)",
			"ASSETS_SCHEMA is set but no Assets API is: qvt publish skips Assets"))
	}
	if cfg.Assets.Schema == "" && (cfg.Assets.URL != "" || cfg.Assets.WorkspaceID != "") {
		t.Checks = append(t.Checks, warn("assets", "set ASSETS_SCHEMA (the object schema's key, id or name)",
			"an Assets API is set but ASSETS_SCHEMA is not: qvt publish skips Assets"))
	}
	if !t.MySQL && !t.Jira && !t.Assets {
		t.Checks = append(t.Checks, ok("publish", "no publish target configured (QVT_MYSQL_DSN, JIRA_*, ASSETS_*): qvt run syncs only"))
	}
	return t
}
