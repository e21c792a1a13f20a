// Package nvd holds NVD CVE records, their streaming decoders (API 2.0
// responses and feeds, single records, legacy 1.1 feeds) and the API 2.0
// client.
package nvd

// CVE is what qvt keeps of one NVD CVE record.
type CVE struct {
	ID               string
	SourceIdentifier string
	Published        string // as NVD sends it, e.g. "2021-12-10T10:15:09.143" (UTC, no zone)
	LastModified     string
	Status           string // vulnStatus; "" in legacy 1.1 feeds
	Description      string // the English description
	Metrics          []Metric
	CWEs             []string // distinct weakness ids, in record order
	KEV              *KEV     // nil unless the record carries CISA KEV fields
}

// Metric is one CVSS entry of a record: one element of cvssMetricV40,
// cvssMetricV31, cvssMetricV30 or cvssMetricV2 (or a 1.1 baseMetricV3/V2).
type Metric struct {
	Version   string  // "2.0", "3.0", "3.1", "4.0"
	Source    string  // e.g. "nvd@nist.gov"
	Type      string  // "Primary" or "Secondary"
	Vector    string  // cvssData.vectorString
	BaseScore float64 // cvssData.baseScore
	Severity  string  // baseSeverity (v2: the entry's baseSeverity/severity)
}

// KEV holds the CISA Known Exploited Vulnerabilities fields NVD copies into
// a record.
type KEV struct {
	Added          string // cisaExploitAdd, YYYY-MM-DD
	Due            string // cisaActionDue
	RequiredAction string
	Name           string // cisaVulnerabilityName
}
