// Package exceptions holds what a team has accepted about findings: an
// exception (risk accepted, false positive, compensating control) covers
// a scope of findings with a reason and an approver until it expires or
// is revoked. While active, the findings it covers stay open but are
// excepted: they leave the overdue counts and the SLA figures. When it
// ends they come back by themselves.
package exceptions

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/addr"
	"qvt/internal/finding"
)

// The types of exception.
const (
	RiskAccepted        = "risk_accepted"
	FalsePositive       = "false_positive"
	CompensatingControl = "compensating_control"
)

// Types are the types of exception, in the order the docs list them.
var Types = []string{RiskAccepted, FalsePositive, CompensatingControl}

// The states of an exception.
const (
	Active  = "active"
	Revoked = "revoked"
	Expired = "expired"
)

// States are the states of an exception.
var States = []string{Active, Revoked, Expired}

// Policy is the exceptions: section of the configuration.
type Policy struct {
	MaxDays    int    `yaml:"max_days"`    // the longest an exception may run; default 365
	RestartSLA bool   `yaml:"restart_sla"` // a finding that comes back gets its full time again from that day
	Resolution string `yaml:"resolution"`  // the Jira resolution of an excepted finding's issue, e.g. "Won't Do"
	WarnDays   int    `yaml:"warn_days"`   // "expiring soon" is within this many days; default 30
}

// DefaultPolicy is the policy with nothing set.
func DefaultPolicy() Policy { return Policy{MaxDays: 365, WarnDays: 30} }

// WithDefaults fills the fields left zero.
func (p Policy) WithDefaults() Policy {
	d := DefaultPolicy()
	if p.MaxDays == 0 {
		p.MaxDays = d.MaxDays
	}
	if p.WarnDays == 0 {
		p.WarnDays = d.WarnDays
	}
	return p
}

// Validate checks the policy.
func (p Policy) Validate() error {
	if p.MaxDays < 0 {
		return fmt.Errorf("exceptions: max_days: %d is negative", p.MaxDays)
	}
	if p.WarnDays < 0 {
		return fmt.Errorf("exceptions: warn_days: %d is negative", p.WarnDays)
	}
	return nil
}

// Scope is what an exception covers: one finding (Key), or the findings
// of a QID, on every host or on those a host, tag or address range
// selects, and on one port if Port is set. A QID-wide scope is fixed when
// the exception is recorded (the store keeps the hosts it covered then)
// unless FutureHosts is set.
type Scope struct {
	Key         string `yaml:"key,omitempty" json:"key,omitempty"`   // ip:qid:port
	QID         int    `yaml:"qid,omitempty" json:"qid,omitempty"`   // set from Key too
	Port        *int   `yaml:"port,omitempty" json:"port,omitempty"` // nil: every port
	Host        string `yaml:"host,omitempty" json:"host,omitempty"` // an address, host id or hostname
	Tag         string `yaml:"tag,omitempty" json:"tag,omitempty"`   // a Qualys tag, any case
	CIDR        string `yaml:"cidr,omitempty" json:"cidr,omitempty"` // an address prefix
	FutureHosts bool   `yaml:"future_hosts,omitempty" json:"future_hosts,omitempty"`
}

// Exception is one exception as the store keeps it.
type Exception struct {
	ID         int64
	Type       string
	Scope      Scope
	Reason     string
	Approver   string
	RecordedBy string
	RecordedAt time.Time
	Start      string // YYYY-MM-DD
	Until      string // YYYY-MM-DD, the last day it covers; "" for none
	State      string // Active, Revoked or Expired
	EndedAt    time.Time
	EndedBy    string
	Hosts      []int64 // the hosts a fixed QID-wide scope covers
	Covered    int     // the findings it covers now (filled by readers that count)
}

// Name is the exception's name: EXC-<id>.
func (e *Exception) Name() string { return Name(e.ID) }

// Name is the name of exception id.
func Name(id int64) string { return "EXC-" + strconv.FormatInt(id, 10) }

// ParseName reads EXC-12, exc-12 or 12.
func ParseName(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if len(t) > 4 && strings.EqualFold(t[:4], "EXC-") {
		t = t[4:]
	}
	id, err := strconv.ParseInt(t, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not an exception id (EXC-12)", s)
	}
	return id, nil
}

// ActiveOn tells whether the exception covers findings on day (YYYY-MM-DD).
func (e *Exception) ActiveOn(day string) bool {
	return e.State == Active && e.Start <= day && (e.Until == "" || day <= e.Until)
}

// ParseType reads a type, accepting dashes and any case.
func ParseType(s string) (string, error) {
	t := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	if slices.Contains(Types, t) {
		return t, nil
	}
	return "", fmt.Errorf("%q is not a type of exception: use %s", s, strings.Join(Types, ", "))
}

// Validate checks an exception about to be recorded on day today under
// policy p, and completes its scope (the QID of a Key).
func (e *Exception) Validate(p Policy, today string) error {
	p = p.WithDefaults()
	t, err := ParseType(e.Type)
	if err != nil {
		return err
	}
	e.Type = t
	if err := e.Scope.normalize(); err != nil {
		return err
	}
	if strings.TrimSpace(e.Reason) == "" {
		return fmt.Errorf("an exception needs a reason")
	}
	if strings.TrimSpace(e.Approver) == "" {
		return fmt.Errorf("an exception needs an approver")
	}
	if e.Start == "" {
		e.Start = today
	}
	if _, err := time.Parse(time.DateOnly, e.Start); err != nil {
		return fmt.Errorf("start: %q is not a date (YYYY-MM-DD)", e.Start)
	}
	if e.Until == "" {
		if e.Type == RiskAccepted {
			return fmt.Errorf("a risk_accepted exception needs an expiry (--until YYYY-MM-DD)")
		}
		return nil
	}
	return CheckUntil(e.Until, e.Start, today, p)
}

