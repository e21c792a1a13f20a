// Package qualys holds the Qualys VM API v2 records qvt reads (KnowledgeBase
// vulns, hosts and their detections, SIMPLE_RETURN errors), their streaming
// XML decoders and encoders, and the API client.
//
// Dates are kept as the strings Qualys sends ("2020-10-07T13:02:59Z"):
// they are already RFC 3339 UTC and sort as text, so converting them to
// time.Time and back on every record would only cost time.
package qualys

// Vuln is one KnowledgeBase entry (KNOWLEDGE_BASE_VULN_LIST_OUTPUT/.../VULN).
type Vuln struct {
	QID              int
	VulnType         string // "Vulnerability", "Potential Vulnerability", "Information Gathered", ...
	Severity         int    // SEVERITY_LEVEL 1..5
	Title            string
	Category         string
	DetectionInfo    string
	LastCustomized   string // LAST_CUSTOMIZATION/DATETIME
	LastModified     string // LAST_SERVICE_MODIFICATION_DATETIME
	Published        string // PUBLISHED_DATETIME
	Patchable        bool
	Diagnosis        string   // HTML, verbatim
	Consequence      string   // HTML, verbatim
	Solution         string   // HTML, verbatim
	CVEs             []string // CVE_LIST/CVE/ID in KB order, empty ids dropped
	VendorRefs       []Ref    // VENDOR_REFERENCE_LIST
	Bugtraqs         []Ref    // BUGTRAQ_LIST
	Software         []Software
	CVSS             CVSS // the v2 block
	CVSSv3           CVSS // the v3 block (Version holds CVSS3_VERSION)
	PCIFlag          bool
	ThreatIntel      []ThreatIntel
	Exploits         []Exploit // CORRELATION/EXPLOITS, flattened; empty EXPLT elements dropped
	Malware          []Malware // CORRELATION/MALWARE, flattened
	SupportedModules string
	Remote           bool     // DISCOVERY/REMOTE
	AuthTypes        []string // DISCOVERY/AUTH_TYPE_LIST/AUTH_TYPE
	AdditionalInfo   string   // DISCOVERY/ADDITIONAL_INFO
	Disabled         bool     // IS_DISABLED
}

// Ref is an (ID, URL) pair: a vendor reference or a Bugtraq id.
type Ref struct {
	ID  string
	URL string
}

// Software is a SOFTWARE_LIST/SOFTWARE entry.
type Software struct {
	Product string
	Vendor  string
}

// CVSS is a KB CVSS or CVSS_V3 block. Scores are kept as the text Qualys
// sends; qvt computes its own scores from Vector.
type CVSS struct {
	Base     string
	Temporal string
	Vector   string // VECTOR_STRING, e.g. "CVSS:3.1/AV:N/..." or "AV:N/AC:L/Au:N/..."
	Version  string // CVSS3_VERSION (v3 block only)
	Impact   Impact // IMPACT/{CONFIDENTIALITY,INTEGRITY,AVAILABILITY}
}

// Impact is the IMPACT block of a KB CVSS block.
type Impact struct {
	Confidentiality string
	Integrity       string
	Availability    string
}

// ThreatIntel is a THREAT_INTEL element: its id attribute and text.
type ThreatIntel struct {
	ID   string
	Text string
}

// Exploit is one EXPLT of an EXPLT_SRC.
type Exploit struct {
	Source string
	Ref    string
	Desc   string
	Link   string
}

// Malware is one MW_INFO of an MW_SRC.
type Malware struct {
	Source   string
	ID       string
	Type     string
	Platform string
	Alias    string
	Rating   string
	Link     string
}

// Host is one HOST of a host list detection response, with its detections.
type Host struct {
	ID                    int64
	AssetID               int64
	IP                    string
	IPv6                  string
	TrackingMethod        string
	NetworkID             string
	OS                    string
	OSCPE                 string
	DNS                   string
	DNSHostname           string // DNS_DATA/HOSTNAME
	DNSDomain             string // DNS_DATA/DOMAIN
	FQDN                  string // DNS_DATA/FQDN
	NetBIOS               string
	QGHostID              string
	LastScan              string // LAST_SCAN_DATETIME
	LastVMScanned         string // LAST_VM_SCANNED_DATE
	LastVMScannedDuration int
	LastVMAuthScanned     string // LAST_VM_AUTH_SCANNED_DATE
	LastPCScanned         string
	Tags                  []Tag
	Detections            []Detection
}

// Address is the host's address as findings name it: its IPv4, else its IPv6.
func (h *Host) Address() string {
	if h.IP != "" {
		return h.IP
	}
	return h.IPv6
}

// Hostname is the name findings show: the DNS_DATA FQDN, else DNS, else NETBIOS.
func (h *Host) Hostname() string {
	switch {
	case h.FQDN != "":
		return h.FQDN
	case h.DNS != "":
		return h.DNS
	}
	return h.NetBIOS
}

// Tag is a TAGS/TAG entry of a host.
type Tag struct {
	ID   int64
	Name string
}

// Detection is one DETECTION of a host.
type Detection struct {
	UniqueVulnID  int64
	QID           int
	Type          string // Confirmed, Potential, Info
	Severity      int    // 0 when absent
	Port          int    // 0 when absent
	Protocol      string
	FQDN          string
	SSL           bool
	Instance      string
	Results       string // verbatim
	Status        string // New, Active, Re-Opened, Fixed
	FirstFound    string
	LastFound     string
	TimesFound    int
	LastTest      string
	LastUpdate    string
	LastFixed     string
	FirstReopened string
	LastReopened  string
	TimesReopened int
	QDS           int    // 0 when absent (Qualys sends 1..100 when asked with show_qds=1)
	QDSSeverity   string // the QDS severity attribute: LOW, MEDIUM, HIGH or CRITICAL
	// QDSFactors are QDS_FACTORS/QDS_FACTOR (show_qds_factors=1), in
	// response order: RTI, exploit_maturity, CVSS, CVSS_version, epss,
	// trending, CVSS_vector and others Qualys may add.
	QDSFactors    []QDSFactor
	Service       string
	Ignored       bool
	Disabled      bool
	LastProcessed string
}

// QDSFactor is one QDS_FACTOR of a detection: its name attribute and its
// text, e.g. {"epss", "0.2054"}, {"RTI", "dos"}.
type QDSFactor struct {
	Name  string
	Value string
}

// Warning is a RESPONSE/WARNING: code 1980 with the URL of the next page
// when a response was truncated.
type Warning struct {
	Code string
	Text string
	URL  string
}

// Response is what a list decoder learns about the response as a whole.
type Response struct {
	Datetime string
	Warning  *Warning
}
