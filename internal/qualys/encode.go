package qualys

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The encoders write what the Qualys API sends: an XML declaration, a
// DOCTYPE naming the DTD on the API host, elements in DTD order indented by
// two spaces, free text in CDATA sections. They exist so that a local double
// of the API, and the benchmark generator, can produce byte-for-byte
// plausible responses.
//
// They append into one byte buffer and hand it to the underlying writer in
// 64 KiB pieces (what bufio would do, minus a copy): the benchmark files run
// to hundreds of megabytes, and fmt or encoding/xml reflection per field
// would make writing them slower than reading them.

// APIHost is the API server named in the DOCTYPE system ids.
const APIHost = "https://qualysapi.qualys.com"

const (
	xmlDecl      = `<?xml version="1.0" encoding="UTF-8" ?>` + "\n"
	xmlFlushSize = 64 << 10
	xmlIndent    = "                                                                "
)

// ErrWriterClosed is returned by a writer used after Close.
var ErrWriterClosed = errors.New("qualys: write after Close")

// xmlOut is the append buffer the writers share. Its first write error
// sticks and is returned by every later call.
type xmlOut struct {
	w   io.Writer
	b   []byte
	err error
}

func newXMLOut(w io.Writer) xmlOut {
	return xmlOut{w: w, b: make([]byte, 0, xmlFlushSize+8<<10)}
}

func (o *xmlOut) flush() error {
	if o.err == nil && len(o.b) > 0 {
		if _, err := o.w.Write(o.b); err != nil {
			o.err = fmt.Errorf("writing XML: %w", err)
		}
	}
	o.b = o.b[:0]
	return o.err
}

func (o *xmlOut) maybeFlush() error {
	if len(o.b) >= xmlFlushSize {
		return o.flush()
	}
	return o.err
}

func (o *xmlOut) raw(s string) { o.b = append(o.b, s...) }

func (o *xmlOut) indent(depth int) { o.b = append(o.b, xmlIndent[:2*depth]...) }

// prolog writes the declaration, the DOCTYPE and the root start tag.
func (o *xmlOut) prolog(root, dtdPath string) {
	o.raw(xmlDecl)
	o.raw("<!DOCTYPE ")
	o.raw(root)
	o.raw(` SYSTEM "`)
	o.raw(APIHost)
	o.raw(dtdPath)
	o.raw("\">\n<")
	o.raw(root)
	o.raw(">\n")
}

func (o *xmlOut) open(depth int, name string) {
	o.indent(depth)
	o.b = append(o.b, '<')
	o.b = append(o.b, name...)
	o.b = append(o.b, ">\n"...)
}

func (o *xmlOut) close(depth int, name string) {
	o.indent(depth)
	o.b = append(o.b, "</"...)
	o.b = append(o.b, name...)
	o.b = append(o.b, ">\n"...)
}

func (o *xmlOut) startElem(depth int, name string) {
	o.indent(depth)
	o.b = append(o.b, '<')
	o.b = append(o.b, name...)
	o.b = append(o.b, '>')
}

func (o *xmlOut) endElem(name string) {
	o.b = append(o.b, "</"...)
	o.b = append(o.b, name...)
	o.b = append(o.b, ">\n"...)
}

// text writes <name>s</name> with s escaped.
func (o *xmlOut) text(depth int, name, s string) {
	o.startElem(depth, name)
	o.b = appendXMLText(o.b, s)
	o.endElem(name)
}

func (o *xmlOut) optText(depth int, name, s string) {
	if s != "" {
		o.text(depth, name, s)
	}
}

// cdata writes <name><![CDATA[s]]></name>, the form Qualys uses for free
// text.
func (o *xmlOut) cdata(depth int, name, s string) {
	o.startElem(depth, name)
	o.b = appendCDATA(o.b, s)
	o.endElem(name)
}

func (o *xmlOut) optCDATA(depth int, name, s string) {
	if s != "" {
		o.cdata(depth, name, s)
	}
}

