package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/clock"
	"qvt/internal/export"
	"qvt/internal/priority"
	"qvt/internal/store"
)

// planFormats are the formats of `qvt plan`.
var planFormats = []string{"table", "json", "csv"}

func (e *env) planCommand() *cobra.Command {
	var (
		o      exportOptions
		format string
		top    int
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "The fixes that remove the most risk, most urgent first",
		Long: `Group the open findings by the fix that removes them (the first vendor
reference of their QID, e.g. RHSA-2021:1062 or KB5034441, so one advisory
that several QIDs name is one fix; a QID without one is its own fix) and
rank the fixes by what each removes: P1 findings first, then P2, P3, P4,
then the highest EPSS score (docs/priority.md).

The table shows the top rows (--top); json and csv write every row. The
filters of qvt export apply, and --host gives one host's plan.`,
		Example: `  qvt plan
  qvt plan --host 10.1.2.3 --format json
  qvt plan --tag DMZ --priority P1,P2 --format csv -o fix-first.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := clock.Now()
			f, err := o.filter(now)
			if err != nil {
				return err
			}
			format = strings.ToLower(strings.TrimSpace(format))
			if !slices.Contains(planFormats, format) {
				return usagef("--format: unknown format %q (want %s)", format, strings.Join(planFormats, ", "))
			}
			if top < 1 {
				return usagef("--top %d: show 1 row or more", top)
			}
			if len(f.States) == 0 {
				f.Open = true // the plan is of open findings
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := Plan(ctx, st, f, now)
			if err != nil {
				return fmt.Errorf("plan: %w", err)
			}
			var w io.Writer = e.stdout
			if o.out != "" && o.out != "-" {
				file, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("plan: %w", err)
				}
				defer file.Close()
				w = file
			}
			switch format {
			case "json":
				err = writePlanJSON(w, rows)
			case "csv":
				err = writePlanCSV(w, rows)
			default:
				err = writePlanTable(w, rows, top)
			}
			if err != nil {
				return fmt.Errorf("plan: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "table", "table (the top rows), json or csv (every row)")
	fl.StringVarP(&o.out, "output", "o", "", "write to this file instead of standard output")
	fl.IntVar(&top, "top", 20, "rows of the table")
	o.addFilters(fl)
	return cmd
}

// Plan reads the findings f selects and returns the plan of their open
// ones, as of now's UTC day.
func Plan(ctx context.Context, st *store.Store, f store.Filter, now time.Time) ([]priority.PlanRow, error) {
	p := priority.NewPlanner(now.UTC().Format(time.DateOnly))
	err := st.Findings(ctx, f, func(r *store.Row) error {
		p.Add(&r.Finding)
		return nil
	})
	return p.Rows(), err
}

func writePlanJSON(w io.Writer, rows []priority.PlanRow) error {
	if rows == nil {
		rows = []priority.PlanRow{}
	}
	for i := range rows {
		if rows[i].QIDs == nil {
			rows[i].QIDs = []int{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// planColumns are the CSV header: the plan row's fields.
var planColumns = []string{"rank", "fix", "title", "qids", "hosts", "findings", "p1", "p2", "p3", "p4", "overdue", "kev", "max_epss", "solution"}

func writePlanCSV(w io.Writer, rows []priority.PlanRow) error {
	c := csv.NewWriter(w)
	if err := c.Write(planColumns); err != nil {
		return err
	}
	for i, r := range rows {
		qids := make([]string, len(r.QIDs))
		for j, q := range r.QIDs {
			qids[j] = strconv.Itoa(q)
		}
		epss := ""
		if r.MaxEPSS != nil {
			epss = strconv.FormatFloat(*r.MaxEPSS, 'f', -1, 64)
		}
		rec := []string{strconv.Itoa(i + 1), export.Cell(r.Fix), export.Cell(r.Title), strings.Join(qids, ";"), strconv.Itoa(r.Hosts),
			strconv.Itoa(r.Findings), strconv.Itoa(r.P1), strconv.Itoa(r.P2), strconv.Itoa(r.P3), strconv.Itoa(r.P4),
			strconv.Itoa(r.Overdue), strconv.FormatBool(r.KEV), epss, export.Cell(r.Solution)}
		if err := c.Write(rec); err != nil {
			return err
		}
	}
	c.Flush()
	return c.Error()
}

func writePlanTable(w io.Writer, rows []priority.PlanRow, top int) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no open findings: nothing to fix")
		return err
	}
	open, p1, p2 := 0, 0, 0
	for _, r := range rows {
		open += r.Findings
		p1 += r.P1
		p2 += r.P2
	}
	fmt.Fprintf(w, "%d fixes remove %d open findings (%d P1, %d P2); the top %d:\n\n", len(rows), open, p1, p2, min(top, len(rows)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tFIX\tP1\tP2\tP3\tP4\tOVERDUE\tHOSTS\tKEV\tEPSS\tTITLE")
	for i, r := range rows[:min(top, len(rows))] {
		kev := ""
		if r.KEV {
			kev = "KEV"
		}
		epss := "-"
		if r.MaxEPSS != nil {
			epss = strconv.FormatFloat(*r.MaxEPSS, 'f', 3, 64)
		}
		title := terminalSafe(r.Title, "")
		if n := 60; len([]rune(title)) > n {
			title = string([]rune(title)[:n-1]) + "…"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", i+1, terminalSafe(r.Fix, ""), r.P1, r.P2, r.P3, r.P4,
			r.Overdue, r.Hosts, kev, epss, title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rows) > top {
		_, err := fmt.Fprintf(w, "\n%d more: --top %d, or --format csv for all\n", len(rows)-top, len(rows))
		return err
	}
	return nil
}