// CheckUntil checks an expiry: a date, not before start nor today, and
// at most p.MaxDays after start.
func CheckUntil(until, start, today string, p Policy) error {
	p = p.WithDefaults()
	u, err := time.Parse(time.DateOnly, until)
	if err != nil {
		return fmt.Errorf("until: %q is not a date (YYYY-MM-DD)", until)
	}
	if until < today || until < start {
		return fmt.Errorf("until: %s is in the past", until)
	}
	s, _ := time.Parse(time.DateOnly, start)
	if days := int(u.Sub(s).Hours() / 24); days > p.MaxDays {
		return fmt.Errorf("until: %s is %d days after %s; exceptions.max_days allows %d", until, days, start, p.MaxDays)
	}
	return nil
}

// ParseUntil reads an expiry given as a date or as a number of days from
// today ("90d").
func ParseUntil(s, today string) (string, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return "", fmt.Errorf("%q is not a date (YYYY-MM-DD) or a number of days (90d)", s)
		}
		t, err := time.Parse(time.DateOnly, today)
		if err != nil {
			return "", err
		}
		return t.AddDate(0, 0, days).Format(time.DateOnly), nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", fmt.Errorf("%q is not a date (YYYY-MM-DD) or a number of days (90d)", s)
	}
	return s, nil
}

func (sc *Scope) normalize() error {
	if sc.Key != "" {
		_, qid, port, ok := finding.ParseKey(sc.Key)
		if !ok {
			return fmt.Errorf("scope: %q is not a finding key (ip:qid:port)", sc.Key)
		}
		if sc.QID != 0 && sc.QID != qid {
			return fmt.Errorf("scope: the key %s is not of QID %d", sc.Key, sc.QID)
		}
		if sc.Host != "" || sc.Tag != "" || sc.CIDR != "" || sc.FutureHosts || sc.Port != nil {
			return fmt.Errorf("scope: a finding key is a whole scope: give no host, tag, cidr, port or future hosts with it")
		}
		sc.QID = qid
		_ = port
		return nil
	}
	if sc.QID <= 0 {
		return fmt.Errorf("scope: give a finding key or a QID")
	}
	if sc.Port != nil && *sc.Port < 0 {
		return fmt.Errorf("scope: port %d is not a port", *sc.Port)
	}
	if sc.CIDR != "" {
		if _, err := addr.ParsePrefix(sc.CIDR); err != nil {
			return fmt.Errorf("scope: cidr: %q is not an address prefix", sc.CIDR)
		}
	}
	return nil
}

// Host is what a scope tests of a host.
type Host struct {
	ID    int64
	IPs   []string
	Tags  []string
	Names []string // FQDN, DNS and NetBIOS names
}

// SelectsHost tells whether a QID-wide scope's host, tag and range
// select host h (all three must hold where given).
func (sc *Scope) SelectsHost(h Host) bool {
	if sc.Host != "" && !hostIs(h, sc.Host) {
		return false
	}
	if sc.Tag != "" && !slices.ContainsFunc(h.Tags, func(t string) bool { return strings.EqualFold(t, strings.TrimSpace(sc.Tag)) }) {
		return false
	}
	if sc.CIDR != "" {
		p, err := addr.ParsePrefix(sc.CIDR)
		if err != nil {
			return false
		}
		in := false
		for _, ip := range h.IPs {
			if a, err := netip.ParseAddr(ip); err == nil && p.Contains(a.Unmap()) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}

// SelectsPort tells whether the scope covers port.
func (sc *Scope) SelectsPort(port int) bool { return sc.Port == nil || *sc.Port == port }

func hostIs(h Host, s string) bool {
	s = strings.TrimSpace(s)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil && id == h.ID {
		return true
	}
	for _, ip := range h.IPs {
		if ip != "" && ip == s {
			return true
		}
	}
	for _, n := range h.Names {
		if n != "" && strings.EqualFold(n, s) {
			return true
		}
	}
	return false
}

// String describes the scope in a line: "QID 38794 on tag Legacy DMZ".
func (sc Scope) String() string {
	if sc.Key != "" {
		return "finding " + sc.Key
	}
	var b strings.Builder
	fmt.Fprintf(&b, "QID %d", sc.QID)
	if sc.Port != nil {
		fmt.Fprintf(&b, " port %d", *sc.Port)
	}
	switch {
	case sc.Host != "":
		fmt.Fprintf(&b, " on host %s", sc.Host)
	case sc.Tag != "" || sc.CIDR != "":
	default:
		b.WriteString(" on every host")
	}
	if sc.Tag != "" {
		fmt.Fprintf(&b, " tagged %q", sc.Tag)
	}
	if sc.CIDR != "" {
		fmt.Fprintf(&b, " in %s", sc.CIDR)
	}
	if sc.FutureHosts {
		b.WriteString(", future hosts included")
	}
	return b.String()
}