func (o *xmlOut) int(depth int, name string, n int64) {
	o.startElem(depth, name)
	o.b = strconv.AppendInt(o.b, n, 10)
	o.endElem(name)
}

func (o *xmlOut) optInt(depth int, name string, n int64) {
	if n != 0 {
		o.int(depth, name, n)
	}
}

func (o *xmlOut) bool(depth int, name string, v bool) {
	o.startElem(depth, name)
	if v {
		o.b = append(o.b, '1')
	} else {
		o.b = append(o.b, '0')
	}
	o.endElem(name)
}

func (o *xmlOut) warning(depth int, w *Warning) {
	o.open(depth, "WARNING")
	o.optText(depth+1, "CODE", w.Code)
	o.text(depth+1, "TEXT", w.Text)
	o.optCDATA(depth+1, "URL", w.URL)
	o.close(depth, "WARNING")
}

// KBWriter writes a KnowledgeBase response
// (KNOWLEDGE_BASE_VULN_LIST_OUTPUT) one VULN at a time.
type KBWriter struct {
	o        xmlOut
	listOpen bool
	closed   bool
}

// NewKBWriter starts a KnowledgeBase response stamped with datetime
// (e.g. "2026-11-01T00:00:00Z"). Nothing reaches w before the first 64 KiB
// or Close.
func NewKBWriter(w io.Writer, datetime string) *KBWriter {
	k := &KBWriter{o: newXMLOut(w)}
	k.o.prolog(RootKB, "/api/2.0/fo/knowledge_base/vuln/knowledge_base_vuln_list_output.dtd")
	k.o.open(1, "RESPONSE")
	k.o.text(2, "DATETIME", datetime)
	return k
}

// Vuln writes one VULN element. VULN_LIST is opened by the first call, so
// a response without vulns has none, as Qualys sends it.
func (k *KBWriter) Vuln(v *Vuln) error {
	if k.closed {
		return ErrWriterClosed
	}
	if !k.listOpen {
		k.o.open(2, "VULN_LIST")
		k.listOpen = true
	}
	k.o.vuln(3, v)
	return k.o.maybeFlush()
}

// Close ends the response, with warn (e.g. the 1980 truncation warning)
// when it is not nil, and flushes.
func (k *KBWriter) Close(warn *Warning) error {
	if k.closed {
		return ErrWriterClosed
	}
	k.closed = true
	if k.listOpen {
		k.o.close(2, "VULN_LIST")
	}
	return k.o.end(RootKB, warn)
}

// end closes RESPONSE after an optional WARNING, then the root, and
// flushes.
func (o *xmlOut) end(root string, warn *Warning) error {
	if warn != nil {
		o.warning(2, warn)
	}
	o.close(1, "RESPONSE")
	o.raw("</")
	o.raw(root)
	o.raw(">\n")
	return o.flush()
}

