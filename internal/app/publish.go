package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/publish"
	"qvt/internal/publish/assets"
	"qvt/internal/publish/jira"
	"qvt/internal/publish/mysql"
	"qvt/internal/runs"
	"qvt/internal/store"
)

// targetNames are the publish targets, in the order they run.
var targetNames = []string{"mysql", "jira", "assets"}

// configured tells which targets the configuration sets up.
func (e *env) configured() []string {
	var out []string
	if e.cfg.MySQL.DSN != "" {
		out = append(out, "mysql")
	}
	if e.cfg.Jira.URL != "" && e.cfg.Jira.Project != "" {
		out = append(out, "jira")
	}
	if e.cfg.Assets.Schema != "" && (e.cfg.Assets.URL != "" || e.cfg.Assets.WorkspaceID != "" || e.cfg.Assets.JiraURL != "") {
		out = append(out, "assets")
	}
	return out
}

// target builds one publish target from the configuration.
func (e *env) target(name string) (publish.Target, error) {
	switch name {
	case "mysql":
		if e.cfg.MySQL.DSN == "" {
			return nil, errors.New("mysql: no database: set QVT_MYSQL_DSN (e.g. user:password@tcp(db:3306)/vulns) or mysql.dsn")
		}
		return mysql.New(e.cfg.MySQL)
	case "jira":
		if e.cfg.Jira.URL == "" || e.cfg.Jira.Project == "" {
			return nil, errors.New("jira: set JIRA_URL, JIRA_USER, JIRA_TOKEN and JIRA_PROJECT (or the jira section of the configuration)")
		}
		c := e.cfg.Jira
		// Routing and exceptions come from their own sections.
		c.Owners, c.ExceptionResolution = e.cfg.Owners, e.cfg.Exceptions.Resolution
		return jira.New(c)
	case "assets":
		return assets.New(e.cfg.Assets)
	}
	return nil, usagef("--to: unknown target %q (want %s)", name, strings.Join(targetNames, ", "))
}

func (e *env) publishCommand() *cobra.Command {
	var to []string
	var dryRun, initAssets bool
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Push findings and their changes to MySQL, Jira and Jira Service Management Assets",
		Long: `Publish what changed since the last publish (everything the first time) to
the tracking targets:

  mysql   a findings table with the contract's columns, a history table and
          a runs table (QVT_MYSQL_DSN)
  jira    one issue per finding (or per QID, or per host, within one owner):
          created when open in the owner's project with its assignee,
          component and labels, closed when Fixed or gone, reopened when
          Re-Opened, resolved while an exception covers it (with
          exceptions.resolution) and reopened when it ends, a comment per
          change (JIRA_URL, JIRA_USER, JIRA_TOKEN, JIRA_PROJECT)
  assets  Host and Vulnerability Finding objects in a JSM Assets schema
          (ASSETS_URL or ASSETS_WORKSPACE_ID, ASSETS_SCHEMA, Jira's credentials)

Without --to, every configured target. An interrupted publish resumes
without duplicates. Before it reads, publish expires the exceptions past
their last day and applies changed ownership rules (not with --dry-run).`,
		Example: `  qvt publish --to mysql
  qvt publish --to jira --dry-run
  qvt publish --to assets --init
  qvt publish --to jira,assets`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names := splitList(to)
			if len(names) == 0 {
				names = e.configured()
				if len(names) == 0 {
					return errors.New("publish: no target is configured: set QVT_MYSQL_DSN, the JIRA_* variables or the assets section")
				}
			}
			return e.runPublish(cmd.Context(), names, dryRun, initAssets)
		},
	}
	cmd.Flags().StringSliceVar(&to, "to", nil, "targets: mysql, jira, assets (default: every configured one)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be created, updated, closed and reopened; change nothing")
	cmd.Flags().BoolVar(&initAssets, "init", false, "assets: create the object types and attributes qvt needs, where missing")
	e.addQuiet(cmd)
	return cmd
}

func (e *env) runPublish(ctx context.Context, names []string, dryRun, initAssets bool) error {
	return e.publishPhases(ctx, names, dryRun, initAssets, nil)
}

// publishPhases publishes to the targets named, and appends to phases
// (when not nil) what each took, as "publish:<target>".
func (e *env) publishPhases(ctx context.Context, names []string, dryRun, initAssets bool, phases *[]runs.Phase) error {
	var targets []publish.Target
	for _, n := range names {
		t, err := e.target(n)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		targets = append(targets, t)
	}
	st, err := e.openWriter(ctx, "")
	if err != nil {
		return err
	}
	defer st.Close()
	if !dryRun {
		// Publishing writes, and what it reads must be as of today: an
		// exception that expired since the last sync brings its findings
		// back (their issues reopen), and changed ownership rules route
		// the findings to their new owners, without a sync first.
		l := e.loader()
		err := st.Write(ctx, func(tx *store.Tx) error {
			if err := l.CheckOwners(tx); err != nil {
				return err
			}
			_, err := l.ApplyExceptions(tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("publish: applying owners and exceptions: %w", err)
		}
	}
	opt := publish.Options{DryRun: dryRun, Out: e.stdout, Log: e.log}
	var failed []string
	for _, t := range targets {
		if a, ok := t.(*assets.Target); ok && initAssets && !dryRun {
			created, err := a.InitReport(ctx)
			if err != nil {
				return fmt.Errorf("publish: assets: init: %w", err)
			}
			if len(created) == 0 {
				fmt.Fprintln(e.stdout, "assets: the object types and attributes were all there")
			}
			for _, c := range created {
				fmt.Fprintln(e.stdout, "assets: created", c)
			}
		}
		ph := runs.Phase{Name: "publish:" + t.Name(), Started: time.Now()}
		rep, err := t.Publish(ctx, st, opt)
		if c, ok := t.(interface{ Close() error }); ok {
			c.Close()
		}
		ph.Duration = time.Since(ph.Started)
		if err != nil {
			ph.Err, ph.ErrKind = redact(err.Error(), e.secrets()), runs.ErrKind(err)
		}
		if phases != nil {
			*phases = append(*phases, ph)
		}
		if err != nil {
			// The other targets still run: each keeps its own watermark.
			fmt.Fprintf(e.stderr, "qvt: publish: %s: %s\n", t.Name(), terminalSafe(redact(err.Error(), e.secrets()), "\n\t"))
			failed = append(failed, t.Name())
			continue
		}
		prefix := ""
		if dryRun {
			prefix = "dry run, would have: "
		}
		fmt.Fprintln(e.stdout, prefix+rep.String())
	}
	if len(failed) > 0 {
		return fmt.Errorf("publish failed for %s (the next publish resumes)", strings.Join(failed, ", "))
	}
	return nil
}

func (e *env) runCommand() *cobra.Command {
	var f syncFlags
	var to []string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Sync, then publish to every configured target: the daily job (the old tool's -p)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			j := e.commandJob(f)
			j.publish, j.targets = true, splitList(to)
			_, err := e.runJob(cmd.Context(), j)
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().StringSliceVar(&to, "to", nil, "targets to publish to (default: every configured one)")
	e.addQuiet(cmd)
	return cmd
}
