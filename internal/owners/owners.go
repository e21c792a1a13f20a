// Package owners holds the ownership rules: who fixes a finding. Rules
// are tried in order and the first that matches a finding names its
// owner; a rule marked default owns what no rule matches. A rule matches
// by its host conditions (Qualys tag, address range, host id, hostname or
// OS pattern: any one) and, if it has any, by its QID conditions (QID or
// KB category: any one), so that a database team can own the database
// QIDs on every host while the hosts' teams own the rest.
package owners

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"qvt/internal/addr"
)

// Rule is one owner and what it owns.
type Rule struct {
	Name       string   `yaml:"name"`
	Default    bool     `yaml:"default"`    // owns what no rule matches
	Tags       []string `yaml:"tags"`       // Qualys tag names, any case
	CIDRs      []string `yaml:"cidrs"`      // address prefixes or addresses
	HostIDs    []int64  `yaml:"host_ids"`   // Qualys host ids
	Hostnames  []string `yaml:"hostnames"`  // patterns (* and ?), any case, on the FQDN, DNS or NetBIOS name
	OS         []string `yaml:"os"`         // patterns (* and ?), any case, on the operating system
	QIDs       []int    `yaml:"qids"`       // only these QIDs
	Categories []string `yaml:"categories"` // only QIDs of these KB categories, any case
	Jira       Jira     `yaml:"jira"`
	Contact    Contact  `yaml:"contact"`

	prefixes []netip.Prefix
	names    []*regexp.Regexp
	oses     []*regexp.Regexp
}

// Jira is where the owner's findings go in Jira; empty fields take the
// jira: section's values.
type Jira struct {
	Project   string   `yaml:"project"`
	Assignee  string   `yaml:"assignee"` // account id (Cloud) or user name (Data Center)
	Component string   `yaml:"component"`
	Labels    []string `yaml:"labels"`
}

// Contact is how to reach the owner with notifications.
type Contact struct {
	Email string `yaml:"email"`
	Slack string `yaml:"slack"` // a channel, e.g. #payments-vulns
	Teams string `yaml:"teams"`
	// SlackWebhook is the owner's own Slack incoming webhook (a secret):
	// its run summaries go there.
	SlackWebhook string `yaml:"slack_webhook"`
}

// Host is what matching needs of a host.
type Host struct {
	ID    int64
	IPs   []string // its IPv4 and IPv6 addresses
	Tags  []string
	Names []string // FQDN, DNS and NetBIOS names
	OS    string
}

// Set is the ordered list of rules.
type Set []Rule

// Validate checks every rule and prepares its patterns.
func (s Set) Validate() error {
	names := map[string]bool{}
	defaults := 0
	for i := range s {
		r := &s[i]
		where := fmt.Sprintf("owners[%d]", i)
		r.Name = strings.TrimSpace(r.Name)
		if r.Name == "" {
			return fmt.Errorf("%s: no name", where)
		}
		where = fmt.Sprintf("owner %q", r.Name)
		key := strings.ToLower(r.Name)
		if names[key] {
			return fmt.Errorf("%s: the name is used twice", where)
		}
		names[key] = true
		hostConds := len(r.Tags) + len(r.CIDRs) + len(r.HostIDs) + len(r.Hostnames) + len(r.OS)
		qidConds := len(r.QIDs) + len(r.Categories)
		if r.Default {
			defaults++
			if defaults > 1 {
				return fmt.Errorf("%s: only one owner can be the default", where)
			}
			if hostConds+qidConds > 0 {
				return fmt.Errorf("%s: the default owner owns what no rule matches: give it no conditions", where)
			}
		} else if hostConds+qidConds == 0 {
			return fmt.Errorf("%s: it matches nothing: give tags, cidrs, host_ids, hostnames, os, qids or categories, or default: true", where)
		}
		r.prefixes = r.prefixes[:0]
		for _, c := range r.CIDRs {
			p, err := addr.ParsePrefix(c)
			if err != nil {
				return fmt.Errorf("%s: cidrs: %q is not an address prefix", where, c)
			}
			r.prefixes = append(r.prefixes, p)
		}
		var err error
		if r.names, err = patterns(r.Hostnames); err != nil {
			return fmt.Errorf("%s: hostnames: %w", where, err)
		}
		if r.oses, err = patterns(r.OS); err != nil {
			return fmt.Errorf("%s: os: %w", where, err)
		}
		for _, q := range r.QIDs {
			if q <= 0 {
				return fmt.Errorf("%s: qids: %d is not a QID", where, q)
			}
		}
	}
	return nil
}

