package app

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/sim"
	"qvt/internal/web"
)

func (e *env) demoCommand() *cobra.Command {
	var noServe bool
	var addr string
	var f simFlags
	var sf syncFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try qvt without a Qualys account: the built-in API double, a full sync, a day later an incremental one",
		Long: `Start the built-in double of the Qualys and NVD APIs on loopback, run a full
sync into ./qvt-demo.db (or --db), move the double's data one day on (some
detections fixed, some reopened, new hosts, changed KB entries, new CVEs),
run an incremental sync, print the summaries, and serve the dashboard on
http://127.0.0.1:8080 (--addr; --no-serve exits after the summaries).
The real client code runs end to end: authentication, limits, paging,
retries.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if e.dbFlag == "" && e.getenv("QVT_DB") == "" {
				e.cfg.DB = "qvt-demo.db"
			}
			// The demo's store holds the demo's data only: start afresh.
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(e.cfg.DB + suffix); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("demo: %w", err)
				}
			}
			s := sim.New(f.config())
			base, err := s.Start("127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo: starting the API double: %w", err)
			}
			defer s.Close()
			e.cfg.Qualys.APIURL, e.cfg.Qualys.Platform = base, ""
			e.cfg.Qualys.Username, e.cfg.Qualys.Password = "demo", "demo"
			e.cfg.NVD.APIURL, e.cfg.NVD.APIKey = s.NVDURL(), ""
			// The double has no NVD rate limit; spare the demo NVD's 6 s pace.
			sf.nvdWindow = time.Millisecond
			fmt.Fprintf(e.stdout, "qvt demo: API double on %s (%d hosts, %d QIDs, %d CVEs); store %s\n\n",
				base, f.data.Hosts, f.data.QIDs, f.data.CVEs, e.cfg.DB)
			if err := e.runSync(ctx, sf); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			s.Advance()
			fmt.Fprintf(e.stdout, "\nA day later (%s on the double's clock):\n", s.Now().Format("2006-01-02"))
			if err := e.runSync(ctx, sf); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			fmt.Fprintf(e.stdout, "\nNext: qvt --db %s export --status open --min-rating High --format csv\n", e.cfg.DB)
			fmt.Fprintf(e.stdout, "      qvt --db %s history <key from the export>\n", e.cfg.DB)
			if noServe {
				return nil
			}
			if addr != "" {
				e.cfg.Web.Addr = addr
			}
			shown := e.cfg.Web.Addr
			if shown == "" {
				shown = web.DefaultAddr
			}
			fmt.Fprintf(e.stdout, "\nDashboard: http://%s/ (Ctrl-C to stop)\n", shown)
			if err := e.serve(ctx); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noServe, "no-serve", false, "exit after the summaries instead of serving the dashboard")
	cmd.Flags().StringVar(&addr, "addr", "", "host:port for the dashboard (default 127.0.0.1:8080)")
	f.add(cmd, 300, 3000, 6000)
	sf.batch, sf.workers, sf.overlap, sf.kbMaxAge = 100, 4, 24*time.Hour, 7*24*time.Hour
	return cmd
}
