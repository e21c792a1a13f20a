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
	hosts, cves, qids, tags, priorities       []string
	owners                                    []string
	overdue, kev                              bool
	excepted, notExcepted                     bool
	minEPSS, sort                             string
}

func (o *exportOptions) add(fl *pflag.FlagSet) {
	fl.StringVar(&o.format, "format", "json", "json, ndjson, csv or legacy")
	fl.StringVarP(&o.out, "output", "o", "", "write to this file instead of standard output")
	o.addFilters(fl)
	fl.StringVar(&o.sort, "sort", "key", "key (the store's order) or priority (most urgent first: priority, KEV, EPSS, environmental score, due date)")
}

// addFilters adds the filter flags alone (qvt plan has its own formats
// and order).
func (o *exportOptions) addFilters(fl *pflag.FlagSet) {
	fl.StringVar(&o.status, "status", "", "open (not closed), closed (for any reason), all, a Qualys status of open findings\n(New, Active, Re-Opened) or why they closed (fixed, gone, ignored, disabled); comma-separate several")
	fl.StringVar(&o.minRating, "min-rating", "", "lowest rating to include: Low, Medium, High, Critical")
	fl.StringSliceVar(&o.hosts, "host", nil, "only these hosts (IP, hostname or Qualys host ID; repeat or comma-separate)")
	fl.StringSliceVar(&o.qids, "qid", nil, "only these QIDs")
	fl.StringSliceVar(&o.cves, "cve", nil, "only findings whose QID lists one of these CVEs (CVE-2024-3094)")
	fl.StringArrayVar(&o.tags, "tag", nil, "only hosts with this Qualys tag (case-insensitive; repeat for any of several)")
	fl.BoolVar(&o.overdue, "overdue", false, "only open findings past their deadline")
	fl.StringVar(&o.dueWithin, "due-within", "", "only open findings due within this many days from today (7 or 7d); with --overdue, the overdue ones too")
	fl.StringSliceVar(&o.priorities, "priority", nil, "only findings of these priorities (P1, P2, P3, P4; comma-separate several)")
	fl.BoolVar(&o.kev, "kev", false, "only findings whose QID lists a CVE in CISA's Known Exploited Vulnerabilities catalog")
	fl.StringVar(&o.minEPSS, "min-epss", "", "only findings whose QID's highest EPSS score is at least this (0 to 1, e.g. 0.1)")
	fl.StringArrayVar(&o.owners, "owner", nil, "only findings of this owner (any case; none for the findings no rule owns; repeat for any of several)")
	fl.BoolVar(&o.excepted, "excepted", false, "only findings an active exception covers (qvt except)")
	fl.BoolVar(&o.notExcepted, "not-excepted", false, "only findings no active exception covers")
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
	for _, p := range splitList(o.priorities) {
		i := slices.IndexFunc(finding.Priorities, func(x string) bool { return strings.EqualFold(x, p) })
		if i < 0 {
			return f, usagef("--priority: unknown priority %q (want P1, P2, P3 or P4)", p)
		}
		f.Priorities = append(f.Priorities, finding.Priorities[i])
	}
	f.KEV = o.kev
	if o.minEPSS != "" {
		v, err := strconv.ParseFloat(strings.TrimSpace(o.minEPSS), 64)
		if err != nil || v < 0 || v > 1 {
			return f, usagef("--min-epss: %q is not an EPSS score (want a number from 0 to 1, e.g. 0.1)", o.minEPSS)
		}
		f.MinEPSS = &v
	}
	for _, name := range o.owners {
		if name = strings.TrimSpace(name); name == "" {
			return f, usagef("--owner: give an owner's name, or none for the findings no rule owns")
		}
		f.Owners = append(f.Owners, name)
	}
	switch {
	case o.excepted && o.notExcepted:
		return f, usagef("--excepted and --not-excepted contradict each other")
	case o.excepted || o.notExcepted:
		v := o.excepted
		f.Excepted = &v
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

// exportSort is the --sort value, read without regard to case; the
// legacy records have no priority fields to sort by.
func exportSort(s, format string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(export.Sorts, v) {
		return "", usagef("--sort: unknown order %q (want %s)", s, strings.Join(export.Sorts, " or "))
	}
	if v == "priority" && format == "legacy" {
		return "", usagef("--sort priority: the legacy format has no priority fields; use json, ndjson or csv")
	}
	return v, nil
}

// exportFormat is the --format value, read without regard to case.
func exportFormat(s string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(export.Formats, f) {
		return "", usagef("--format: unknown format %q (want %s)", s, strings.Join(export.Formats, ", "))
	}
	return f, nil
}
