// Package priority turns a finding's exploitation evidence (CISA KEV,
// FIRST EPSS, Qualys QDS, the KB's threat intelligence) and its rating
// into a priority, P1 to P4, that a team can explain in one line, and a
// due date (docs: priority.md). It also orders findings "most urgent
// first" and groups open findings into a plan of fixes.
//
// The package is pure: no I/O and no clock. Today is passed in, and the
// store applies the policy; it does not live in the store.
//
// A rule's `when` holds conditions of two kinds. The evidence conditions
// (kev, kev_ransomware, epss_at_least, percentile_at_least, threat_intel,
// qds_at_least, rating_at_least) are alternatives: the rule matches when
// any one of them holds, as the default "likely exploited" rule reads
// "epss ≥ 0.1, or threat intel …, or qds ≥ 90". The tags condition is a
// scope: a rule with tags applies only to hosts with any of them, and
// with no evidence condition it matches every finding of those hosts. A
// rule with no condition matches always; the last rule must be one.
package priority

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"qvt/internal/finding"
	"qvt/internal/unixtime"
)

// The priorities, most urgent first.
const (
	P1 = "P1"
	P2 = "P2"
	P3 = "P3"
	P4 = "P4"
)

// Priorities are the priority names, most urgent first.
var Priorities = []string{P1, P2, P3, P4}

