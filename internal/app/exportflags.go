package app

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"qvt/internal/export"
	"qvt/internal/finding"
	"qvt/internal/store"
)

// exportOptions are the flags of qvt export: the dashboard's filters,
// with the same vocabulary (finding.StatusFilters).
type exportOptions struct {
	format, out, status, minRating, dueWithin string
	hosts, cves, qids, tags                   []string
	overdue                                   bool
}

func (o *exportOptions) add(fl *pflag.FlagSet) {
	fl.StringVar(&o.format, "format", "json", "json, ndjson, csv or legacy")
	fl.StringVarP(&o.out, "output", "o", "", "write to this file instead of standard output")
	fl.StringVar(&o.status, "status", "", "open (not closed), closed (for any reason), all, a Qualys status of open findings\n(New, Active, Re-Opened) or why they closed (fixed, gone, ignored, disabled); comma-separate several")
	fl.StringVar(&o.minRating, "min-rating", "", "lowest rating to include: Low, Medium, High, Critical")
	fl.StringSliceVar(&o.hosts, "host", nil, "only these hosts (IP, hostname or Qualys host ID; repeat or comma-separate)")
	fl.StringSliceVar(&o.qids, "qid", nil, "only these QIDs")
	fl.StringSliceVar(&o.cves, "cve", nil, "only findings whose QID lists one of these CVEs (CVE-2024-3094)")
	fl.StringArrayVar(&o.tags, "tag", nil, "only hosts with this Qualys tag (case-insensitive; repeat for any of several)")
	fl.BoolVar(&o.overdue, "overdue", false, "only open findings past their deadline")
	fl.StringVar(&o.dueWithin, "due-within", "", "only open findings due within this many days from today (7 or 7d); with --overdue, the overdue ones too")
}

var cveID = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// filter reads the filter flags as of today; a bad value is a usage
// error naming its flag.
func (o *exportOptions) filter(today time.Time) (store.Filter, error) {
	var f store.Filter
	if o.status != "" {
		states, err := parseStatusFilters(o.status)
		if err != nil {
			return f, usagef("--status: %v", err)
		}
		f.States = states
	}
	if o.minRating != "" {
		r := finding.RatingRank(o.minRating)
		if r < 0 {
			return f, usagef("--min-rating: unknown rating %q (want None, Low, Medium, High or Critical)", o.minRating)
		}
		f.MinRating = finding.Ratings[r]
	}
	for _, q := range splitList(o.qids) {
		n, err := strconv.Atoi(q)
		if err != nil || n <= 0 {
			return f, usagef("--qid: %q is not a QID", q)
		}
		f.QIDs = append(f.QIDs, n)
	}
	for _, c := range splitList(o.cves) {
		c = strings.ToUpper(c)
		if !cveID.MatchString(c) {
			return f, usagef("--cve: %q is not a CVE id (want e.g. CVE-2024-3094)", c)
		}
		f.CVEs = append(f.CVEs, c)
	}
	f.Hosts = splitList(o.hosts)
	for _, t := range o.tags {
		if t = strings.TrimSpace(t); t != "" {
			f.Tags = append(f.Tags, t)
		}
	}
	day := today.UTC()
	if o.overdue {
		f.DueTo = day.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	if o.dueWithin != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o.dueWithin)), "d"))
		if err != nil || n < 0 {
			return f, usagef("--due-within: %q is not a number of days (want e.g. 7 or 7d)", o.dueWithin)
		}
		f.DueTo = day.AddDate(0, 0, n).Format(time.DateOnly)
		if !o.overdue {
			f.DueFrom = day.Format(time.DateOnly)
		}
	}
	return f, nil
}

// parseStatusFilters reads a comma-separated list of status filters into
// the states they select; nil selects every finding.
func parseStatusFilters(s string) ([]string, error) {
	var states []string
	some := false
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, ok := finding.ParseStatusFilter(part)
		if !ok {
			return nil, fmt.Errorf("unknown status %q (want %s)", strings.TrimSpace(part), strings.Join(finding.StatusFilters, ", "))
		}
		sel := finding.FilterStates(name)
		if sel == nil {
			return nil, nil // all
		}
		some = true
		states = append(states, sel...)
	}
	if !some {
		return nil, nil
	}
	slices.Sort(states)
	return slices.Compact(states), nil
}

// exportFormat is the --format value, read without regard to case.
func exportFormat(s string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(export.Formats, f) {
		return "", usagef("--format: unknown format %q (want %s)", s, strings.Join(export.Formats, ", "))
	}
	return f, nil
}
