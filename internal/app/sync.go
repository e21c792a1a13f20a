package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"qvt/internal/nvd"
	"qvt/internal/pull"
	"qvt/internal/qualys"
	"qvt/internal/retry"
	"qvt/internal/store"
)

// syncFlags are the options of sync, run and demo.
type syncFlags struct {
	full      bool
	skipNVD   bool
	skipKEV   bool
	skipEPSS  bool
	skipKB    bool
	batch     int
	workers   int
	overlap   time.Duration
	kbMaxAge  time.Duration
	nvdWindow time.Duration  // tests and the demo shorten NVD's rolling window
	maxWait   time.Duration  // 0: the clients' default
	flags     *pflag.FlagSet // to tell a --max-wait given from its default
	// waited, when set, adds up the time the Qualys and NVD clients slept:
	// the waits their rate limits asked for and their retries' backoff.
	waited *atomic.Int64
}

// sleep is the clients' sleep, counting into f.waited.
func (f syncFlags) sleep() func(context.Context, time.Duration) error {
	if f.waited == nil {
		return nil // the clients' default
	}
	return func(ctx context.Context, d time.Duration) error {
		start := time.Now()
		err := retry.Sleep(ctx, d)
		f.waited.Add(int64(time.Since(start)))
		return err
	}
}

func (f *syncFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.full, "full", false, "fetch everything again: NVD, the whole KnowledgeBase, all detections")
	fl.BoolVar(&f.skipNVD, "skip-nvd", false, "do not sync NVD (CVE scores then come from the KB only)")
	fl.BoolVar(&f.skipKEV, "skip-kev", false, "do not fetch CISA's Known Exploited Vulnerabilities catalog (KEV_URL)")
	fl.BoolVar(&f.skipEPSS, "skip-epss", false, "do not fetch FIRST's daily EPSS scores (EPSS_URL)")
	fl.BoolVar(&f.skipKB, "skip-kb", false, "do not sync the KnowledgeBase (detections only)")
	fl.IntVar(&f.batch, "batch", 1000, "host IDs per detection request")
	fl.IntVar(&f.workers, "workers", 4, "requests in flight at most (Qualys' concurrency limit caps it further)")
	fl.DurationVar(&f.overlap, "overlap", 24*time.Hour, "how far back incremental syncs reach before the last one, so late publications are not missed")
	fl.DurationVar(&f.kbMaxAge, "kb-max-age", 7*24*time.Hour, "run a full KnowledgeBase sync when the last one is older")
	fl.DurationVar(&f.maxWait, "max-wait", retry.DefaultMaxWait, "fail, rather than sleep, when Qualys or NVD asks to wait longer than this before the next request; overrides the configuration's limits.max_wait")
	f.flags = fl
}

// check refuses values that would mean nothing, or a gap in what
// incremental syncs fetch.
func (f *syncFlags) check() error {
	switch {
	case f.batch < 1:
		return usagef("--batch %d: host IDs per detection request must be 1 or more", f.batch)
	case f.workers < 1:
		return usagef("--workers %d: requests in flight must be 1 or more", f.workers)
	case f.overlap <= 0:
		return usagef("--overlap %v: must be more than 0 (a sync reaches that far back before the last one, so late publications are not missed)", f.overlap)
	case f.kbMaxAge <= 0:
		return usagef("--kb-max-age %v: must be more than 0", f.kbMaxAge)
	case f.maxWait < 0:
		return usagef("--max-wait %v: must be 0 (the default, %v) or more", f.maxWait, retry.DefaultMaxWait)
	}
	return nil
}

func (f *syncFlags) options() pull.Options {
	return pull.Options{Full: f.full, SkipNVD: f.skipNVD, SkipKEV: f.skipKEV, SkipEPSS: f.skipEPSS, SkipKB: f.skipKB, BatchSize: f.batch, Workers: f.workers, Overlap: f.overlap, KBMaxAge: f.kbMaxAge}
}

func (e *env) syncCommand() *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Fetch NVD, KEV, EPSS, the KB and detections and rebuild findings",
		Long: `Fetch NVD's CVE records, CISA's Known Exploited Vulnerabilities catalog,
FIRST's EPSS scores, the Qualys KnowledgeBase and the host detections (New,
Active, Re-Opened and Fixed, with their QDS) into the store and rebuild the
findings, their scores and priorities (docs/priority.md).

The first sync fetches everything; later ones fetch what changed since the
last successful sync (moved back by --overlap so late publications are not
missed), plus every QID detections name that the KB lacks, and a full KB
when the last one is older than --kb-max-age. An interrupted sync resumes
where it stopped; watermarks move only when a whole sync succeeds.

Qualys: QUALYS_API_URL or QUALYS_PLATFORM (US1…US4, EU1…EU3, IN1, CA1, AE1,
UK1, AU1, KSA1), QUALYS_USERNAME, QUALYS_PASSWORD. NVD: NVD_API_URL,
NVD_API_KEY (optional; without it NVD allows 5 requests per 30 s). Feeds:
KEV_URL, EPSS_URL (public; a mirror's address for a closed network).`,
		Example: `  export QUALYS_PLATFORM=EU1 QUALYS_USERNAME=... QUALYS_PASSWORD=...
  qvt sync --full     # the first time
  qvt sync            # daily`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runSync(cmd.Context(), f)
		},
	}
	f.add(cmd)
	e.addQuiet(cmd)
	return cmd
}