// Rank orders priorities: P1 0 … P4 3, and 4 for anything else (so an
// unknown or missing priority sorts last).
func Rank(p string) int {
	if len(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '4' {
		return int(p[1] - '1')
	}
	return len(Priorities)
}

// ExploitedThreatIntel are the KB THREAT_INTEL names that put a finding in
// the default "likely exploited" rule: evidence of use in attacks, not
// only of a public exploit.
var ExploitedThreatIntel = []string{"Active_Attacks", "Ransomware", "Malware", "Exploit_Kit", "Wormable"}

// The names of the default rules: they are the priority_reason of the
// findings they prioritize.
const (
	RuleKnownExploited  = "known exploited"
	RuleLikelyExploited = "likely exploited"
	RuleSevere          = "severe"
	RuleOther           = "other"
)

// Input is what the rules read of one finding.
type Input struct {
	KEV, KEVRansomware bool
	KEVDateAdded       string // YYYY-MM-DD or ""
	EPSS, Percentile   *float64
	ThreatIntel        []string
	QDS                *int
	Rating             string   // vuln_score: None, Low, Medium, High, Critical
	Tags               []string // the host's tags (only read when a rule has tags)
	FirstFound         int64    // Unix seconds, 0 when unknown
	BreachDate         string   // YYYY-MM-DD or ""
}

// Result is a finding's priority, the name of the rule that gave it, and
// its due date (YYYY-MM-DD, "" when it has none).
type Result struct{ Priority, Reason, DueDate string }

// Conditions are a rule's `when`. Nil and empty conditions are absent.
type Conditions struct {
	KEV               *bool    `yaml:"kev,omitempty"`
	KEVRansomware     *bool    `yaml:"kev_ransomware,omitempty"`
	EPSSAtLeast       *float64 `yaml:"epss_at_least,omitempty"`
	PercentileAtLeast *float64 `yaml:"percentile_at_least,omitempty"`
	ThreatIntel       []string `yaml:"threat_intel,omitempty"` // any of them (case-insensitive)
	QDSAtLeast        *int     `yaml:"qds_at_least,omitempty"`
	RatingAtLeast     string   `yaml:"rating_at_least,omitempty"`
	Tags              []string `yaml:"tags,omitempty"` // the host has any of them (case-insensitive)
}

// Rule gives its priority to the findings its conditions match.
type Rule struct {
	Name     string     `yaml:"name"`
	Priority string     `yaml:"priority"`
	When     Conditions `yaml:"when,omitempty"`
}

// Policy is the ordered rules (first match wins) and the days a finding
// of each priority has to be fixed (a priority without days has no
// deadline of its own).
type Policy struct {
	Rules []Rule         `yaml:"rules"`
	Days  map[string]int `yaml:"days"`
}

// MaxDays bounds priority.days: a century is no deadline at all, and a
// larger number would only move dates past what the store can write.
const MaxDays = 36500

// Default is the contract's policy: the four default rules and a 14-day
// deadline for P1.
func Default() Policy {
	yes := true
	epss, qds := 0.1, 90
	return Policy{
		Rules: []Rule{
			{Name: RuleKnownExploited, Priority: P1, When: Conditions{KEV: &yes}},
			{Name: RuleLikelyExploited, Priority: P2, When: Conditions{EPSSAtLeast: &epss, ThreatIntel: slices.Clone(ExploitedThreatIntel), QDSAtLeast: &qds}},
			{Name: RuleSevere, Priority: P3, When: Conditions{RatingAtLeast: "High"}},
			{Name: RuleOther, Priority: P4},
		},
		Days: map[string]int{P1: 14},
	}
}

// evidence tells whether c has an evidence condition (one of the
// alternatives); tags are a scope, not evidence.
func (c *Conditions) evidence() bool {
	return c.KEV != nil || c.KEVRansomware != nil || c.EPSSAtLeast != nil || c.PercentileAtLeast != nil ||
		len(c.ThreatIntel) > 0 || c.QDSAtLeast != nil || c.RatingAtLeast != ""
}

// always tells whether c matches every finding.
func (c *Conditions) always() bool { return !c.evidence() && len(c.Tags) == 0 }

// Normalize is p with the names people type in any case spelt as the
// contract does: "p1" is P1, "high" is High. Names that are no priority
// or rating are left as written, for Validate to name. It copies: p is
// not changed.
func (p Policy) Normalize() Policy {
	q := Policy{Rules: make([]Rule, len(p.Rules))}
	if p.Rules == nil {
		q.Rules = nil
	}
	for i, r := range p.Rules {
		r.Name = strings.TrimSpace(r.Name)
		r.Priority = canonicalPriority(r.Priority)
		r.When = r.When.clone()
		if k := finding.RatingRank(strings.TrimSpace(r.When.RatingAtLeast)); k >= 0 {
			r.When.RatingAtLeast = finding.Ratings[k]
		}
		q.Rules[i] = r
	}
	if p.Days != nil {
		q.Days = make(map[string]int, len(p.Days))
		for k, d := range p.Days {
			q.Days[canonicalPriority(k)] = d
		}
	}
	return q
}

func canonicalPriority(s string) string {
	t := strings.ToUpper(strings.TrimSpace(s))
	if Rank(t) < len(Priorities) {
		return t
	}
	return s
}

func (c Conditions) clone() Conditions {
	cp := func(b *bool) *bool {
		if b == nil {
			return nil
		}
		v := *b
		return &v
	}
	c.KEV, c.KEVRansomware = cp(c.KEV), cp(c.KEVRansomware)
	if c.EPSSAtLeast != nil {
		v := *c.EPSSAtLeast
		c.EPSSAtLeast = &v
	}
	if c.PercentileAtLeast != nil {
		v := *c.PercentileAtLeast
		c.PercentileAtLeast = &v
	}
	if c.QDSAtLeast != nil {
		v := *c.QDSAtLeast
		c.QDSAtLeast = &v
	}
	c.ThreatIntel = slices.Clone(c.ThreatIntel)
	c.Tags = slices.Clone(c.Tags)
	return c
}

// Validate checks p as the configuration's priority section: each error
// names the rule (its index in priority.rules and its name) and the
// field. Priorities and ratings are checked as written: Normalize first
// to accept "p1" or "high".
func (p Policy) Validate() error {
	if len(p.Rules) == 0 {
		return fmt.Errorf("priority.rules: no rules (the last rule must match always)")
	}
	for i, r := range p.Rules {
		where := fmt.Sprintf("priority.rules[%d]", i)
		if strings.TrimSpace(r.Name) == "" {
			return fmt.Errorf("%s: name: empty (the name is the priority_reason of the findings the rule matches)", where)
		}
		where += " (" + r.Name + ")"
		if !slices.Contains(Priorities, r.Priority) {
			return fmt.Errorf("%s: priority: %q is not a priority (%s)", where, r.Priority, strings.Join(Priorities, ", "))
		}
		c := r.When
		if c.RatingAtLeast != "" && !slices.Contains(finding.Ratings, c.RatingAtLeast) {
			return fmt.Errorf("%s: rating_at_least: %q is not a rating (%s)", where, c.RatingAtLeast, strings.Join(finding.Ratings, ", "))
		}
		for _, f := range []struct {
			key string
			v   *float64
		}{{"epss_at_least", c.EPSSAtLeast}, {"percentile_at_least", c.PercentileAtLeast}} {
			if f.v != nil && !(*f.v >= 0 && *f.v <= 1) { // NaN fails both
				return fmt.Errorf("%s: %s: %v is not between 0 and 1", where, f.key, *f.v)
			}
		}
		if c.QDSAtLeast != nil && (*c.QDSAtLeast < 0 || *c.QDSAtLeast > 100) {
			return fmt.Errorf("%s: qds_at_least: %d is not between 0 and 100", where, *c.QDSAtLeast)
		}
		for _, f := range []struct {
			key   string
			names []string
		}{{"threat_intel", c.ThreatIntel}, {"tags", c.Tags}} {
			for j, n := range f.names {
				if strings.TrimSpace(n) == "" {
					return fmt.Errorf("%s: %s[%d]: empty name", where, f.key, j)
				}
			}
		}
		if i == len(p.Rules)-1 && !c.always() {
			return fmt.Errorf("%s: the last rule must match always (give it no conditions)", where)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Days)) {
		d := p.Days[k]
		switch {
		case !slices.Contains(Priorities, k):
			return fmt.Errorf("priority.days: %q is not a priority (%s)", k, strings.Join(Priorities, ", "))
		case d < 0:
			return fmt.Errorf("priority.days: %s: %d is negative", k, d)
		case d > MaxDays:
			return fmt.Errorf("priority.days: %s: %d is more than %d (a century)", k, d, MaxDays)
		}
	}
	return nil
}

// ReadsTags tells whether a rule reads the host's tags, so that the
// caller loads them only then.
func (p Policy) ReadsTags() bool {
	for i := range p.Rules {
		if len(p.Rules[i].When.Tags) > 0 {
			return true
		}
	}
	return false
}

// Hash is a stable digest of the policy as Normalize spells it: the
// store keeps it beside the priorities it computed, and a different hash
// means the rules changed and every finding is prioritized again. Rule
// names are part of it: they are the findings' priority_reason.
func (p Policy) Hash() string {
	p = p.Normalize()
	h := sha256.New()
	b := make([]byte, 0, 256)
	str := func(s string) { // length-prefixed: no two lists write the same bytes
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	b = append(b, "priority/1\n"...)
	for _, r := range p.Rules {
		c := r.When
		str(r.Name)
		str(r.Priority)
		for _, v := range []*bool{c.KEV, c.KEVRansomware} {
			switch {
			case v == nil:
				b = append(b, '-')
			case *v:
				b = append(b, 't')
			default:
				b = append(b, 'f')
			}
		}
		for _, v := range []*float64{c.EPSSAtLeast, c.PercentileAtLeast} {
			if v == nil {
				str("-")
			} else {
				str(strconv.FormatFloat(*v, 'g', -1, 64))
			}
		}
		if c.QDSAtLeast == nil {
			str("-")
		} else {
			str(strconv.Itoa(*c.QDSAtLeast))
		}
		str(c.RatingAtLeast)
		for _, l := range [][]string{c.ThreatIntel, c.Tags} {
			b = strconv.AppendInt(b, int64(len(l)), 10)
			for _, s := range l {
				str(s)
			}
		}
		b = append(b, '\n')
		h.Write(b)
		b = b[:0]
	}
	b = append(b, "days\n"...)
	for _, k := range slices.Sorted(maps.Keys(p.Days)) {
		str(k)
		b = strconv.AppendInt(b, int64(p.Days[k]), 10)
		b = append(b, '\n')
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Eval gives the finding its priority: the first rule that matches, and
// the due date of the contract. The clock of a rule that matched on KEV
// evidence starts at the later of the UTC date of first_found and
// kev_date_added (a finding found in January whose CVE entered KEV in
// March has its P1 days from March); any other rule's clock starts at
// the UTC date of first_found. The due date is the earlier of that date
// plus the priority's days and the breach date; "" when neither exists.
// A breach date before the clock's start does not count: the contract's
// example is a High finding first found 2025-01-10 (breach 2025-02-09)
// whose CVE entered KEV on 2025-03-01, P1 due 2025-03-15. New evidence
// gives a new deadline rather than one already past the day it arrived.
func (p Policy) Eval(in Input) Result {
	for i := range p.Rules {
		r := &p.Rules[i]
		byKEV, ok := r.When.match(&in)
		if !ok {
			continue
		}
		return Result{Priority: r.Priority, Reason: r.Name, DueDate: p.due(r.Priority, byKEV, &in)}
	}
	// A valid policy never gets here: its last rule matches always.
	return Result{Priority: P4, DueDate: in.BreachDate}
}

// match tells whether c matches in, and whether it did on KEV evidence.
func (c *Conditions) match(in *Input) (byKEV, ok bool) {
	if len(c.Tags) > 0 && !anyFold(c.Tags, in.Tags) {
		return false, false
	}
	if !c.evidence() {
		return false, true
	}
	if c.KEV != nil && *c.KEV == in.KEV {
		return in.KEV, true
	}
	if c.KEVRansomware != nil && *c.KEVRansomware == in.KEVRansomware {
		return in.KEV && in.KEVRansomware, true
	}
	switch {
	case c.EPSSAtLeast != nil && in.EPSS != nil && *in.EPSS >= *c.EPSSAtLeast,
		c.PercentileAtLeast != nil && in.Percentile != nil && *in.Percentile >= *c.PercentileAtLeast,
		c.QDSAtLeast != nil && in.QDS != nil && *in.QDS >= *c.QDSAtLeast,
		c.RatingAtLeast != "" && atLeast(in.Rating, c.RatingAtLeast),
		len(c.ThreatIntel) > 0 && anyFold(c.ThreatIntel, in.ThreatIntel):
		return false, true
	}
	return false, false
}

func atLeast(rating, least string) bool {
	r := finding.RatingRank(rating)
	return r >= 0 && r >= finding.RatingRank(least)
}

// anyFold tells whether a and b share a name, in any case.
func anyFold(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// due is the due date of a finding given priority pr.
func (p Policy) due(pr string, byKEV bool, in *Input) string {
	days, ok := p.Days[pr]
	if !ok {
		return in.BreachDate
	}
	start, known := int64(0), false
	if in.FirstFound != 0 {
		start, known = floorDiv(in.FirstFound, 86400), true
	}
	if byKEV {
		if d, ok := parseDate(in.KEVDateAdded); ok && (!known || d > start) {
			start, known = d, true
		}
	}
	if !known {
		return in.BreachDate
	}
	var buf [10]byte
	deadline := unixtime.AppendDate(buf[:0], (start+int64(days))*86400)
	if in.BreachDate != "" && in.BreachDate <= string(deadline) {
		if b, ok := parseDate(in.BreachDate); !ok || b >= start {
			return in.BreachDate
		}
	}
	return string(deadline)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// parseDate reads YYYY-MM-DD as days since 1970-01-01.
func parseDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := num(s[0:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	return unixtime.DaysFromCivil(y, m, d), true
}

func num(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// formatScore writes an EPSS score or percentile as the file does, at
// most five decimals and no trailing zeros.
func formatScore(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1e5)/1e5, 'f', -1, 64)
}
