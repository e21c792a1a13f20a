package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/sim"
	"qvt/internal/store"
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
sync into ./qvt-demo.db, move the double's data one day on (some
detections fixed, some reopened, new hosts, changed KB entries, new CVEs),
run an incremental sync, print the summaries, and serve the dashboard on
http://127.0.0.1:8080 (--addr; --no-serve exits after the summaries).

The demo's store is its own: QVT_DB and the configuration's store are
never used (an explicit --db names another file), and it replaces only a
store that an earlier demo made.
The real client code runs end to end: authentication, limits, paging,
retries.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// The demo's store is its own file whatever QVT_DB or the
			// configuration say: the store they name is a real one.
			e.cfg.DB = cmp.Or(e.dbFlag, demoDB)
			if !noServe {
				if addr != "" {
					e.cfg.Web.Addr = addr
				}
				if err := checkListen(e.cfg.Web); err != nil {
					return fmt.Errorf("demo: %w", err)
				}
			}
			if err := e.freshDemoStore(ctx); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			// The data set's clock runs from a day ago, so that after the
			// day the demo moves on it is now: deadlines and ages count
			// from today, as they do for a real subscription.
			f.data.Start = time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
			// An estate first scanned half a year ago: overdue findings are
			// a minority, as in a team that works to its SLA, rather than
			// the three quarters two years of backlog make.
			f.data.HistoryDays = 180
			s := sim.New(f.config())
			base, err := s.Start("127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo: starting the API double: %w", err)
			}
			defer s.Close()
			e.cfg.Qualys.APIURL, e.cfg.Qualys.Platform = base, ""
			e.cfg.Qualys.Username, e.cfg.Qualys.Password = "demo", "demo"
			e.cfg.NVD.APIURL, e.cfg.NVD.APIKey = s.NVDURL(), ""
			e.cfg.KEVURL, e.cfg.EPSSURL = s.KEVURL(), s.EPSSURL()
			// The double has no NVD rate limit; spare the demo NVD's 6 s pace.
			sf.nvdWindow = time.Millisecond
			fmt.Fprintf(e.stdout, "qvt demo: API double on %s (%d hosts, %d QIDs, %d CVEs); store %s\n\n",
				base, f.data.Hosts, f.data.QIDs, f.data.CVEs, store.Shown(e.cfg.DB))
			if len(e.cfg.Owners) == 0 {
				// The demo's estate gets owners as a team would set them.
				e.cfg.Owners = demoOwners()
			}
			if err := e.runSync(ctx, sf); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if err := e.demoException(ctx); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			s.Advance()
			fmt.Fprintf(e.stdout, "\nA day later (%s on the double's clock):\n", s.Now().Format("2006-01-02"))
			if err := e.runSync(ctx, sf); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			// The dashboard only reads: another qvt may write meanwhile.
			e.unlockStore()
			// A URL's password is not printed: the user has it.
			db := shellWord(store.Shown(e.cfg.DB))
			fmt.Fprintf(e.stdout, "\nNext: qvt --db %s plan   (the fixes that remove the most risk)\n", db)
			fmt.Fprintf(e.stdout, "      qvt --db %s export --priority P1,P2 --sort priority --format csv -o fix-now.csv\n", db)
			fmt.Fprintf(e.stdout, "      qvt --db %s history <a key from fix-now.csv>\n", db)
			if noServe {
				return nil
			}
			fmt.Fprintf(e.stdout, "\nDashboard: http://%s/ (Ctrl-C to stop)\n", cmp.Or(e.cfg.Web.Addr, web.DefaultAddr))
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

// demoOwners are the demo's ownership rules: by the generated estate's
// Qualys tags, the database QIDs to the database team, the rest to a
// default owner.
func demoOwners() owners.Set {
	set := owners.Set{
		{Name: "Database team", Categories: []string{"Database"}, Jira: owners.Jira{Component: "Databases"}},
		{Name: "Payments platform", Tags: []string{"PCI"}, Jira: owners.Jira{Component: "Payments"}, Contact: owners.Contact{Slack: "#payments-vulns"}},
		{Name: "Windows team", Tags: []string{"Windows Servers", "Workstations"}},
		{Name: "Linux team", Tags: []string{"Linux Servers"}},
		{Name: "Platform", Default: true},
	}
	if err := set.Validate(); err != nil {
		panic(err) // a constant set: a test catches it
	}
	return set
}