// clients builds the API clients from the configuration, and returns the
// Qualys API's base URL.
func (e *env) clients(f syncFlags) (*qualys.Client, *nvd.Client, string, error) {
	lim := e.cfg.Limits
	if f.flags == nil || !f.flags.Changed("max-wait") {
		f.maxWait = lim.MaxWait // the flag overrides the file
	}
	base := e.cfg.Qualys.APIURL
	if base == "" {
		if e.cfg.Qualys.Platform == "" {
			return nil, nil, "", errors.New("no Qualys API: set QUALYS_API_URL or QUALYS_PLATFORM (e.g. EU1)")
		}
		var err error
		if base, err = qualys.PlatformURL(e.cfg.Qualys.Platform); err != nil {
			return nil, nil, "", err
		}
	}
	if e.cfg.Qualys.Username == "" || e.cfg.Qualys.Password == "" {
		return nil, nil, "", errors.New("no Qualys credentials: set QUALYS_USERNAME and QUALYS_PASSWORD")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, nil, "", fmt.Errorf("QUALYS_API_URL %q: %w", base, err)
	}
	ip := net.ParseIP(u.Hostname())
	q, err := qualys.NewClient(qualys.ClientConfig{
		NoGzip:    u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()),
		BaseURL:   base,
		Username:  e.cfg.Qualys.Username,
		Password:  e.cfg.Qualys.Password,
		UserAgent: "qvt/" + buildVersion(),
		Log:       e.log,
		MaxWait:   f.maxWait,
		Sleep:     f.sleep(),

		ConnectBudget: lim.ConnectBudget,
		BodyTimeout:   lim.BodyTimeout,
		MaxIDs:        lim.IDList,
		Limits:        lim.Qualys(),
	})
	if err != nil {
		return nil, nil, "", err
	}
	if f.skipNVD {
		return q, nil, base, nil
	}
	n, err := nvd.NewClient(nvd.ClientConfig{
		BaseURL:   e.cfg.NVD.APIURL,
		APIKey:    e.cfg.NVD.APIKey,
		Window:    f.nvdWindow,
		UserAgent: "qvt/" + buildVersion(),
		Log:       e.log,
		MaxWait:   f.maxWait,
		Sleep:     f.sleep(),

		ConnectBudget: lim.ConnectBudget,
		BodyTimeout:   lim.BodyTimeout,
		Limits:        lim.NVD(),
	})
	if err != nil {
		return nil, nil, "", err
	}
	return q, n, base, nil
}

func (e *env) runSync(ctx context.Context, f syncFlags) error {
	_, err := e.runJob(ctx, e.commandJob(f))
	return err
}

// printSync prints the one-screen summary of a sync.
func (e *env) printSync(ctx context.Context, st *store.Store, res pull.Result, took time.Duration) error {
	w := e.stdout
	resumed := ""
	if res.Resumed {
		resumed = fmt.Sprintf(", resumed (%d batches already done", res.Skipped)
		if len(res.Finished) > 0 {
			resumed += "; " + strings.Join(res.Finished, " and ") + " already synced"
		}
		resumed += ")"
	}
	fmt.Fprintf(w, "%s sync done in %s%s\n", res.Kind, took.Round(time.Millisecond), resumed)
	kb := "changes"
	if res.KBFull {
		kb = "full"
	}
	fmt.Fprintf(w, "  fetched: %d CVE records, %d KB entries (%s), %d hosts with %d detections in %d batches, %d missing QIDs\n",
		res.CVEs, res.Vulns, kb, res.Hosts, res.Detections, res.Batches, res.Missing)
	if k := res.KEV; k.Entries > 0 {
		if k.Unchanged {
			fmt.Fprintf(w, "  KEV catalog: unchanged (%d entries)\n", k.Entries)
		} else {
			fmt.Fprintf(w, "  KEV catalog: %d entries, %d added, %d edited, %d removed\n", k.Entries, k.Added, k.Changed, k.Removed)
		}
	}
	if p := res.EPSS; p.Scores > 0 {
		fmt.Fprintf(w, "  EPSS: %d scores, %d changed\n", p.Scores, p.Changed)
	}
	if !res.Start.IsZero() {
		ch, err := st.Changes(ctx, res.Start.Unix())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  since the last sync: %s\n", ch)
	}
	return e.printSummary(ctx, st)
}