// vuln writes one VULN with its children in the order of the DTD. Elements
// the DTD requires are always written; optional ones only when their field
// is set.
func (o *xmlOut) vuln(depth int, v *Vuln) {
	d := depth + 1
	o.open(depth, "VULN")
	o.int(d, "QID", int64(v.QID))
	o.text(d, "VULN_TYPE", v.VulnType)
	o.int(d, "SEVERITY_LEVEL", int64(v.Severity))
	o.cdata(d, "TITLE", v.Title)
	o.optText(d, "CATEGORY", v.Category)
	o.optCDATA(d, "DETECTION_INFO", v.DetectionInfo)
	if v.LastCustomized != "" {
		o.open(d, "LAST_CUSTOMIZATION")
		o.text(d+1, "DATETIME", v.LastCustomized)
		o.close(d, "LAST_CUSTOMIZATION")
	}
	o.optText(d, "LAST_SERVICE_MODIFICATION_DATETIME", v.LastModified)
	o.text(d, "PUBLISHED_DATETIME", v.Published)
	o.refs(d, "BUGTRAQ_LIST", "BUGTRAQ", v.Bugtraqs)
	o.bool(d, "PATCHABLE", v.Patchable)
	if len(v.Software) > 0 {
		o.open(d, "SOFTWARE_LIST")
		for i := range v.Software {
			o.open(d+1, "SOFTWARE")
			o.cdata(d+2, "PRODUCT", v.Software[i].Product)
			o.cdata(d+2, "VENDOR", v.Software[i].Vendor)
			o.close(d+1, "SOFTWARE")
		}
		o.close(d, "SOFTWARE_LIST")
	}
	o.refs(d, "VENDOR_REFERENCE_LIST", "VENDOR_REFERENCE", v.VendorRefs)
	o.cves(d, v.CVEs)
	o.optCDATA(d, "DIAGNOSIS", v.Diagnosis)
	o.optCDATA(d, "CONSEQUENCE", v.Consequence)
	o.optCDATA(d, "SOLUTION", v.Solution)
	o.correlation(d, v.Exploits, v.Malware)
	o.cvss(d, "CVSS", &v.CVSS, false)
	o.cvss(d, "CVSS_V3", &v.CVSSv3, true)
	o.bool(d, "PCI_FLAG", v.PCIFlag)
	if len(v.ThreatIntel) > 0 {
		o.open(d, "THREAT_INTELLIGENCE")
		for _, ti := range v.ThreatIntel {
			o.indent(d + 1)
			o.raw(`<THREAT_INTEL id="`)
			o.b = appendXMLText(o.b, ti.ID)
			o.raw(`">`)
			o.b = appendCDATA(o.b, ti.Text)
			o.endElem("THREAT_INTEL")
		}
		o.close(d, "THREAT_INTELLIGENCE")
	}
	o.optText(d, "SUPPORTED_MODULES", v.SupportedModules)
	o.open(d, "DISCOVERY")
	o.bool(d+1, "REMOTE", v.Remote)
	if len(v.AuthTypes) > 0 {
		o.open(d+1, "AUTH_TYPE_LIST")
		for _, t := range v.AuthTypes {
			o.text(d+2, "AUTH_TYPE", t)
		}
		o.close(d+1, "AUTH_TYPE_LIST")
	}
	o.optText(d+1, "ADDITIONAL_INFO", v.AdditionalInfo)
	o.close(d, "DISCOVERY")
	if v.Disabled {
		o.bool(d, "IS_DISABLED", true)
	}
	o.close(depth, "VULN")
}

// refs writes an (ID, URL) list. The DTD requires URL, and Qualys sends it
// empty when it has none.
func (o *xmlOut) refs(depth int, list, item string, refs []Ref) {
	if len(refs) == 0 {
		return
	}
	o.open(depth, list)
	for i := range refs {
		o.open(depth+1, item)
		o.cdata(depth+2, "ID", refs[i].ID)
		o.cdata(depth+2, "URL", refs[i].URL)
		o.close(depth+1, item)
	}
	o.close(depth, list)
}

// cveURLPrefix is the URL Qualys gives a CVE_LIST entry; Vuln keeps only
// the id, so the URL is rebuilt from it. An empty id (real data has them)
// gets no URL.
const cveURLPrefix = "http://cve.mitre.org/cgi-bin/cvename.cgi?name="

func (o *xmlOut) cves(depth int, ids []string) {
	if len(ids) == 0 {
		return
	}
	o.open(depth, "CVE_LIST")
	for _, id := range ids {
		o.open(depth+1, "CVE")
		o.cdata(depth+2, "ID", id)
		if id != "" {
			o.startElem(depth+2, "URL")
			o.raw("<![CDATA[" + cveURLPrefix)
			o.b = appendCDATABody(o.b, id)
			o.raw("]]>")
			o.endElem("URL")
		}
		o.close(depth+1, "CVE")
	}
	o.close(depth, "CVE_LIST")
}

