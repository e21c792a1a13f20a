package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/clock"
	"qvt/internal/export"
	"qvt/internal/finding"
	"qvt/internal/load"
	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/unixtime"
)

// openStore opens the store for reading. A missing store is an error:
// only the commands that fill a store create one.
func (e *env) openStore(ctx context.Context) (*store.Store, error) {
	st, err := store.OpenWith(ctx, e.cfg.DB, store.Options{})
	return st, e.noStore(err)
}

// noStore rewrites store.ErrNoStore as what to do about it.
func (e *env) noStore(err error) error {
	if errors.Is(err, store.ErrNoStore) {
		return fmt.Errorf("no store at %s (run qvt sync or qvt import first)", store.Shown(e.cfg.DB))
	}
	return err
}

// openWriter takes the store's writer lock for the command (held until
// qvt exits) and opens the store. maker ("sync", "import") lets it create
// a missing store; "" wants an existing one.
func (e *env) openWriter(ctx context.Context, maker string) (*store.Store, error) {
	if maker == "" {
		// Check first: the lock file beside a store that does not exist
		// would be a file created for nothing.
		if ok, err := store.Exists(e.cfg.DB); err != nil || !ok {
			return nil, e.noStore(cmp.Or(err, store.ErrNoStore))
		}
	}
	if err := e.lockStore(ctx); err != nil {
		return nil, err
	}
	st, err := store.OpenWith(ctx, e.cfg.DB, store.Options{Create: maker != "", Maker: maker, Writer: true})
	return st, e.noStore(err)
}

// lockStore takes the writer lock of the store for the running command,
// unless it holds it already (run syncs, then publishes, under one lock).
func (e *env) lockStore(ctx context.Context) error {
	if e.lock != nil {
		return nil
	}
	l, err := store.LockWriter(ctx, e.cfg.DB, store.LockOptions{
		Command: e.command,
		Wait:    e.wait,
		Via:     e.lockVia(e.cfg.DB),
		Waiting: func(busy *store.BusyError) {
			e.log.Info("waiting for the store", "reason", busy.Error())
		},
	})
	if err != nil {
		return err
	}
	e.lock = l
	return nil
}

// unlockStore releases the writer lock, if held.
func (e *env) unlockStore() {
	if e.lock != nil {
		e.lock.Release()
		e.lock = nil
	}
}

