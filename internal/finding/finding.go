// Package finding holds the finding record: one Qualys detection of one QID
// on one host and port, joined with its KB entry and NVD records, scored and
// given a deadline. Its fields and their JSON names are the export contract
// (docs: findings.md); the order of the fields is the order of the export.
package finding

import (
	"strconv"
	"strings"
)

// Finding is one row of the finding list.
type Finding struct {
	Key         string   `json:"key"`
	IP          string   `json:"ip"`
	HostID      int64    `json:"host_id"`
	Hostname    string   `json:"hostname"`
	OS          string   `json:"os"`
	QID         int      `json:"qid"`
	Port        int      `json:"port"`
	Protocol    string   `json:"protocol"`
	Type        string   `json:"type"`
	Severity    int      `json:"severity"`
	Status      string   `json:"status"`
	TimesFound  int      `json:"times_found"`
	FirstFound  *string  `json:"first_found"`
	LastFound   *string  `json:"last_found"`
	LastFixed   *string  `json:"last_fixed"`
	Results     string   `json:"results"`
	Title       string   `json:"title"`
	Category    string   `json:"category"`
	VulnType    string   `json:"vuln_type"`
	Diagnosis   string   `json:"diagnosis"`
	Consequence string   `json:"consequence"`
	Solution    string   `json:"solution"`
	Patchable   bool     `json:"patchable"`
	Remote      bool     `json:"remote"`
	VendorRefs  []string `json:"vendor_refs"`
	CVEs        []string `json:"cves"`
	CVEID       string   `json:"cve_id"`
	CVSSVersion string   `json:"cvss_version"`
	CVSSVector  string   `json:"cvss_vector"`
	Base        *float64 `json:"base"`
	Temporal    *float64 `json:"temporal"`
	EnvScore    *float64 `json:"env_score"`
	VulnScore   string   `json:"vuln_score"`
	BreachDate  string   `json:"breach_date"`
	// The finding's life in qvt's store.
	Closed        bool     `json:"closed"`        // closed for any reason (ClosedReasons)
	ClosedReason  string   `json:"closed_reason"` // fixed, gone, ignored or disabled; "" while open
	FirstSeen     *string  `json:"first_seen"`    // the time of the data that first reported it
	LastSeen      *string  `json:"last_seen"`     // the time of the data that last reported it
	TimesReopened int      `json:"times_reopened"`
	Tags          []string `json:"tags"` // the host's Qualys tags
	// Exploitation evidence and the priority it gives (docs: priority.md).
	KEV            bool     `json:"kev"`             // a CVE of the QID is in CISA's KEV catalog
	KEVCVEs        []string `json:"kev_cves"`        // those CVEs, in KB order
	KEVDateAdded   string   `json:"kev_date_added"`  // the earliest dateAdded of them, YYYY-MM-DD
	KEVDueDate     string   `json:"kev_due_date"`    // the earliest dueDate of them
	KEVRansomware  bool     `json:"kev_ransomware"`  // one of them is known to be used by ransomware
	EPSS           *float64 `json:"epss"`            // the highest EPSS score of the QID's CVEs
	EPSSPercentile *float64 `json:"epss_percentile"` // the percentile of that CVE
	EPSSCVE        string   `json:"epss_cve"`        // that CVE
	QDS            *int     `json:"qds"`             // the detection's Qualys Detection Score
	ThreatIntel    []string `json:"threat_intel"`    // the KB's THREAT_INTEL names, in KB order
	Priority       string   `json:"priority"`        // P1 … P4
	PriorityReason string   `json:"priority_reason"` // the rule that gave it
	DueDate        string   `json:"due_date"`        // the earlier of breach_date and the priority's deadline
	// Who fixes it, and whether the business has accepted it.
	Owner         string `json:"owner"`          // the owner the rules give it; "" for none
	Excepted      bool   `json:"excepted"`       // an active exception covers it today
	Exception     string `json:"exception"`      // that exception, EXC-12; "" when not excepted
	ExceptedUntil string `json:"excepted_until"` // the exception's last day, YYYY-MM-DD; "" for none or not excepted
}