// correlation writes CORRELATION/(EXPLOITS, MALWARE). The flattened
// entries are grouped back into EXPLT_SRC / MW_SRC by runs of equal Source.
func (o *xmlOut) correlation(depth int, ex []Exploit, mw []Malware) {
	if len(ex) == 0 && len(mw) == 0 {
		return
	}
	d := depth + 1
	o.open(depth, "CORRELATION")
	if len(ex) > 0 {
		o.open(d, "EXPLOITS")
		for i := 0; i < len(ex); {
			j := i + 1
			for j < len(ex) && ex[j].Source == ex[i].Source {
				j++
			}
			o.open(d+1, "EXPLT_SRC")
			o.cdata(d+2, "SRC_NAME", ex[i].Source)
			o.open(d+2, "EXPLT_LIST")
			for _, e := range ex[i:j] {
				o.open(d+3, "EXPLT")
				o.cdata(d+4, "REF", e.Ref)
				o.cdata(d+4, "DESC", e.Desc)
				o.optCDATA(d+4, "LINK", e.Link)
				o.close(d+3, "EXPLT")
			}
			o.close(d+2, "EXPLT_LIST")
			o.close(d+1, "EXPLT_SRC")
			i = j
		}
		o.close(d, "EXPLOITS")
	}
	if len(mw) > 0 {
		o.open(d, "MALWARE")
		for i := 0; i < len(mw); {
			j := i + 1
			for j < len(mw) && mw[j].Source == mw[i].Source {
				j++
			}
			o.open(d+1, "MW_SRC")
			o.cdata(d+2, "SRC_NAME", mw[i].Source)
			o.open(d+2, "MW_LIST")
			for _, m := range mw[i:j] {
				o.open(d+3, "MW_INFO")
				o.cdata(d+4, "MW_ID", m.ID)
				o.optCDATA(d+4, "MW_TYPE", m.Type)
				o.optCDATA(d+4, "MW_PLATFORM", m.Platform)
				o.optCDATA(d+4, "MW_ALIAS", m.Alias)
				o.optCDATA(d+4, "MW_RATING", m.Rating)
				o.optCDATA(d+4, "MW_LINK", m.Link)
				o.close(d+3, "MW_INFO")
			}
			o.close(d+2, "MW_LIST")
			o.close(d+1, "MW_SRC")
			i = j
		}
		o.close(d, "MALWARE")
	}
	o.close(depth, "CORRELATION")
}

// cvss writes a CVSS or CVSS_V3 block when any of its fields is set. The
// v2 block has no version element, so a v2 Version is not written.
func (o *xmlOut) cvss(depth int, name string, c *CVSS, v3 bool) {
	if *c == (CVSS{}) {
		return
	}
	d := depth + 1
	o.open(depth, name)
	o.optText(d, "BASE", c.Base)
	o.optText(d, "TEMPORAL", c.Temporal)
	o.optText(d, "VECTOR_STRING", c.Vector)
	if v3 {
		o.optText(d, "CVSS3_VERSION", c.Version)
	}
	if c.Impact != (Impact{}) {
		o.open(d, "IMPACT")
		o.optText(d+1, "CONFIDENTIALITY", c.Impact.Confidentiality)
		o.optText(d+1, "INTEGRITY", c.Impact.Integrity)
		o.optText(d+1, "AVAILABILITY", c.Impact.Availability)
		o.close(d, "IMPACT")
	}
	o.close(depth, name)
}

// HostListDetectionWriter writes a Host List Detection response
// (HOST_LIST_VM_DETECTION_OUTPUT) one HOST at a time.
type HostListDetectionWriter struct {
	o        xmlOut
	listOpen bool
	closed   bool
}

// NewHostListDetectionWriter starts a Host List Detection response stamped
// with datetime.
func NewHostListDetectionWriter(w io.Writer, datetime string) *HostListDetectionWriter {
	h := &HostListDetectionWriter{o: newXMLOut(w)}
	h.o.prolog(RootDetections, "/api/2.0/fo/asset/host/vm/detection/host_list_vm_detection_output.dtd")
	h.o.open(1, "RESPONSE")
	h.o.text(2, "DATETIME", datetime)
	return h
}

