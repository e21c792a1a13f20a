package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"golang.org/x/term"

	"qvt/internal/store"
)

func (e *env) storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Copy a store, or say what one holds (store copy, store info)",
		Long: `Commands on a store as a whole: copy one into another (SQLite to PostgreSQL,
PostgreSQL to SQLite, or either to its own kind), and say what one holds.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(e.storeCopyCommand(), e.storeInfoCommand())
	return cmd
}

func (e *env) storeCopyCommand() *cobra.Command {
	var from, to string
	var force bool
	cmd := &cobra.Command{
		Use:   "copy --from STORE --to STORE",
		Short: "Copy a whole store into another, SQLite or PostgreSQL",
		Long: `Copy everything a store holds into another: the raw KnowledgeBase, NVD,
host, tag and detection data, the scores, every finding's history (with
its ids), the sync watermarks and runs, the publish mappings and state,
and the store's revision, maker and Qualys subscription. Each store is an
SQLite file or a postgres:// URL; afterwards qvt export gives the same
bytes from either.

The source is read as one snapshot and never written (a sync may run on
it meanwhile; the copy holds what it held when the copy began). Its schema
must be this qvt's: a store an older qvt made is upgraded by any command
that writes it (sync, import, rescore). The target is created if missing,
its schema brought up to date, and written in one transaction: a copy that
fails or is interrupted leaves it as it was. A target that holds data is
refused unless --force, which replaces what it holds. The copy takes the
target's writer lock (--wait to wait for it).

Rows stream table by table, a few thousand at a time: a store of any size
copies in little memory. On a terminal a bar per table shows the progress.`,
		Example: `  qvt store copy --from ./qvt.db --to "postgres://qvt@db.internal/qvt?sslmode=verify-full"
  qvt store copy --from "$QVT_DB" --to ./backup.db
  qvt store copy --from ./qvt.db --to ./other.db --force`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e.urlSecrets = append(e.urlSecrets, urlPassword(from), urlPassword(to))
			if from == "" || to == "" {
				return usagef("store copy: name both stores, --from and --to")
			}
			ctx := cmd.Context()
			e.command = "store copy"
			lock, err := store.LockWriter(ctx, to, store.LockOptions{
				Command: e.command, Wait: e.wait, Via: e.lockVia(to),
				Waiting: func(busy *store.BusyError) { e.log.Info("waiting for the store", "reason", busy.Error()) },
			})
			if err != nil {
				return fmt.Errorf("store copy: %w", err)
			}
			e.lock = lock
			progress, wait := e.copyProgress()
			start := time.Now()
			res, err := store.Copy(ctx, from, to, store.CopyOptions{Force: force, Progress: progress})
			wait()
			if err != nil {
				return fmt.Errorf("store copy: %w", err)
			}
			fmt.Fprintf(e.stdout, "copied %d rows in %d tables from %s to %s in %s\n",
				res.Rows(), len(res.Tables), store.Shown(from), store.Shown(to), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the store to copy: an SQLite file or a postgres:// URL")
	f.StringVar(&to, "to", "", "the store to fill: an SQLite file or a postgres:// URL")
	f.BoolVar(&force, "force", false, "replace what the target holds")
	f.BoolVar(&e.wait, "wait", false, "wait while another qvt writes the target, instead of exiting")
	return cmd
}

func (e *env) storeInfoCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Say what the store is: engine, schema version, size, rows per table",
		Long: `Print the store's location (without a password), its engine and version, its
schema version and the latest this qvt knows, its size (on SQLite the file
and its write-ahead log; on PostgreSQL each table with its indexes and
TOAST, pg_total_relation_size) and the rows of each table, all read from
one snapshot. It only reads: no schema upgrade, nothing created.`,
		Example: `  qvt store info
  qvt --db "postgres://qvt@db.internal/qvt" store info --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := store.ReadInfo(cmd.Context(), e.cfg.DB)
			if err != nil {
				return e.noStore(err)
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			return writeInfo(e.stdout, in)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeInfo(w io.Writer, in *store.Info) error {
	engine := "SQLite"
	if in.Engine == "postgres" {
		engine = "PostgreSQL"
	}
	schema := fmt.Sprintf("%d", in.Schema)
	switch {
	case in.Schema < in.Latest:
		schema += fmt.Sprintf(" (this qvt's is %d: the next command that writes the store upgrades it)", in.Latest)
	case in.Schema > in.Latest:
		schema += fmt.Sprintf(" (newer than this qvt knows, %d)", in.Latest)
	default:
		schema += " (the latest)"
	}
	size := byteSize(in.Bytes)
	if in.Engine == "sqlite" {
		size += fmt.Sprintf(" (write-ahead log %s)", byteSize(in.WALBytes))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "store:\t%s\n", in.Location)
	fmt.Fprintf(tw, "engine:\t%s %s\n", engine, in.Version)
	fmt.Fprintf(tw, "schema:\t%s\n", schema)
	fmt.Fprintf(tw, "size:\t%s\n", size)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	if in.Engine == "postgres" {
		fmt.Fprintf(tw, "table\trows\tsize\t\n")
	} else {
		fmt.Fprintf(tw, "table\trows\t\n")
	}
	for _, t := range in.Tables {
		if in.Engine == "postgres" {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\n", t.Name, t.Rows, byteSize(t.Bytes))
		} else {
			fmt.Fprintf(tw, "%s\t%d\t\n", t.Name, t.Rows)
		}
	}
	return tw.Flush()
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// copyProgress shows a copy's progress as bars on a terminal; elsewhere
// (and with -v) nothing until the summary.
func (e *env) copyProgress() (store.CopyProgress, func()) {
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !e.verbose && !e.quiet {
		p := mpb.New(mpb.WithOutput(f), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
		return &bars{p: p, bars: map[string]*mpb.Bar{}}, p.Wait
	}
	return nil, func() {}
}

// lockVia is the route the writer lock of the store at loc takes: for the
// store of QVT_DB, QVT_DB_LOCK when set (the same database directly, or
// through a session-mode pool, when QVT_DB goes through a pooler in
// transaction mode).
func (e *env) lockVia(loc string) string {
	if loc == e.cfg.DB && store.IsPostgres(loc) {
		return e.getenv("QVT_DB_LOCK")
	}
	return ""
}

// urlPassword is the password a postgres:// URL holds, "" for none.
func urlPassword(loc string) string {
	if !store.IsPostgres(loc) {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	if p, ok := u.User.Password(); ok {
		return p
	}
	return u.Query().Get("password")
}

// shellWord quotes s for a shell command line when it holds characters a
// shell would take for its own (a URL's ? and &).
func shellWord(s string) string {
	if !strings.ContainsAny(s, "?&;$ '\"*|<>()") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
