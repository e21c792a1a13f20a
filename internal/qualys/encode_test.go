package qualys

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The tests read the encoders' output back with encoding/xml into small
// structs of their own, so they check the wire format independently of
// qvt's decoder.

type xKB struct {
	XMLName  xml.Name `xml:"KNOWLEDGE_BASE_VULN_LIST_OUTPUT"`
	Datetime string   `xml:"RESPONSE>DATETIME"`
	VulnList *struct {
		Vulns []xVuln `xml:"VULN"`
	} `xml:"RESPONSE>VULN_LIST"`
	Warning *xWarning `xml:"RESPONSE>WARNING"`
}

func (k *xKB) vulns() []xVuln {
	if k.VulnList == nil {
		return nil
	}
	return k.VulnList.Vulns
}

type xWarning struct {
	Code string `xml:"CODE"`
	Text string `xml:"TEXT"`
	URL  string `xml:"URL"`
}

type xRef struct {
	ID  string `xml:"ID"`
	URL string `xml:"URL"`
}

type xCVSS struct {
	Base     string   `xml:"BASE"`
	Temporal string   `xml:"TEMPORAL"`
	Vector   string   `xml:"VECTOR_STRING"`
	Version  string   `xml:"CVSS3_VERSION"`
	Impact   *xImpact `xml:"IMPACT"`
}

type xImpact struct {
	C string `xml:"CONFIDENTIALITY"`
	I string `xml:"INTEGRITY"`
	A string `xml:"AVAILABILITY"`
}

type xVuln struct {
	QID            int      `xml:"QID"`
	VulnType       string   `xml:"VULN_TYPE"`
	Severity       int      `xml:"SEVERITY_LEVEL"`
	Title          string   `xml:"TITLE"`
	Category       *string  `xml:"CATEGORY"`
	DetectionInfo  string   `xml:"DETECTION_INFO"`
	LastCustomized string   `xml:"LAST_CUSTOMIZATION>DATETIME"`
	LastModified   string   `xml:"LAST_SERVICE_MODIFICATION_DATETIME"`
	Published      string   `xml:"PUBLISHED_DATETIME"`
	Bugtraqs       []xRef   `xml:"BUGTRAQ_LIST>BUGTRAQ"`
	Patchable      string   `xml:"PATCHABLE"`
	Products       []string `xml:"SOFTWARE_LIST>SOFTWARE>PRODUCT"`
	Vendors        []string `xml:"SOFTWARE_LIST>SOFTWARE>VENDOR"`
	VendorRefs     []xRef   `xml:"VENDOR_REFERENCE_LIST>VENDOR_REFERENCE"`
	CVEs           []xRef   `xml:"CVE_LIST>CVE"`
	Diagnosis      string   `xml:"DIAGNOSIS"`
	Consequence    string   `xml:"CONSEQUENCE"`
	Solution       string   `xml:"SOLUTION"`
	ExpltSrcs      []struct {
		Name  string `xml:"SRC_NAME"`
		Expls []struct {
			Ref  string `xml:"REF"`
			Desc string `xml:"DESC"`
			Link string `xml:"LINK"`
		} `xml:"EXPLT_LIST>EXPLT"`
	} `xml:"CORRELATION>EXPLOITS>EXPLT_SRC"`
	MwSrcs []struct {
		Name  string `xml:"SRC_NAME"`
		Infos []struct {
			ID       string `xml:"MW_ID"`
			Type     string `xml:"MW_TYPE"`
			Platform string `xml:"MW_PLATFORM"`
			Alias    string `xml:"MW_ALIAS"`
			Rating   string `xml:"MW_RATING"`
			Link     string `xml:"MW_LINK"`
		} `xml:"MW_LIST>MW_INFO"`
	} `xml:"CORRELATION>MALWARE>MW_SRC"`
	CVSS        *xCVSS `xml:"CVSS"`
	CVSSv3      *xCVSS `xml:"CVSS_V3"`
	PCIFlag     string `xml:"PCI_FLAG"`
	ThreatIntel []struct {
		ID   string `xml:"id,attr"`
		Text string `xml:",chardata"`
	} `xml:"THREAT_INTELLIGENCE>THREAT_INTEL"`
	SupportedModules string   `xml:"SUPPORTED_MODULES"`
	Remote           string   `xml:"DISCOVERY>REMOTE"`
	AuthTypes        []string `xml:"DISCOVERY>AUTH_TYPE_LIST>AUTH_TYPE"`
	AdditionalInfo   string   `xml:"DISCOVERY>ADDITIONAL_INFO"`
	Disabled         *string  `xml:"IS_DISABLED"`
}