// Host writes one HOST with its DETECTION_LIST. HOST_LIST is opened by the
// first call: Qualys leaves it out of an empty response.
func (h *HostListDetectionWriter) Host(host *Host) error {
	if h.closed {
		return ErrWriterClosed
	}
	if !h.listOpen {
		h.o.open(2, "HOST_LIST")
		h.listOpen = true
	}
	h.o.host(3, host)
	return h.o.maybeFlush()
}

// Close ends the response, with warn when it is not nil (Qualys' 1980
// "record limit exceeded" warning carries the next page's URL), and
// flushes.
func (h *HostListDetectionWriter) Close(warn *Warning) error {
	if h.closed {
		return ErrWriterClosed
	}
	h.closed = true
	if h.listOpen {
		h.o.close(2, "HOST_LIST")
	}
	return h.o.end(RootDetections, warn)
}

func (o *xmlOut) host(depth int, h *Host) {
	d := depth + 1
	o.open(depth, "HOST")
	o.int(d, "ID", h.ID)
	o.optInt(d, "ASSET_ID", h.AssetID)
	o.optText(d, "IP", h.IP)
	o.optText(d, "IPV6", h.IPv6)
	o.optText(d, "TRACKING_METHOD", h.TrackingMethod)
	o.optText(d, "NETWORK_ID", h.NetworkID)
	o.optCDATA(d, "OS", h.OS)
	o.optCDATA(d, "OS_CPE", h.OSCPE)
	o.optCDATA(d, "DNS", h.DNS)
	if h.DNSHostname != "" || h.DNSDomain != "" || h.FQDN != "" {
		o.open(d, "DNS_DATA")
		o.optCDATA(d+1, "HOSTNAME", h.DNSHostname)
		o.optCDATA(d+1, "DOMAIN", h.DNSDomain)
		o.optCDATA(d+1, "FQDN", h.FQDN)
		o.close(d, "DNS_DATA")
	}
	o.optCDATA(d, "NETBIOS", h.NetBIOS)
	o.optText(d, "QG_HOSTID", h.QGHostID)
	o.optText(d, "LAST_SCAN_DATETIME", h.LastScan)
	o.optText(d, "LAST_VM_SCANNED_DATE", h.LastVMScanned)
	o.optInt(d, "LAST_VM_SCANNED_DURATION", int64(h.LastVMScannedDuration))
	o.optText(d, "LAST_VM_AUTH_SCANNED_DATE", h.LastVMAuthScanned)
	o.optText(d, "LAST_PC_SCANNED_DATE", h.LastPCScanned)
	if len(h.Tags) > 0 {
		o.open(d, "TAGS")
		for _, t := range h.Tags {
			o.open(d+1, "TAG")
			o.optInt(d+2, "TAG_ID", t.ID)
			o.cdata(d+2, "NAME", t.Name)
			o.close(d+1, "TAG")
		}
		o.close(d, "TAGS")
	}
	if len(h.Detections) > 0 {
		o.open(d, "DETECTION_LIST")
		for i := range h.Detections {
			o.detection(d+1, &h.Detections[i])
		}
		o.close(d, "DETECTION_LIST")
	}
	o.close(depth, "HOST")
}