// patterns compiles shell-style patterns (* any run, ? one character),
// matched whole and without regard to case.
func patterns(ps []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range ps {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("an empty pattern")
		}
		var b strings.Builder
		b.WriteString("(?is)^")
		for _, c := range p {
			switch c {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		b.WriteString("$")
		out = append(out, regexp.MustCompile(b.String()))
	}
	return out, nil
}

// Get returns the rule of the owner with this name (any case).
func (s Set) Get(name string) (Rule, bool) {
	for _, r := range s {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return Rule{}, false
}

// Default is the default owner's name, "" if there is none.
func (s Set) Default() string {
	for _, r := range s {
		if r.Default {
			return r.Name
		}
	}
	return ""
}

// Match is the owner of QID qid (of KB category category) on host h:
// the first rule that matches, else the default owner, else "".
func (s Set) Match(h Host, qid int, category string) string {
	return s.ForHost(h).Owner(qid, category)
}

// HostRules are the rules that match one host, in order: a host's
// findings are matched against them without testing the host again.
type HostRules struct {
	rules []*Rule
	def   string
}

// ForHost returns the rules whose host conditions match h (a rule with
// none matches every host).
func (s Set) ForHost(h Host) HostRules {
	hr := HostRules{def: s.Default()}
	for i := range s {
		r := &s[i]
		if r.Default {
			continue
		}
		if r.matchesHost(h) {
			hr.rules = append(hr.rules, r)
		}
	}
	return hr
}

// PerHost tells whether the owner depends on the host alone: then every
// finding of the host has the owner Owner(0, "") gives.
func (hr HostRules) PerHost() bool {
	return len(hr.rules) == 0 || !hr.rules[0].hasQIDConds()
}

// Owner is the owner of a finding of the host with this QID and category.
func (hr HostRules) Owner(qid int, category string) string {
	for _, r := range hr.rules {
		if !r.hasQIDConds() || r.matchesQID(qid, category) {
			return r.Name
		}
	}
	return hr.def
}

func (r *Rule) hasQIDConds() bool { return len(r.QIDs)+len(r.Categories) > 0 }

func (r *Rule) matchesQID(qid int, category string) bool {
	if slices.Contains(r.QIDs, qid) {
		return true
	}
	for _, c := range r.Categories {
		if strings.EqualFold(strings.TrimSpace(c), category) {
			return true
		}
	}
	return false
}

func (r *Rule) matchesHost(h Host) bool {
	if len(r.Tags)+len(r.CIDRs)+len(r.HostIDs)+len(r.Hostnames)+len(r.OS) == 0 {
		return true
	}
	if slices.Contains(r.HostIDs, h.ID) {
		return true
	}
	for _, t := range h.Tags {
		if slices.ContainsFunc(r.Tags, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), t) }) {
			return true
		}
	}
	for _, ip := range h.IPs {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		for _, p := range r.prefixes {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	for _, n := range h.Names {
		if n == "" {
			continue
		}
		for _, re := range r.names {
			if re.MatchString(n) {
				return true
			}
		}
	}
	if h.OS != "" {
		for _, re := range r.oses {
			if re.MatchString(h.OS) {
				return true
			}
		}
	}
	return false
}

// UsesCategories tells whether a rule reads the QID's KB category.
func (s Set) UsesCategories() bool {
	for _, r := range s {
		if len(r.Categories) > 0 {
			return true
		}
	}
	return false
}

// Fingerprint identifies what the rules assign: findings assigned under
// another fingerprint are assigned again. Routing and contacts do not
// count: they do not change who owns what.
func (s Set) Fingerprint() string {
	if len(s) == 0 {
		return ""
	}
	h := sha256.New()
	for _, r := range s {
		fmt.Fprintf(h, "%s|%v|%v|%v|%v|%v|%v|%v|%v\n", r.Name, r.Default, r.Tags, r.CIDRs, r.HostIDs, r.Hostnames, r.OS, r.QIDs, r.Categories)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