// Key builds a finding key: "<address>:<qid>:<port>".
func Key(address string, qid, port int) string {
	b := make([]byte, 0, len(address)+16)
	b = append(b, address...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(qid), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(port), 10)
	return string(b)
}

// ParseKey splits a finding key into address, QID and port. The address may
// itself hold colons (IPv6), so the key is split from the right.
func ParseKey(key string) (address string, qid, port int, ok bool) {
	i := strings.LastIndexByte(key, ':')
	if i <= 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(key[:i], ':')
	if j <= 0 {
		return "", 0, 0, false
	}
	q, err1 := strconv.Atoi(key[j+1 : i])
	p, err2 := strconv.Atoi(key[i+1:])
	if err1 != nil || err2 != nil || q < 0 || p < 0 {
		return "", 0, 0, false
	}
	return key[:j], q, p, true
}

// Statuses are the Qualys detection statuses, in lifecycle order.
var Statuses = []string{"New", "Active", "Re-Opened", "Fixed"}

// Why a finding is closed. A finding is open until one of these applies.
const (
	ClosedFixed    = "fixed"    // Qualys reports it Fixed
	ClosedGone     = "gone"     // its host was scanned again and Qualys no longer reports it
	ClosedIgnored  = "ignored"  // the detection was ignored in Qualys
	ClosedDisabled = "disabled" // the QID was disabled in Qualys
)

// ClosedReasons are the reasons a finding is closed.
var ClosedReasons = []string{ClosedFixed, ClosedGone, ClosedIgnored, ClosedDisabled}

// OpenStatuses are the Qualys statuses of an open finding (a Fixed one is
// always closed as fixed).
var OpenStatuses = []string{"New", "Active", "Re-Opened"}

// States divide the findings: each is in exactly one, an open finding by
// its Qualys status, a closed one by why it closed. Counts by state add up
// to the total.
var States = []string{"New", "Active", "Re-Opened", ClosedFixed, ClosedGone, ClosedIgnored, ClosedDisabled}

// State is the state of a finding with this Qualys status and closed
// reason ("" while open).
func State(status, closedReason string) string {
	if closedReason != "" {
		return closedReason
	}
	return status
}

// StatusFilters are the values a status filter takes, the same in every
// place that filters findings (qvt export --status, the dashboard, its
// API): open (not closed), closed (for any reason), all, and each state.
// "Fixed", the Qualys status, is the state fixed.
var StatusFilters = []string{"open", "New", "Active", "Re-Opened", "closed", ClosedFixed, ClosedGone, ClosedIgnored, ClosedDisabled, "all"}

// ParseStatusFilter returns the StatusFilters name of s, read without
// regard to case ("reopened" is Re-Opened), and false for anything else.
func ParseStatusFilter(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "reopened") {
		return "Re-Opened", true
	}
	for _, f := range StatusFilters {
		if strings.EqualFold(s, f) {
			return f, true
		}
	}
	return "", false
}

// FilterStates are the states a status filter selects: nil for all.
func FilterStates(filter string) []string {
	switch filter {
	case "all":
		return nil
	case "open":
		return OpenStatuses
	case "closed":
		return ClosedReasons
	}
	return []string{filter}
}

// Ratings are the vuln_score values from lowest to highest.
var Ratings = []string{"None", "Low", "Medium", "High", "Critical"}

// RatingRank orders ratings: None 0 … Critical 4, and -1 for anything else.
func RatingRank(r string) int {
	for i, x := range Ratings {
		if strings.EqualFold(x, r) {
			return i
		}
	}
	return -1
}

// Priorities are the priorities a finding gets, most urgent first
// (docs/priority.md).
var Priorities = []string{"P1", "P2", "P3", "P4"}