// detection writes one DETECTION. SSL, IS_IGNORED and IS_DISABLED are
// always present in real output; the rest only when set (no PORT when Port
// is 0, as for authenticated checks).
func (o *xmlOut) detection(depth int, x *Detection) {
	d := depth + 1
	o.open(depth, "DETECTION")
	o.optInt(d, "UNIQUE_VULN_ID", x.UniqueVulnID)
	o.int(d, "QID", int64(x.QID))
	o.text(d, "TYPE", x.Type)
	o.optInt(d, "SEVERITY", int64(x.Severity))
	o.optInt(d, "PORT", int64(x.Port))
	o.optText(d, "PROTOCOL", x.Protocol)
	o.optCDATA(d, "FQDN", x.FQDN)
	o.bool(d, "SSL", x.SSL)
	o.optCDATA(d, "INSTANCE", x.Instance)
	o.optCDATA(d, "RESULTS", x.Results)
	o.optText(d, "STATUS", x.Status)
	o.optText(d, "FIRST_FOUND_DATETIME", x.FirstFound)
	o.optText(d, "LAST_FOUND_DATETIME", x.LastFound)
	if x.QDS != 0 || x.QDSSeverity != "" {
		o.indent(d)
		o.raw("<QDS")
		if x.QDSSeverity != "" {
			o.raw(` severity="`)
			o.b = appendXMLText(o.b, x.QDSSeverity)
			o.raw(`"`)
		}
		o.raw(">")
		o.b = strconv.AppendInt(o.b, int64(x.QDS), 10)
		o.endElem("QDS")
	}
	if len(x.QDSFactors) > 0 {
		o.open(d, "QDS_FACTORS")
		for _, f := range x.QDSFactors {
			o.indent(d + 1)
			o.raw(`<QDS_FACTOR name="`)
			o.b = appendXMLText(o.b, f.Name)
			o.raw(`">`)
			o.b = appendCDATA(o.b, f.Value)
			o.endElem("QDS_FACTOR")
		}
		o.close(d, "QDS_FACTORS")
	}
	o.optInt(d, "TIMES_FOUND", int64(x.TimesFound))
	o.optText(d, "LAST_TEST_DATETIME", x.LastTest)
	o.optText(d, "LAST_UPDATE_DATETIME", x.LastUpdate)
	o.optText(d, "LAST_FIXED_DATETIME", x.LastFixed)
	o.optText(d, "FIRST_REOPENED_DATETIME", x.FirstReopened)
	o.optText(d, "LAST_REOPENED_DATETIME", x.LastReopened)
	o.optInt(d, "TIMES_REOPENED", int64(x.TimesReopened))
	o.optText(d, "SERVICE", x.Service)
	o.bool(d, "IS_IGNORED", x.Ignored)
	o.bool(d, "IS_DISABLED", x.Disabled)
	o.optText(d, "LAST_PROCESSED_DATETIME", x.LastProcessed)
	o.close(depth, "DETECTION")
}

// WriteHostIDList writes the response of
// /api/2.0/fo/asset/host/?action=list&details=None: HOST_LIST_OUTPUT with an
// ID_SET in which runs of consecutive ids become ID_RANGE "first-last".
// ids need not be sorted; duplicates are written once.
func WriteHostIDList(w io.Writer, datetime string, ids []int64) error {
	o := newXMLOut(w)
	o.prolog(RootHostList, "/api/2.0/fo/asset/host/host_list_output.dtd")
	o.open(1, "RESPONSE")
	o.text(2, "DATETIME", datetime)
	if !slices.IsSorted(ids) {
		ids = slices.Sorted(slices.Values(ids))
	}
	ids = slices.Compact(slices.Clip(ids))
	if len(ids) > 0 {
		o.open(2, "ID_SET")
		for i := 0; i < len(ids); {
			j := i + 1
			for j < len(ids) && ids[j] == ids[j-1]+1 {
				j++
			}
			if j-i == 1 {
				o.int(3, "ID", ids[i])
			} else {
				o.startElem(3, "ID_RANGE")
				o.b = strconv.AppendInt(o.b, ids[i], 10)
				o.b = append(o.b, '-')
				o.b = strconv.AppendInt(o.b, ids[j-1], 10)
				o.endElem("ID_RANGE")
			}
			i = j
			if err := o.maybeFlush(); err != nil {
				return err
			}
		}
		o.close(2, "ID_SET")
	}
	return o.end(RootHostList, nil)
}

