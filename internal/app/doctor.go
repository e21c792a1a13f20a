package app

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"qvt/internal/doctor"
)

func (e *env) doctorCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration, the store, Qualys, NVD, the KEV and EPSS feeds and the publish targets before the first run",
		Long: `Check what a sync and a publish need, and say what is wrong and how to fix it:
the effective configuration (secrets masked) and where each value comes from
(flag, environment, file or default); the store (engine, schema, size,
permissions, subscription, last sync runs); Qualys (credentials, the
subscription's rate and concurrency limits, clock skew); NVD (the API key,
or what its absence costs); CISA's KEV catalog (KEV_URL: downloaded and
decoded, its version and entries) and FIRST's EPSS file (EPSS_URL: its
first rows only, the model and score date, a warning when the scores are
more than 3 days old); and each configured target (MySQL privileges, the
Jira project, issue type and workflow, the Assets schema and object types).

Each line is ok, warn or FAIL, with its fix under it. The exit code is 1
when any line fails. Doctor writes nothing: it opens the store read-only,
makes one cheap read per service, and creates no store, table or issue.`,
		Args: noArgs,
		// The configuration is loaded by the checks: one that does not
		// load is a failed check, not an error before any check.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			in := doctor.ConfigInput{Path: e.configPath, PathSource: "--config", DBFlag: e.dbFlag, Getenv: e.getenv}
			if in.Path == "" {
				in.Path, in.PathSource = e.getenv("QVT_CONFIG"), "QVT_CONFIG"
			}
			rep := doctor.Run(cmd.Context(), in)
			if err := rep.Write(e.stdout, e.colour()); err != nil {
				return err
			}
			switch n := rep.Count(doctor.Fail); n {
			case 0:
			case 1:
				return errors.New("doctor: 1 check failed")
			default:
				return fmt.Errorf("doctor: %d checks failed", n)
			}
			return nil
		},
	}
}

// colour tells whether stdout is a terminal that wants colour.
func (e *env) colour() bool {
	f, isFile := e.stdout.(*os.File)
	return isFile && term.IsTerminal(int(f.Fd())) && e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb"
}
