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