// WriteSimpleReturn writes a SIMPLE_RETURN body, the form of every Qualys
// API error (e.g. code 1965 with item SECONDS_TO_WAIT). Items are written
// in key order, so the output does not depend on map iteration.
func WriteSimpleReturn(w io.Writer, datetime string, code int, text string, items map[string]string) error {
	o := newXMLOut(w)
	o.prolog(RootError, "/api/2.0/simple_return.dtd")
	o.open(1, "RESPONSE")
	o.text(2, "DATETIME", datetime)
	o.int(2, "CODE", int64(code))
	o.text(2, "TEXT", text)
	if len(items) > 0 {
		o.open(2, "ITEM_LIST")
		for _, k := range slices.Sorted(maps.Keys(items)) {
			o.open(3, "ITEM")
			o.text(4, "KEY", k)
			o.text(4, "VALUE", items[k])
			o.close(3, "ITEM")
		}
		o.close(2, "ITEM_LIST")
	}
	return o.end(RootError, nil)
}

// Classes of bytes for the escapers.
const (
	xmlPlain   = iota // copied as it is
	xmlMarkup         // & < > "
	xmlInvalid        // C0 controls other than \t \n \r: dropped
	xmlMulti          // lead or continuation byte of a multi-byte UTF-8 sequence
	xmlBracket        // ], which matters in CDATA only
	xmlCR             // \r, which a parser would turn into \n outside CDATA
)

// xmlClass classifies every byte value.
var xmlClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = xmlInvalid
	}
	t['\t'], t['\n'], t['\r'] = xmlPlain, xmlPlain, xmlCR
	for _, c := range `&<>"` {
		t[c] = xmlMarkup
	}
	t[']'] = xmlBracket
	for c := 0x80; c < 0x100; c++ {
		t[c] = xmlMulti
	}
	return t
}()

// xmlRune decodes the UTF-8 sequence at s[i:] and reports its length and
// whether XML 1.0 allows it. Invalid UTF-8, U+FFFE and U+FFFF are not
// allowed (surrogates are already invalid UTF-8).
func xmlRune(s string, i int) (n int, ok bool) {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
		return n, false
	}
	return n, true
}

// appendXMLText appends s escaped for character data or an attribute
// value, dropping characters XML cannot carry.
func appendXMLText(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		k := xmlClass[s[i]]
		if k == xmlPlain || k == xmlBracket {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch k {
		case xmlMarkup:
			switch s[i] {
			case '&':
				b = append(b, "&amp;"...)
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			default:
				b = append(b, "&quot;"...)
			}
			i++
		case xmlCR:
			b = append(b, "&#13;"...)
			i++
		case xmlMulti:
			n, ok := xmlRune(s, i)
			if ok {
				b = append(b, s[i:i+n]...)
			}
			i += n
		default:
			i++
		}
		start = i
	}
	return append(b, s[start:]...)
}

// appendCDATA appends s as a CDATA section. A "]]>" inside s would end the
// section, so the section is closed between "]]" and ">" and a new one
// opened; characters XML cannot carry are dropped.
func appendCDATA(b []byte, s string) []byte {
	b = append(b, "<![CDATA["...)
	b = appendCDATABody(b, s)
	return append(b, "]]>"...)
}

func appendCDATABody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		k := xmlClass[s[i]]
		if k == xmlPlain || k == xmlMarkup || k == xmlCR {
			i++
			continue
		}
		switch k {
		case xmlBracket:
			if !strings.HasPrefix(s[i:], "]]>") {
				i++
				continue
			}
			b = append(b, s[start:i+2]...)
			b = append(b, "]]><![CDATA["...)
			i += 2
		case xmlMulti:
			n, ok := xmlRune(s, i)
			if ok {
				i += n
				continue
			}
			b = append(b, s[start:i]...)
			i += n
		default:
			b = append(b, s[start:i]...)
			i++
		}
		start = i
	}
	return append(b, s[start:]...)
}