// openSyncStore opens the store for a sync: as a writer that may create
// it, and only if it holds the data of the subscription the sync is for
// (or none yet), unless --adopt says the change is meant.
func (e *env) openSyncStore(ctx context.Context) (*store.Store, error) {
	st, err := e.openWriter(ctx, "sync")
	if err != nil {
		return nil, err
	}
	if err := e.checkSubscription(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func (e *env) checkSubscription(ctx context.Context, st *store.Store) error {
	base, err := e.qualysBase()
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	now := store.Subscription{APIURL: base, Username: e.cfg.Qualys.Username}
	was, err := st.Subscription(ctx)
	if err != nil {
		return err
	}
	if was.Same(now) {
		return nil
	}
	if !was.IsZero() && !e.adopt {
		// A store that no sync has filled yet (a first sync refused for a
		// mistyped user name) may change its subscription freely.
		filled, err := st.HasHosts(ctx)
		if err != nil {
			return err
		}
		if filled {
			return fmt.Errorf("sync: %s holds the Qualys subscription of %s; this sync is for %s: "+
				"refusing to mix them (--adopt if the store is to follow the new subscription, or another --db)", store.Shown(e.cfg.DB), was, now)
		}
	}
	if !was.IsZero() {
		e.log.Info("the store follows another Qualys subscription", "was", was.String(), "now", now.String())
	}
	return st.SetSubscription(ctx, now)
}

// qualysBase is the Qualys API URL the configuration names.
func (e *env) qualysBase() (string, error) {
	if e.cfg.Qualys.APIURL != "" {
		return e.cfg.Qualys.APIURL, nil
	}
	if e.cfg.Qualys.Platform == "" {
		return "", errors.New("no Qualys API: set QUALYS_API_URL or QUALYS_PLATFORM (e.g. EU1)")
	}
	return qualys.PlatformURL(e.cfg.Qualys.Platform)
}

func (e *env) loader() *load.Loader {
	return &load.Loader{Policy: e.cfg.Policy(), Priority: e.cfg.Priority(), Envs: e.cfg.Environments, Limits: e.cfg.Limits.Load(), Log: e.log,
		Owners: e.cfg.Owners, Exceptions: e.cfg.Exceptions, Now: clock.Now}
}

func (e *env) importCommand() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Load Qualys KB, host detection and NVD files into the store",
		Long: `Load files into the store and rebuild the findings: Qualys KnowledgeBase XML,
Qualys host list detection XML and NVD CVE JSON (an API 2.0 response, a
nvdcve-2.0 feed, a single record, or a legacy 1.1 feed), each optionally
gzip-compressed. The kind of each file is told from its content.

All files are loaded in one transaction: if any file is unreadable or
malformed, qvt names the file and where it broke, exits 1 and leaves the
store exactly as it was.`,
		Example: `  qvt import kb.xml.gz detections.xml nvdcve-2.0-2024.json.gz`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("import: name at least one file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := e.openWriter(ctx, "import")
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			res, err := e.loader().Files(ctx, st, args)
			if err != nil {
				return fmt.Errorf("import: %w (the store is unchanged)", err)
			}
			if quiet {
				return nil
			}
			for _, f := range res.Files {
				switch f.Kind {
				case load.KindDetections:
					fmt.Fprintf(e.stdout, "%s: %s, %d hosts, %d detections\n", f.Name, f.Kind, f.Records, f.Details)
				default:
					fmt.Fprintf(e.stdout, "%s: %s, %d records\n", f.Name, f.Kind, f.Records)
				}
			}
			fmt.Fprintf(e.stdout, "imported in %s: %d KB entries changed, %d CVE records changed, %d QIDs scored, %d detections rerated\n",
				time.Since(start).Round(time.Millisecond), res.VulnsChanged, res.CVEsChanged, res.Scored, res.Rerated)
			if res.Stale > 0 {
				fmt.Fprintf(e.stdout, "%d hosts not written: the store holds newer data for them\n", res.Stale)
			}
			for _, f := range res.Files {
				if f.Kind == load.KindDetections && f.Seen != 0 {
					fmt.Fprintf(e.stdout, "%s (data of %s): %s\n", f.Name, unixtime.Format(f.Seen), f.Changes)
				}
			}
			return e.printSummary(ctx, st)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing on success")
	return cmd
}

func (e *env) printSummary(ctx context.Context, st *store.Store) error {
	sum, err := st.Summarize(ctx, clock.Now())
	if err != nil {
		return err
	}
	return writeSummary(e.stdout, sum)
}

func writeSummary(w io.Writer, sum store.Summary) error {
	var b strings.Builder
	// Open and closed, and each by state, add up to the total: one
	// vocabulary with export --status and the dashboard.
	fmt.Fprintf(&b, "findings: %d (%d open, %d closed)\n", sum.Total, sum.Open, sum.Total-sum.Open)
	b.WriteString("  open:")
	for _, s := range finding.OpenStatuses {
		fmt.Fprintf(&b, "  %s %d", s, sum.ByState[s])
	}
	b.WriteString("\n  closed:")
	for _, s := range finding.ClosedReasons {
		fmt.Fprintf(&b, "  %s %d", s, sum.ByState[s])
	}
	b.WriteString("\n  open by rating:")
	for i := len(finding.Ratings) - 1; i >= 0; i-- {
		r := finding.Ratings[i]
		fmt.Fprintf(&b, "  %s %d", r, sum.ByRating[r])
	}
	fmt.Fprintf(&b, "\n  overdue: %d   due within 7 days: %d", sum.Overdue, sum.DueSoon)
	if sum.Excepted > 0 {
		// Those are in neither count: say where they went.
		fmt.Fprintf(&b, "   excepted: %d", sum.Excepted)
	}
	b.WriteString("\n")
	if sum.Open > 0 {
		b.WriteString("  open by priority:")
		for _, p := range finding.Priorities {
			fmt.Fprintf(&b, "  %s %d", p, sum.ByPriority[p])
		}
		fmt.Fprintf(&b, "   past due date: %d\n  open in CISA KEV: %d (past due date: %d)\n", sum.PastDue, sum.KEV, sum.KEVPastDue)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (e *env) exportCommand() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the finding list (JSON, NDJSON, CSV or the old tool's records)",
		Long: `Write the findings in the store, sorted by key (or with --sort priority,
most urgent first), in one of these formats:

  json    a JSON array of objects with the fields of docs/findings.md
  ndjson  the same objects, one per line
  csv     a header row and the same columns (lists joined with ';'; text
          that a spreadsheet would run as a formula starts with ')
  legacy  the old qualys.py record shape: one object keyed by finding key

The filters are the dashboard's: --status open (the default view there) is
every finding not closed; closed is every closed one, whatever the reason.`,
		Example: `  qvt export --format json > findings.json
  qvt export --format csv --status open --min-rating High -o open-high.csv
  qvt export --status ignored,disabled --tag DMZ
  qvt export --overdue --due-within 7d --format csv
  qvt export --host 10.1.2.3 --cve CVE-2021-44228
  qvt export --priority P1,P2 --sort priority --format csv -o fix-now.csv
  qvt export --kev --status open --format ndjson`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := o.filter(clock.Now())
			if err != nil {
				return err
			}
			format, err := exportFormat(o.format)
			if err != nil {
				return err
			}
			order, err := exportSort(o.sort, format)
			if err != nil {
				return err
			}
			// The store first: a missing store leaves no output file behind.
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var w io.Writer = e.stdout
			if o.out != "" && o.out != "-" {
				// Findings are the inventory of what is exploitable: owner only.
				file, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer file.Close()
				w = file
			}
			ew, err := export.New(format, w)
			if err != nil {
				return usagef("--format: %v", err)
			}
			if order == "priority" {
				ew = export.Sorted(ew, "")
			}
			if err := st.Findings(ctx, f, ew.Write); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := ew.Close(); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			return nil
		},
	}
	o.add(cmd.Flags())
	return cmd
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
