package app

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/bench"
	"qvt/internal/store"
)

func (e *env) benchCommand() *cobra.Command {
	c := bench.Config{}
	sc := bench.SyncConfig{}
	scale := bench.ScaleConfig{}
	var only []string
	var scaled bool
	var step string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure import and export speed and memory on generated data",
		Long: `Generate realistic inputs and time qvt's imports and export as separate
processes (median of --runs, peak RSS of each), as a user would run them:

  - the KnowledgeBase import (details=All),
  - the NVD import into a store that holds the KB,
  - the host detection import into a store that holds the KB and NVD data,
    next to the old tool's method on the same file (Python's xmltodict,
    needs python3-xmltodict) for a speed-up ratio measured in the same run,
  - peak memory of a detection import of an input --grow times larger,
  - an NDJSON export of --export findings,
  - (--only priority) a day's EPSS file imported into a store with the KB
    and NVD, and the next day's file re-prioritizing every finding,
  - a full detection sync of --sync-hosts hosts against the built-in API
    double with --latency per call and a concurrency limit of
    --concurrency, next to the ideal (calls ÷ usable concurrency ×
    latency) plus the import of the same data from a file; and the same
    sync with no latency, against that import.

The defaults are the sizes of the performance targets (150,000 QIDs,
400,000 CVEs, 5,000 hosts × 40 detections, 1,000,000 exported findings);
they need several GB of disk in --dir and a few minutes.

--scale measures one large store instead (--hosts defaults to 250,000:
10,000,000 detections), on SQLite (a new file in --dir) or PostgreSQL
(--store postgres://…, or QVT_DB when it is one: a new schema there,
dropped afterwards): the first import with qvt's peak RSS, the inputs
generated into a FIFO as the import reads them (never held in memory or
on disk); an NDJSON export of every finding; a first publish to the MySQL
server --mysql names (a new database there, dropped afterwards); an
incremental sync in which 1% of the hosts changed, against the built-in
API double without latency; the publish of that day's changes; and the
dashboard's findings list (a page of 100 under each filter and sort,
median and p95 of --runs) and overview.`,
		Example: `  qvt bench --dir /tmp/qvt-bench
  qvt bench --dir /tmp/qvt-bench --qids 20000 --cves 40000 --export 0 --grow 0
  qvt bench --scale --dir /tmp/qvt-bench --mysql 'root@tcp(127.0.0.1:3306)/'
  qvt bench --scale --store postgres://postgres@127.0.0.1/test --hosts 10000`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			c.Exe = exe
			c.Out = e.stdout
			if c.Dir == "" {
				c.Dir = filepath.Join(os.TempDir(), "qvt-bench")
			}
			if step != "" {
				if err := bench.ScaleStep(cmd.Context(), step, scale.Store, c.Runs, e.stdout); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				return nil
			}
			if scaled && !cmd.Flags().Changed("hosts") {
				c.Hosts = 250000
			}
			if c.Hosts <= 0 || c.Detections <= 0 || c.QIDs <= 0 || c.CVEs <= 0 {
				return usagef("bench: sizes must be positive")
			}
			if scaled {
				scale.Exe, scale.Out, scale.Dir = exe, e.stdout, c.Dir
				scale.Hosts, scale.Detections, scale.QIDs, scale.CVEs = c.Hosts, c.Detections, c.QIDs, c.CVEs
				scale.Runs = 20
				if cmd.Flags().Changed("runs") {
					scale.Runs = c.Runs
				}
				if scale.Store == "" && store.IsPostgres(os.Getenv("QVT_DB")) {
					scale.Store = os.Getenv("QVT_DB")
				}
				if err := bench.Scale(cmd.Context(), scale); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				return nil
			}
			for _, o := range splitList(only) {
				switch o {
				case "import":
					if err := bench.Import(cmd.Context(), c); err != nil {
						return fmt.Errorf("bench: %w", err)
					}
				case "sync":
					sc.Exe, sc.Out, sc.Runs = exe, e.stdout, c.Runs
					sc.Dir = filepath.Join(c.Dir, "sync")
					sc.Detections, sc.QIDs = c.Detections, min(c.QIDs, 20000)
					if err := bench.Sync(cmd.Context(), sc); err != nil {
						return fmt.Errorf("bench: %w", err)
					}
				case "priority":
					if err := bench.Priority(cmd.Context(), c); err != nil {
						return fmt.Errorf("bench: %w", err)
					}
				default:
					return usagef("bench: --only: unknown part %q (import, sync, priority)", o)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Dir, "dir", "", "directory for inputs and stores (default $TMPDIR/qvt-bench)")
	f.IntVar(&c.Hosts, "hosts", 5000, "hosts in the detection file")
	f.IntVar(&c.Detections, "detections", 40, "mean detections per host")
	f.IntVar(&c.QIDs, "qids", 150000, "KnowledgeBase entries")
	f.IntVar(&c.CVEs, "cves", 400000, "NVD records")
	f.IntVar(&c.Runs, "runs", 3, "measured runs of each command")
	f.BoolVar(&c.Baseline, "baseline", true, "also run the xmltodict baseline on the detection file")
	f.IntVar(&c.Scale, "grow", 5, "also import a detection file this many times larger, to check memory stays flat (0: skip)")
	f.IntVar(&c.Exports, "export", 1000000, "findings to export as NDJSON (0: skip)")
	f.StringSliceVar(&only, "only", []string{"import", "sync"}, "parts to run: import (imports and export), sync, priority (EPSS import and re-prioritization)")
	f.IntVar(&sc.Hosts, "sync-hosts", 20000, "hosts in the sync benchmark")
	f.DurationVar(&sc.Latency, "latency", 200*time.Millisecond, "server latency per call in the sync benchmark")
	f.IntVar(&sc.Concurrency, "concurrency", 5, "the double's concurrency limit in the sync benchmark")
	f.IntVar(&sc.Batch, "batch", 1000, "host IDs per detection call in the sync benchmark")
	f.BoolVar(&scaled, "scale", false, "measure one large store instead (see above; --hosts defaults to 250,000)")
	f.StringVar(&scale.Store, "store", "", "--scale: a postgres:// URL to run on (a new schema there; best a database no other qvt writes to); default $QVT_DB if it is one, else a new SQLite file in --dir")
	f.StringVar(&scale.MySQL, "mysql", "", "--scale: DSN of a MySQL or MariaDB server to publish to (a new database there), e.g. 'root@tcp(127.0.0.1:3306)/'; none skips the publish")
	f.BoolVar(&scale.Keep, "keep", false, "--scale: keep the store and the MySQL database afterwards")
	f.BoolVar(&scale.ImportOnly, "import-only", false, "--scale: stop after the first import")
	f.StringVar(&step, "scale-step", "", "a step of --scale that runs in a process of its own")
	f.MarkHidden("scale-step")
	return cmd
}
