package app

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"qvt/internal/clock"
	"qvt/internal/finding"
	"qvt/internal/owners"
	"qvt/internal/store"
)

func (e *env) ownersCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "owners",
		Short: "Each owner, its rule, hosts and open findings by priority",
		Long: `List each owner of the configuration's owners: rules, in their order, then
the owners the store still holds that the rules no longer name, then
"(none)" for the findings no rule owns: its rule in short, its hosts, its
open findings by priority (by rating before priorities exist), how many are
overdue (past their deadline, excepted ones left out) and how many are
excepted. qvt export --owner NAME lists an owner's findings.`,
		Example: `  qvt owners
  qvt owners --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format = strings.ToLower(strings.TrimSpace(format))
			if format != "table" && format != "json" {
				return usagef("--format: unknown format %q (want table or json)", format)
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			stats, err := st.OwnerSummary(ctx, clock.Today())
			if err != nil {
				return fmt.Errorf("owners: %w", err)
			}
			rows := ownerRows(e.cfg.Owners, stats)
			if format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return writeOwners(e.stdout, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

// ownerRow is one owner in qvt owners.
type ownerRow struct {
	Owner         string         `json:"owner"` // "" for the findings no rule owns
	Rule          string         `json:"rule"`  // the rule in short; "" for none
	Configured    bool           `json:"configured"`
	Hosts         int            `json:"hosts"`
	Open          int            `json:"open"`
	ByPriority    map[string]int `json:"by_priority"`
	ByRating      map[string]int `json:"by_rating"`
	Overdue       int            `json:"overdue"`
	PastDue       int            `json:"past_due"`
	DueSoon       int            `json:"due_soon"`
	Excepted      int            `json:"excepted"`
	Fixed         int            `json:"fixed"`
	FixedInTime   int            `json:"fixed_in_time"`
	MeanDaysToFix *float64       `json:"mean_days_to_fix"` // null when none is fixed
}

// ownerRows puts the store's counts in the configuration's order: each
// rule, then owners only the store knows (rules changed since), then the
// unowned.
func ownerRows(set owners.Set, stats []store.OwnerStats) []ownerRow {
	byName := map[string]store.OwnerStats{}
	for _, s := range stats {
		byName[s.Owner] = s
	}
	row := func(name, rule string, configured bool) ownerRow {
		s := byName[name]
		delete(byName, name)
		r := ownerRow{Owner: name, Rule: rule, Configured: configured, Hosts: s.Hosts, Open: s.Open,
			ByPriority: nonNil(s.ByPriority), ByRating: nonNil(s.ByRating), Overdue: s.Overdue, PastDue: s.PastDue,
			DueSoon: s.DueSoon, Excepted: s.Excepted, Fixed: s.Fixed, FixedInTime: s.FixedInTime}
		if s.Fixed > 0 {
			m := math.Round(s.MeanDaysToFix*10) / 10
			r.MeanDaysToFix = &m
		}
		return r
	}
	var out []ownerRow
	seen := map[string]bool{}
	for _, r := range set {
		if seen[r.Name] {
			continue // names are unique (Validate); this keeps one row each regardless
		}
		seen[r.Name] = true
		out = append(out, row(r.Name, ruleShort(set, r.Name), true))
	}
	var rest []string
	for name := range byName {
		if name != "" {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		out = append(out, row(name, "", false))
	}
	return append(out, row("", "", false))
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// ruleShort tells an owner's rule in a line: "tags Legacy DMZ; cidrs
// 10.1.0.0/16".
func ruleShort(set owners.Set, name string) string {
	var alts []string
	for _, r := range set {
		if r.Name != name {
			continue
		}
		var parts []string
		add := func(what string, vals []string) {
			if len(vals) > 0 {
				parts = append(parts, what+" "+strings.Join(vals, ", "))
			}
		}
		add("tags", r.Tags)
		add("cidrs", r.CIDRs)
		var ids []string
		for _, id := range r.HostIDs {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		add("host ids", ids)
		add("hostnames", r.Hostnames)
		add("os", r.OS)
		var qids []string
		for _, q := range r.QIDs {
			qids = append(qids, strconv.Itoa(q))
		}
		add("qids", qids)
		add("categories", r.Categories)
		if r.Default {
			parts = append(parts, "default")
		}
		if len(parts) == 0 {
			parts = append(parts, "every host")
		}
		alts = append(alts, strings.Join(parts, "; "))
	}
	return strings.Join(alts, " or ")
}

func writeOwners(w io.Writer, rows []ownerRow) error {
	// Priorities once the store has them, else ratings.
	byPriority := false
	for _, r := range rows {
		for p, n := range r.ByPriority {
			if p != "" && n > 0 {
				byPriority = true
			}
		}
	}
	cols := finding.Priorities
	if !byPriority {
		cols = nil
		for i := len(finding.Ratings) - 1; i >= 0; i-- {
			if finding.Ratings[i] != "None" {
				cols = append(cols, finding.Ratings[i])
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "OWNER\tRULE\tHOSTS\tOPEN\t%s\tOVERDUE\tEXCEPTED\tFIXED IN TIME\n", strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		name := terminalSafe(r.Owner, "")
		switch {
		case r.Owner == "":
			name = "(none)"
		case !r.Configured:
			name += " (no rule)"
		}
		rule := terminalSafe(r.Rule, "")
		if n := 50; len([]rune(rule)) > n {
			rule = string([]rune(rule)[:n-1]) + "…"
		}
		var counts []string
		for _, c := range cols {
			n := r.ByRating[c]
			if byPriority {
				n = r.ByPriority[c]
			}
			counts = append(counts, strconv.Itoa(n))
		}
		inTime := "-"
		if r.Fixed > 0 {
			inTime = fmt.Sprintf("%d%% of %d", int(math.Round(100*float64(r.FixedInTime)/float64(r.Fixed))), r.Fixed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%d\t%s\n", name, orDash(rule), r.Hosts, r.Open, strings.Join(counts, "\t"),
			r.Overdue, r.Excepted, inTime)
	}
	return tw.Flush()
}