func fullVuln() *Vuln {
	return &Vuln{
		QID:            105936,
		VulnType:       "Vulnerability",
		Severity:       4,
		Title:          "OpenSSL Multiple Vulnerabilities (OpenSSL Security Advisory 20221101)",
		Category:       "General remote services",
		DetectionInfo:  "Detected on <b>TLS</b> ports",
		LastCustomized: "2024-01-02T03:04:05Z",
		LastModified:   "2026-10-30T12:00:01Z",
		Published:      "2022-11-01T19:05:51Z",
		Patchable:      true,
		Diagnosis:      "OpenSSL is affected.<P>\nSee <A HREF=\"https://www.openssl.org/news/secadv/20221101.txt\" TARGET=\"_blank\">the advisory</A> &quot;quoted&quot;.",
		Consequence:    "Successful exploitation may crash the service.",
		Solution:       "Upgrade to 3.0.7.<BR>Patch:<BR>\n<A HREF=\"https://www.openssl.org/source/\">OpenSSL</A>",
		CVEs:           []string{"CVE-2022-3602", "CVE-2022-3786", ""},
		VendorRefs:     []Ref{{ID: "OpenSSL Security Advisory 20221101", URL: "https://www.openssl.org/news/secadv/20221101.txt"}},
		Bugtraqs:       []Ref{{ID: "12345", URL: ""}},
		Software:       []Software{{Product: "openssl", Vendor: "openssl"}, {Product: "", Vendor: "multi-vendor"}},
		CVSS: CVSS{Base: "7.5", Temporal: "5.9", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC/RL:OF/RC:C",
			Impact: Impact{Confidentiality: "2", Integrity: "2", Availability: "2"}},
		CVSSv3: CVSS{Base: "7.5", Temporal: "6.7", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H/E:P/RL:O/RC:C",
			Version: "3.1", Impact: Impact{Availability: "3"}},
		PCIFlag:     true,
		ThreatIntel: []ThreatIntel{{ID: "2", Text: "Exploit_Public"}, {ID: "15", Text: "Remote_Code_Execution"}},
		Exploits: []Exploit{
			{Source: "The Exploit-DB", Ref: "CVE-2022-3602", Desc: "OpenSSL 3.0.6 - DoS", Link: "http://www.exploit-db.com/exploits/51000"},
			{Source: "The Exploit-DB", Ref: "CVE-2022-3786", Desc: "second"},
			{Source: "nvd", Ref: "CVE-2022-3602", Desc: "NVD exploit ref", Link: "https://example.org/x"},
		},
		Malware: []Malware{
			{Source: "Trend Micro", ID: "TROJ_X", Type: "Trojan", Platform: "Windows", Alias: "Y", Rating: "Low", Link: "https://example.org/m"},
			{Source: "Trend Micro", ID: "TROJ_Z"},
		},
		SupportedModules: "VM, CA-Linux Agent",
		Remote:           true,
		AuthTypes:        []string{"Unix", "Windows"},
		AdditionalInfo:   "Patch Available, Exploit Available",
		Disabled:         true,
	}
}