// demoException records the exception a team would: the risk of the QID
// most often found on the DMZ's hosts accepted there for 60 days.
func (e *env) demoException(ctx context.Context) error {
	st, err := e.openWriter(ctx, "")
	if err != nil {
		return err
	}
	defer st.Close()
	counts := map[int]int{}
	if err := st.Findings(ctx, store.Filter{Open: true, Tags: []string{"DMZ"}}, func(r *store.Row) error {
		counts[r.QID]++
		return nil
	}); err != nil {
		return err
	}
	qid := 0
	for q, n := range counts {
		if n > counts[qid] || n == counts[qid] && q < qid {
			qid = q
		}
	}
	if qid == 0 {
		return nil
	}
	now := clock.Now()
	x := exceptions.Exception{Type: exceptions.RiskAccepted, Scope: exceptions.Scope{QID: qid, Tag: "DMZ"},
		Reason:   "Legacy DMZ appliances are replaced next quarter; the DMZ firewall limits access meanwhile",
		Approver: "ciso@corp.example", RecordedBy: "qvt demo", Until: now.UTC().AddDate(0, 0, 60).Format(time.DateOnly)}
	if err := x.Validate(e.cfg.Exceptions, now.UTC().Format(time.DateOnly)); err != nil {
		return err
	}
	l := e.loader()
	var res store.ApplyResult
	err = st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.AddException(&x, now); err != nil {
			return err
		}
		res, err = l.ApplyExceptions(tx)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nRecorded %s: %s, %s: %d findings excepted until %s\n", x.Name(), x.Type, x.Scope, res.Excepted, x.Until)
	return nil
}

// demoDB is the demo's own store.
const demoDB = "qvt-demo.db"

// freshDemoStore replaces the demo's store with an empty one, under the
// writer lock, if the demo made it: any other store at that path is
// refused, never removed.
func (e *env) freshDemoStore(ctx context.Context) error {
	if err := e.lockStore(ctx); err != nil {
		return err
	}
	o, err := store.ReadOrigin(ctx, e.cfg.DB)
	switch {
	case errors.Is(err, store.ErrNoStore):
	case err != nil:
		return fmt.Errorf("%w: refusing to replace it (name another file with --db)", err)
	case o.By != "demo":
		hint := "name another file with --db"
		if o.By == "" {
			// Demos before stores recorded their maker made such stores too.
			hint = "remove it yourself if an older qvt's demo made it, or " + hint
		}
		return fmt.Errorf("%s holds %s, not the demo: refusing to replace it (%s)", store.Shown(e.cfg.DB), o, hint)
	}
	if store.IsPostgres(e.cfg.DB) {
		// A database is not removed: the demo's store is emptied, and
		// made the demo's again.
		if err == nil {
			if err := store.Empty(ctx, e.cfg.DB); err != nil {
				return err
			}
		}
		st, err := store.OpenWith(ctx, e.cfg.DB, store.Options{Create: true, Maker: "demo", Writer: true})
		if err != nil {
			return err
		}
		return st.Close()
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(e.cfg.DB + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	st, err := store.OpenWith(ctx, e.cfg.DB, store.Options{Create: true, Maker: "demo", Writer: true})
	if err != nil {
		return err
	}
	return st.Close()
}

// checkListen tries the dashboard's address before anything else, so that
// a busy address, or one the dashboard refuses, fails at once rather than
// after the syncs. The rule on logins is the dashboard's own
// (web.Server.ListenAndServe).
func checkListen(cfg web.Config) error {
	addr := cmp.Or(cfg.Addr, web.DefaultAddr)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dashboard address %q: %w (want host:port, e.g. 127.0.0.1:8080)", addr, err)
	}
	ip := net.ParseIP(host)
	if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) && !cfg.Auth.Enabled() {
		return fmt.Errorf("the dashboard refuses to serve on %s without a login: configure web.auth, or bind 127.0.0.1 (--addr)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("the dashboard cannot listen on %s: %w (choose another --addr, or --no-serve)", addr, err)
	}
	return ln.Close()
}