func encodeKB(t *testing.T, warn *Warning, vulns ...*Vuln) []byte {
	t.Helper()
	var buf bytes.Buffer
	k := NewKBWriter(&buf, "2026-11-01T00:00:00Z")
	for _, v := range vulns {
		if err := k.Vuln(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Close(warn); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeInto(t *testing.T, doc []byte, v any) {
	t.Helper()
	if err := xml.Unmarshal(doc, v); err != nil {
		t.Fatalf("output is not well-formed XML: %v\n%s", err, doc)
	}
}

func TestEncodeKBValuesComeBack(t *testing.T) {
	v := fullVuln()
	minimal := &Vuln{QID: 6, VulnType: "Information Gathered", Severity: 1, Published: "1999-01-01T08:00:00Z"}
	warn := &Warning{Code: "1980", Text: "2 record limit exceeded. Use URL to get next batch of results.",
		URL: "https://qualysapi.qualys.com/api/2.0/fo/knowledge_base/vuln/?action=list&id_min=105937"}
	doc := encodeKB(t, warn, v, minimal)
	if !bytes.HasPrefix(doc, []byte(xmlDecl+"<!DOCTYPE KNOWLEDGE_BASE_VULN_LIST_OUTPUT SYSTEM \"https://")) {
		t.Errorf("prolog: %q", doc[:120])
	}
	var got xKB
	decodeInto(t, doc, &got)
	if got.Datetime != "2026-11-01T00:00:00Z" || len(got.vulns()) != 2 {
		t.Fatalf("datetime %q, %d vulns", got.Datetime, len(got.vulns()))
	}
	if got.Warning == nil || *got.Warning != (xWarning{warn.Code, warn.Text, warn.URL}) {
		t.Errorf("warning = %+v", got.Warning)
	}
	g := got.vulns()[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"QID", g.QID, v.QID},
		{"VulnType", g.VulnType, v.VulnType},
		{"Severity", g.Severity, v.Severity},
		{"Title", g.Title, v.Title},
		{"Category", *g.Category, v.Category},
		{"DetectionInfo", g.DetectionInfo, v.DetectionInfo},
		{"LastCustomized", g.LastCustomized, v.LastCustomized},
		{"LastModified", g.LastModified, v.LastModified},
		{"Published", g.Published, v.Published},
		{"Patchable", g.Patchable, "1"},
		{"Diagnosis", g.Diagnosis, v.Diagnosis},
		{"Consequence", g.Consequence, v.Consequence},
		{"Solution", g.Solution, v.Solution},
		{"Bugtraqs", g.Bugtraqs, []xRef{{"12345", ""}}},
		{"VendorRefs", g.VendorRefs, []xRef{{v.VendorRefs[0].ID, v.VendorRefs[0].URL}}},
		{"CVEs", g.CVEs, []xRef{{"CVE-2022-3602", cveURLPrefix + "CVE-2022-3602"}, {"CVE-2022-3786", cveURLPrefix + "CVE-2022-3786"}, {"", ""}}},
		{"Products", g.Products, []string{"openssl", ""}},
		{"Vendors", g.Vendors, []string{"openssl", "multi-vendor"}},
		{"CVSS", *g.CVSS, xCVSS{v.CVSS.Base, v.CVSS.Temporal, v.CVSS.Vector, "", &xImpact{"2", "2", "2"}}},
		{"CVSSv3", *g.CVSSv3, xCVSS{v.CVSSv3.Base, v.CVSSv3.Temporal, v.CVSSv3.Vector, "3.1", &xImpact{A: "3"}}},
		{"PCIFlag", g.PCIFlag, "1"},
		{"SupportedModules", g.SupportedModules, v.SupportedModules},
		{"Remote", g.Remote, "1"},
		{"AuthTypes", g.AuthTypes, v.AuthTypes},
		{"AdditionalInfo", g.AdditionalInfo, v.AdditionalInfo},
		{"Disabled", *g.Disabled, "1"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if len(g.ThreatIntel) != 2 || g.ThreatIntel[1].ID != "15" || g.ThreatIntel[1].Text != "Remote_Code_Execution" {
		t.Errorf("ThreatIntel = %+v", g.ThreatIntel)
	}
	// Exploits and malware come back grouped by source, in order.
	var ex []Exploit
	for _, src := range g.ExpltSrcs {
		for _, e := range src.Expls {
			ex = append(ex, Exploit{src.Name, e.Ref, e.Desc, e.Link})
		}
	}
	if len(g.ExpltSrcs) != 2 || !reflect.DeepEqual(ex, v.Exploits) {
		t.Errorf("exploits: %d sources, %+v", len(g.ExpltSrcs), ex)
	}
	var mw []Malware
	for _, src := range g.MwSrcs {
		for _, m := range src.Infos {
			mw = append(mw, Malware{src.Name, m.ID, m.Type, m.Platform, m.Alias, m.Rating, m.Link})
		}
	}
	if len(g.MwSrcs) != 1 || !reflect.DeepEqual(mw, v.Malware) {
		t.Errorf("malware: %d sources, %+v", len(g.MwSrcs), mw)
	}

	// Optional elements of a zero field are left out; required ones stay.
	m := got.vulns()[1]
	if m.Category != nil || m.CVSS != nil || m.CVSSv3 != nil || m.Disabled != nil || m.CVEs != nil {
		t.Errorf("minimal vuln has optional elements: %+v", m)
	}
	if m.Patchable != "0" || m.PCIFlag != "0" || m.Remote != "0" || m.Title != "" || m.Published != minimal.Published {
		t.Errorf("minimal vuln lost required elements: %+v", m)
	}
}

func TestEncodeKBEmptyResponse(t *testing.T) {
	var got xKB
	decodeInto(t, encodeKB(t, nil), &got)
	if got.VulnList != nil || got.Warning != nil || got.Datetime == "" {
		t.Errorf("empty response = %+v", got)
	}
}

// childOrder returns, for every element named parent, the names of its
// child elements in document order.
func childOrder(t *testing.T, doc []byte, parent string) [][]string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var out [][]string
	depth, at := 0, -1
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			if tok.Name.Local == parent {
				out = append(out, nil)
				at = depth
			} else if depth == at+1 {
				out[len(out)-1] = append(out[len(out)-1], tok.Name.Local)
			}
		case xml.EndElement:
			if depth == at {
				at = -1
			}
			depth--
		}
	}
}

// inDTDOrder reports whether names follow order, each at most once.
func inDTDOrder(names, order []string) bool {
	pos := -1
	for _, n := range names {
		i := slices.Index(order, n)
		if i <= pos {
			return false
		}
		pos = i
	}
	return true
}

func TestEncodeElementOrderFollowsDTD(t *testing.T) {
	vulnOrder := strings.Fields(`QID VULN_TYPE SEVERITY_LEVEL TITLE CATEGORY DETECTION_INFO
		LAST_CUSTOMIZATION LAST_SERVICE_MODIFICATION_DATETIME PUBLISHED_DATETIME BUGTRAQ_LIST
		PATCHABLE SOFTWARE_LIST VENDOR_REFERENCE_LIST CVE_LIST DIAGNOSIS DIAGNOSIS_COMMENT
		CONSEQUENCE CONSEQUENCE_COMMENT SOLUTION SOLUTION_COMMENT COMPLIANCE_LIST CORRELATION
		CVSS CVSS_V3 PCI_FLAG AUTOMATIC_PCI_FAIL PCI_REASONS THREAT_INTELLIGENCE SUPPORTED_MODULES
		DISCOVERY IS_DISABLED CHANGE_LOG_LIST`)
	cvss3Order := strings.Fields(`BASE TEMPORAL VECTOR_STRING CVSS3_VERSION ATTACK IMPACT`)
	hostOrder := strings.Fields(`ID ASSET_ID IP IPV6 TRACKING_METHOD NETWORK_ID OS OS_CPE DNS DNS_DATA
		CLOUD_PROVIDER CLOUD_SERVICE CLOUD_RESOURCE_ID EC2_INSTANCE_ID NETBIOS QG_HOSTID
		LAST_SCAN_DATETIME LAST_VM_SCANNED_DATE LAST_VM_SCANNED_DURATION LAST_VM_AUTH_SCANNED_DATE
		LAST_VM_AUTH_SCANNED_DURATION LAST_PC_SCANNED_DATE TAGS METADATA CLOUD_PROVIDER_TAGS DETECTION_LIST`)
	detOrder := strings.Fields(`UNIQUE_VULN_ID QID TYPE SEVERITY PORT PROTOCOL FQDN SSL INSTANCE RESULTS
		STATUS FIRST_FOUND_DATETIME LAST_FOUND_DATETIME QDS QDS_FACTORS TIMES_FOUND LAST_TEST_DATETIME
		LAST_UPDATE_DATETIME LAST_FIXED_DATETIME FIRST_REOPENED_DATETIME LAST_REOPENED_DATETIME
		TIMES_REOPENED SERVICE IS_IGNORED IS_DISABLED AFFECT_RUNNING_KERNEL AFFECT_RUNNING_SERVICE
		AFFECT_EXPLOITABLE_CONFIG LAST_PROCESSED_DATETIME ASSET_CVE`)

	kb := encodeKB(t, nil, fullVuln())
	for _, c := range []struct {
		doc    []byte
		parent string
		order  []string
		min    int
	}{
		{kb, "VULN", vulnOrder, 25},
		{kb, "CVSS_V3", cvss3Order, 5},
		{encodeHLD(t, nil, fullHost()), "HOST", hostOrder, 18},
		{encodeHLD(t, nil, fullHost()), "DETECTION", detOrder, 22},
	} {
		most := 0
		for _, names := range childOrder(t, c.doc, c.parent) {
			if !inDTDOrder(names, c.order) {
				t.Errorf("%s children out of DTD order: %v", c.parent, names)
			}
			most = max(most, len(names))
		}
		if most < c.min {
			t.Errorf("%s: the fullest has only %d children", c.parent, most)
		}
	}
}

type xHLD struct {
	XMLName  xml.Name `xml:"HOST_LIST_VM_DETECTION_OUTPUT"`
	Datetime string   `xml:"RESPONSE>DATETIME"`
	HostList *struct {
		Hosts []xHost `xml:"HOST"`
	} `xml:"RESPONSE>HOST_LIST"`
	Warning *xWarning `xml:"RESPONSE>WARNING"`
}

type xHost struct {
	ID                    int64  `xml:"ID"`
	AssetID               int64  `xml:"ASSET_ID"`
	IP                    string `xml:"IP"`
	IPv6                  string `xml:"IPV6"`
	TrackingMethod        string `xml:"TRACKING_METHOD"`
	NetworkID             string `xml:"NETWORK_ID"`
	OS                    string `xml:"OS"`
	OSCPE                 string `xml:"OS_CPE"`
	DNS                   string `xml:"DNS"`
	DNSHostname           string `xml:"DNS_DATA>HOSTNAME"`
	DNSDomain             string `xml:"DNS_DATA>DOMAIN"`
	FQDN                  string `xml:"DNS_DATA>FQDN"`
	NetBIOS               string `xml:"NETBIOS"`
	QGHostID              string `xml:"QG_HOSTID"`
	LastScan              string `xml:"LAST_SCAN_DATETIME"`
	LastVMScanned         string `xml:"LAST_VM_SCANNED_DATE"`
	LastVMScannedDuration int    `xml:"LAST_VM_SCANNED_DURATION"`
	LastVMAuthScanned     string `xml:"LAST_VM_AUTH_SCANNED_DATE"`
	LastPCScanned         string `xml:"LAST_PC_SCANNED_DATE"`
	Tags                  []struct {
		ID   int64  `xml:"TAG_ID"`
		Name string `xml:"NAME"`
	} `xml:"TAGS>TAG"`
	Detections []xDetection `xml:"DETECTION_LIST>DETECTION"`
}

type xDetection struct {
	UniqueVulnID int64   `xml:"UNIQUE_VULN_ID"`
	QID          int     `xml:"QID"`
	Type         string  `xml:"TYPE"`
	Severity     int     `xml:"SEVERITY"`
	Port         *string `xml:"PORT"`
	Protocol     *string `xml:"PROTOCOL"`
	FQDN         string  `xml:"FQDN"`
	SSL          string  `xml:"SSL"`
	Instance     string  `xml:"INSTANCE"`
	Results      string  `xml:"RESULTS"`
	Status       string  `xml:"STATUS"`
	FirstFound   string  `xml:"FIRST_FOUND_DATETIME"`
	LastFound    string  `xml:"LAST_FOUND_DATETIME"`
	QDS          struct {
		Severity string `xml:"severity,attr"`
		Value    int    `xml:",chardata"`
	} `xml:"QDS"`
	QDSFactors []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:",chardata"`
	} `xml:"QDS_FACTORS>QDS_FACTOR"`
	TimesFound    int    `xml:"TIMES_FOUND"`
	LastTest      string `xml:"LAST_TEST_DATETIME"`
	LastUpdate    string `xml:"LAST_UPDATE_DATETIME"`
	LastFixed     string `xml:"LAST_FIXED_DATETIME"`
	FirstReopened string `xml:"FIRST_REOPENED_DATETIME"`
	LastReopened  string `xml:"LAST_REOPENED_DATETIME"`
	TimesReopened int    `xml:"TIMES_REOPENED"`
	Service       string `xml:"SERVICE"`
	Ignored       string `xml:"IS_IGNORED"`
	Disabled      string `xml:"IS_DISABLED"`
	LastProcessed string `xml:"LAST_PROCESSED_DATETIME"`
}

func fullHost() *Host {
	return &Host{
		ID: 143111841, AssetID: 9876543, IP: "10.1.2.3", IPv6: "2001:db8::1", TrackingMethod: "AGENT",
		NetworkID: "0", OS: "Windows Server 2019 Standard", OSCPE: "cpe:/o:microsoft:windows_server_2019:-:-:x64:",
		DNS: "web01.corp.example.com", DNSHostname: "web01", DNSDomain: "corp.example.com", FQDN: "web01.corp.example.com",
		NetBIOS: "WEB01", QGHostID: "0f2b1c3d-aaaa-bbbb-cccc-1234567890ab",
		LastScan: "2026-10-31T15:26:53Z", LastVMScanned: "2026-10-31T15:26:01Z", LastVMScannedDuration: 2130,
		LastVMAuthScanned: "2026-10-31T15:26:01Z", LastPCScanned: "2026-10-01T12:03:46Z",
		Tags: []Tag{{ID: 1001, Name: "Internet Facing"}, {ID: 1002, Name: "PCI & <DMZ>"}},
		Detections: []Detection{
			{
				UniqueVulnID: 5501234567, QID: 11827, Type: "Confirmed", Severity: 2, Port: 443, Protocol: "tcp",
				FQDN: "www.example.com", SSL: true, Instance: "inst", Results: "HTTP/1.1 200 OK\nX: {&quot;a&quot;:1}",
				Status: "Re-Opened", FirstFound: "2025-01-01T00:00:00Z", LastFound: "2026-10-31T15:26:01Z",
				QDS: 35, QDSSeverity: "LOW", TimesFound: 216,
				QDSFactors: []QDSFactor{{"RTI", "dos,No_Patch"}, {"epss", "0.2054"}, {"CVSS_vector", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, {`odd & "name"`, "a ]]> b"}}, LastTest: "2026-10-31T15:26:01Z",
				LastUpdate: "2026-10-31T15:26:53Z", LastFixed: "2026-09-01T10:00:00Z",
				FirstReopened: "2026-05-01T10:00:00Z", LastReopened: "2026-10-31T15:26:01Z", TimesReopened: 2,
				Service: "http", Ignored: true, Disabled: true, LastProcessed: "2026-10-31T15:26:53Z",
			},
			{QID: 38726, Type: "Potential", Severity: 3, Results: "Vulnerable SSH-2.0-OpenSSH_7.4 detected on port 22 over TCP.", Status: "New"},
		},
	}
}

func encodeHLD(t *testing.T, warn *Warning, hosts ...*Host) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewHostListDetectionWriter(&buf, "2026-11-01T00:00:00Z")
	for _, h := range hosts {
		if err := w.Host(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(warn); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncodeHostListDetectionValuesComeBack(t *testing.T) {
	h := fullHost()
	warn := &Warning{Code: "1980", Text: "1 record limit exceeded. Use URL to get next batch of results.",
		URL: "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/?action=list&truncation_limit=1&id_min=143111842"}
	doc := encodeHLD(t, warn, h)
	var got xHLD
	decodeInto(t, doc, &got)
	if got.HostList == nil || len(got.HostList.Hosts) != 1 || got.Warning == nil || got.Warning.URL != warn.URL {
		t.Fatalf("got %+v", got)
	}
	g := got.HostList.Hosts[0]
	wantHost := xHost{
		ID: h.ID, AssetID: h.AssetID, IP: h.IP, IPv6: h.IPv6, TrackingMethod: h.TrackingMethod, NetworkID: h.NetworkID,
		OS: h.OS, OSCPE: h.OSCPE, DNS: h.DNS, DNSHostname: h.DNSHostname, DNSDomain: h.DNSDomain, FQDN: h.FQDN,
		NetBIOS: h.NetBIOS, QGHostID: h.QGHostID, LastScan: h.LastScan, LastVMScanned: h.LastVMScanned,
		LastVMScannedDuration: h.LastVMScannedDuration, LastVMAuthScanned: h.LastVMAuthScanned, LastPCScanned: h.LastPCScanned,
		Tags: g.Tags, Detections: g.Detections,
	}
	if !reflect.DeepEqual(g, wantHost) {
		t.Errorf("host = %+v\nwant %+v", g, wantHost)
	}
	if len(g.Tags) != 2 || g.Tags[1].ID != 1002 || g.Tags[1].Name != "PCI & <DMZ>" {
		t.Errorf("tags = %+v", g.Tags)
	}
	if len(g.Detections) != 2 {
		t.Fatalf("%d detections", len(g.Detections))
	}
	d, w := g.Detections[0], h.Detections[0]
	back := Detection{
		UniqueVulnID: d.UniqueVulnID, QID: d.QID, Type: d.Type, Severity: d.Severity, Protocol: *d.Protocol,
		FQDN: d.FQDN, SSL: d.SSL == "1", Instance: d.Instance, Results: d.Results, Status: d.Status,
		FirstFound: d.FirstFound, LastFound: d.LastFound, QDS: d.QDS.Value, QDSSeverity: d.QDS.Severity,
		TimesFound: d.TimesFound, LastTest: d.LastTest, LastUpdate: d.LastUpdate, LastFixed: d.LastFixed,
		FirstReopened: d.FirstReopened, LastReopened: d.LastReopened, TimesReopened: d.TimesReopened,
		Service: d.Service, Ignored: d.Ignored == "1", Disabled: d.Disabled == "1", LastProcessed: d.LastProcessed,
		Port: 443,
	}
	for _, f := range d.QDSFactors {
		back.QDSFactors = append(back.QDSFactors, QDSFactor{f.Name, f.Value})
	}
	if *d.Port != "443" || !reflect.DeepEqual(back, w) {
		t.Errorf("detection = %+v (port %s)\nwant %+v", back, *d.Port, w)
	}
	p := g.Detections[1]
	if p.Port != nil || p.Protocol != nil || p.SSL != "0" || p.Ignored != "0" || p.Disabled != "0" || p.UniqueVulnID != 0 {
		t.Errorf("detection without port: %+v", p)
	}
}

func TestEncodeHostListDetectionEmptyResponse(t *testing.T) {
	var got xHLD
	decodeInto(t, encodeHLD(t, nil), &got)
	if got.HostList != nil || got.Warning != nil {
		t.Errorf("empty response = %+v", got)
	}
}

// TestEncodeUnsafeText checks the two escapers on text that would break
// the document: "]]>" inside CDATA, markup characters in plain text,
// control characters, invalid UTF-8 and the non-characters U+FFFE/U+FFFF.
func TestEncodeUnsafeText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"]]>", "]]>"},
		{"a]]>b]]>c", "a]]>b]]>c"},
		{"]]]]>>", "]]]]>>"},
		{"x]", "x]"},
		{"ends]]", "ends]]"},
		{"]]>]]>", "]]>]]>"},
		{"<P>&quot;&amp;</P>", "<P>&quot;&amp;</P>"},
		{"a\x00b\x01c\x1fd\x0be\x7f", "abcde\x7f"},
		{"tab\tnl\n", "tab\tnl\n"},
		{"bad\xffutf8\xc3", "badutf8"},
		{"non\uFFFEchar\uFFFF.", "nonchar."},
		{"café ünïcödé ✓ 𝄞", "café ünïcödé ✓ 𝄞"},
	}
	for _, c := range cases {
		v := &Vuln{QID: 1, Title: c.in, Category: c.in, SupportedModules: c.in, Published: c.in,
			ThreatIntel: []ThreatIntel{{ID: c.in, Text: c.in}}}
		doc := encodeKB(t, nil, v)
		var got xKB
		decodeInto(t, doc, &got)
		g := got.vulns()[0]
		for name, s := range map[string]string{
			"TITLE (CDATA)": g.Title, "CATEGORY (text)": *g.Category, "SUPPORTED_MODULES (text)": g.SupportedModules,
			"THREAT_INTEL id (attribute)": g.ThreatIntel[0].ID, "THREAT_INTEL (CDATA)": g.ThreatIntel[0].Text,
		} {
			if s != c.want {
				t.Errorf("%q in %s came back as %q, want %q", c.in, name, s, c.want)
			}
		}
	}
	// A carriage return survives as a character reference outside CDATA.
	var got xKB
	decodeInto(t, encodeKB(t, nil, &Vuln{Category: "a\r\nb"}), &got)
	if *got.vulns()[0].Category != "a\r\nb" {
		t.Errorf("CR in text came back as %q", *got.vulns()[0].Category)
	}
}

func TestEncodeSplitsCDATA(t *testing.T) {
	got := string(appendCDATA(nil, "a]]>b"))
	if want := "<![CDATA[a]]]]><![CDATA[>b]]>"; got != want {
		t.Errorf("appendCDATA = %q, want %q", got, want)
	}
}

func TestWriteHostIDList(t *testing.T) {
	cases := []struct {
		ids  []int64
		want []string // ID or ID_RANGE contents, "r:" marking ranges
	}{
		{nil, nil},
		{[]int64{42}, []string{"42"}},
		{[]int64{1, 2, 3, 5, 7, 8, 10}, []string{"r:1-3", "5", "r:7-8", "10"}},
		{[]int64{10, 8, 7, 3, 2, 1, 5, 10, 2}, []string{"r:1-3", "5", "r:7-8", "10"}},
		{[]int64{100000, 100001, 100002, 100003}, []string{"r:100000-100003"}},
	}
	for _, c := range cases {
		in := slices.Clone(c.ids)
		var buf bytes.Buffer
		if err := WriteHostIDList(&buf, "2026-11-01T00:00:00Z", c.ids); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(in, c.ids) {
			t.Errorf("WriteHostIDList changed its argument: %v", c.ids)
		}
		var doc struct {
			XMLName  xml.Name `xml:"HOST_LIST_OUTPUT"`
			Datetime string   `xml:"RESPONSE>DATETIME"`
			Set      *struct {
				Items []struct {
					XMLName xml.Name
					Value   string `xml:",chardata"`
				} `xml:",any"`
			} `xml:"RESPONSE>ID_SET"`
		}
		decodeInto(t, buf.Bytes(), &doc)
		var got []string
		if doc.Set != nil {
			for _, it := range doc.Set.Items {
				switch it.XMLName.Local {
				case "ID":
					got = append(got, it.Value)
				case "ID_RANGE":
					got = append(got, "r:"+it.Value)
				default:
					t.Errorf("unexpected element %s", it.XMLName.Local)
				}
			}
		}
		if !slices.Equal(got, c.want) || (len(c.ids) == 0) != (doc.Set == nil) {
			t.Errorf("ids %v: ID_SET = %v, want %v", c.ids, got, c.want)
		}
	}
}

func TestWriteSimpleReturn(t *testing.T) {
	var buf bytes.Buffer
	items := map[string]string{"SECONDS_TO_WAIT": "86274", "A_KEY": "x & y"}
	if err := WriteSimpleReturn(&buf, "2026-11-01T00:00:00Z", 1965, "This API cannot be run again for another 23 hours, 57 minutes and 54 seconds.", items); err != nil {
		t.Fatal(err)
	}
	var got struct {
		XMLName  xml.Name `xml:"SIMPLE_RETURN"`
		Datetime string   `xml:"RESPONSE>DATETIME"`
		Code     int      `xml:"RESPONSE>CODE"`
		Text     string   `xml:"RESPONSE>TEXT"`
		Items    []struct {
			Key   string `xml:"KEY"`
			Value string `xml:"VALUE"`
		} `xml:"RESPONSE>ITEM_LIST>ITEM"`
	}
	decodeInto(t, buf.Bytes(), &got)
	if got.Code != 1965 || !strings.HasPrefix(got.Text, "This API cannot") || got.Datetime != "2026-11-01T00:00:00Z" {
		t.Errorf("got %+v", got)
	}
	if len(got.Items) != 2 || got.Items[0].Key != "A_KEY" || got.Items[0].Value != "x & y" || got.Items[1].Value != "86274" {
		t.Errorf("items = %+v", got.Items)
	}
	if !strings.Contains(buf.String(), `<!DOCTYPE SIMPLE_RETURN SYSTEM "https://qualysapi.qualys.com/api/2.0/simple_return.dtd">`) {
		t.Errorf("no DOCTYPE:\n%s", buf.String())
	}

	buf.Reset()
	if err := WriteSimpleReturn(&buf, "2026-11-01T00:00:00Z", 2000, "Bad Login/Password", nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "ITEM_LIST") {
		t.Errorf("ITEM_LIST without items:\n%s", buf.String())
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

func TestEncodeWriteErrors(t *testing.T) {
	w := NewKBWriter(&failWriter{}, "2026-11-01T00:00:00Z")
	big := fullVuln()
	big.Diagnosis = strings.Repeat("x", 70<<10)
	if err := w.Vuln(big); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Vuln on a failing writer: %v", err)
	}
	if err := w.Close(nil); err == nil {
		t.Error("Close after a write error returned nil")
	}
	if err := w.Vuln(big); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Vuln after Close: %v", err)
	}
	h := NewHostListDetectionWriter(io.Discard, "x")
	if err := h.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Host(fullHost()); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Host after Close: %v", err)
	}
}

func BenchmarkEncodeKB(b *testing.B) {
	v := fullVuln()
	v.Diagnosis = strings.Repeat(v.Diagnosis+"\n", 12)
	cw := &countWriter{}
	k := NewKBWriter(cw, "2026-11-01T00:00:00Z")
	for b.Loop() {
		if err := k.Vuln(v); err != nil {
			b.Fatal(err)
		}
	}
	k.Close(nil)
	b.SetBytes(cw.n / int64(b.N))
}

func BenchmarkEncodeHLD(b *testing.B) {
	h := fullHost()
	for range 38 {
		h.Detections = append(h.Detections, h.Detections[0])
	}
	cw := &countWriter{}
	w := NewHostListDetectionWriter(cw, "2026-11-01T00:00:00Z")
	for b.Loop() {
		if err := w.Host(h); err != nil {
			b.Fatal(err)
		}
	}
	w.Close(nil)
	b.SetBytes(cw.n / int64(b.N))
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
