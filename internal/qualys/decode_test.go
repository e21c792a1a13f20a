package qualys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAllKB(t testing.TB, data []byte) ([]*Vuln, Response, error) {
	var out []*Vuln
	resp, err := DecodeKB(bytes.NewReader(data), func(v *Vuln) error {
		out = append(out, v)
		return nil
	})
	return out, resp, err
}

func decodeAllHosts(t testing.TB, r io.Reader) ([]*Host, Response, error) {
	var out []*Host
	resp, err := DecodeDetections(r, func(h *Host) error {
		out = append(out, h)
		return nil
	})
	return out, resp, err
}

func TestDecodeKBDemisto(t *testing.T) {
	vulns, resp, err := decodeAllKB(t, readFixture(t, "kb_demisto_2qids.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Datetime != "2024-02-12T15:21:40Z" || resp.Warning != nil {
		t.Errorf("response = %+v", resp)
	}
	if len(vulns) != 2 {
		t.Fatalf("got %d vulns, want 2", len(vulns))
	}
	v := vulns[0]
	if v.QID != 10052 || v.VulnType != "Vulnerability" || v.Severity != 3 || v.Category != "CGI" ||
		v.Title != "Vtecrm Vtenext Multiple Security Vulnerabilities" ||
		v.LastModified != "2023-12-19T12:02:30Z" || v.Published != "2021-01-21T12:51:22Z" ||
		v.Patchable || !v.PCIFlag || !v.Remote || v.AdditionalInfo != "Exploit Available" {
		t.Errorf("vuln 10052 = %+v", v)
	}
	if got := strings.Join(v.CVEs, ","); got != "CVE-2020-10227,CVE-2020-10228,CVE-2020-10229" {
		t.Errorf("CVEs = %q", got)
	}
	if len(v.ThreatIntel) != 4 || v.ThreatIntel[0] != (ThreatIntel{"2", "Exploit_Public"}) || v.ThreatIntel[3] != (ThreatIntel{"15", "Remote_Code_Execution"}) {
		t.Errorf("threat intel = %+v", v.ThreatIntel)
	}
	// One real exploit; the EXPLT with only empty CDATA carries nothing.
	if len(v.Exploits) != 1 || v.Exploits[0] != (Exploit{Source: "nvd", Ref: "CVE-2020-10229"}) {
		t.Errorf("exploits = %+v", v.Exploits)
	}
	if len(v.Software) != 1 || v.Software[0] != (Software{"vtenext", "vtenext"}) {
		t.Errorf("software = %+v", v.Software)
	}
	w := vulns[1]
	// The empty CVE id is dropped, the empty TITLE stays empty, empty EXPLT
	// elements and a source without a list give no exploits.
	if w.QID != 10186 || w.Title != "" || len(w.CVEs) != 0 || len(w.Exploits) != 0 || !w.Patchable {
		t.Errorf("vuln 10186 = %+v", w)
	}
	if len(w.Bugtraqs) != 1 || w.Bugtraqs[0] != (Ref{ID: "1881"}) {
		t.Errorf("bugtraqs = %+v", w.Bugtraqs)
	}
	if w.AdditionalInfo != "Patch Available, Exploit Available" {
		t.Errorf("additional info = %q", w.AdditionalInfo)
	}
}

func TestDecodeKBJupiterOne(t *testing.T) {
	vulns, resp, err := decodeAllKB(t, readFixture(t, "kb_jupiterone_42qids.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vulns) != 42 || resp.Datetime != "2022-10-28T16:56:27Z" {
		t.Fatalf("got %d vulns, datetime %q", len(vulns), resp.Datetime)
	}
	withCVE := 0
	prev := 0
	for _, v := range vulns {
		if v.QID <= prev {
			t.Errorf("QIDs not ascending: %d after %d", v.QID, prev)
		}
		prev = v.QID
		if v.QID == 150454 {
			t.Errorf("QID 150454 is not in the response")
		}
		if len(v.CVEs) > 0 {
			withCVE++
		}
	}
	if withCVE != 5 {
		t.Errorf("%d vulns with CVEs, want 5", withCVE)
	}
	first := vulns[0]
	if first.QID != 6 || first.Title != "DNS Host Name" || first.VulnType != "Information Gathered" ||
		first.Diagnosis != "The fully qualified domain name of this host, if it was obtained from a DNS server, is displayed in the RESULT section." {
		t.Errorf("QID 6 = %+v", first)
	}
	// CDATA keeps HTML and entity text verbatim.
	os := vulns[1]
	if os.QID != 45017 || !strings.Contains(os.Diagnosis, "<B>TCP/IP Fingerprint</B>") || !strings.Contains(os.Diagnosis, "&quot;fingerprinting&quot;") {
		t.Errorf("QID 45017 diagnosis = %.200q", os.Diagnosis)
	}
}

func TestDecodeDetectionsDemisto(t *testing.T) {
	hosts, resp, err := decodeAllHosts(t, bytes.NewReader(readFixture(t, "hld_demisto_2hosts.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Datetime != "2023-05-24T09:59:43Z" || resp.Warning != nil {
		t.Errorf("response = %+v", resp)
	}
	if len(hosts) != 2 {
		t.Fatalf("got %d hosts", len(hosts))
	}
	h := hosts[0]
	if h.ID != 143111841 || h.IP != "1.1.1.1" || h.OS != "Linux 3.13" || h.DNS != "one.one.one.one" ||
		h.FQDN != "one.one.one.one" || h.DNSHostname != "one" || h.DNSDomain != "one.one.one" ||
		h.TrackingMethod != "DNS" || h.LastVMScanned != "2023-05-16T15:26:01Z" || h.LastVMScannedDuration != 2130 ||
		h.LastPCScanned != "2022-12-06T12:03:46Z" || len(h.Detections) != 6 {
		t.Errorf("host 1 = %+v", h)
	}
	d := h.Detections[0]
	if d.QID != 11827 || d.Type != "Confirmed" || d.Severity != 2 || d.Port != 443 || d.Protocol != "tcp" ||
		d.SSL || d.Status != "Active" || d.FirstFound != "2023-05-16T15:26:53Z" || d.LastFound != "2023-05-16T15:26:01Z" ||
		d.TimesFound != 216 || d.LastFixed != "2022-12-07T10:06:40Z" || d.Ignored || d.Disabled ||
		d.LastProcessed != "2023-05-16T15:26:53Z" {
		t.Errorf("detection 11827 = %+v", d)
	}
	// CDATA results are verbatim: the literal entity text stays escaped.
	if !strings.HasPrefix(d.Results, "X-Content-Type-Options HTTP Header missing on port 443.\n\nGET / HTTP/1.0\n") ||
		!strings.Contains(d.Results, `Report-To: {&quot;endpoints&quot;`) ||
		!strings.HasSuffix(d.Results, `h3-29=&quot;:443&quot;; ma=86400`) {
		t.Errorf("results = %q", d.Results)
	}
	if d := h.Detections[1]; d.QID != 15033 || d.Port != 53 || d.Protocol != "udp" || d.LastFixed != "" {
		t.Errorf("detection 15033 = %+v", d)
	}
	h2 := hosts[1]
	if h2.ID != 10112200 || h2.IP != "1.2.2.2" || h2.OS != "" || len(h2.Detections) != 2 {
		t.Errorf("host 2 = %+v", h2)
	}
	// No PORT and no PROTOCOL: port 0, protocol empty.
	nd := h2.Detections[0]
	if nd.QID != 38726 || nd.Port != 0 || nd.Protocol != "" || nd.Type != "Potential" || nd.Status != "New" ||
		nd.FirstFound != "2023-05-16T15:26:53Z" || nd.LastFound != "2023-03-21T03:42:05Z" {
		t.Errorf("detection 38726 = %+v", nd)
	}
	if h2.Hostname() != "ec2-11-111-111-111.compute-1.amazonaws.com" {
		t.Errorf("hostname = %q", h2.Hostname())
	}
}

func TestDecodeDetectionsJupiterOne(t *testing.T) {
	// Start tags split across lines, comments around the root.
	hosts, _, err := decodeAllHosts(t, bytes.NewReader(readFixture(t, "hld_jupiterone.xml")))
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || len(hosts[0].Detections) != 3 {
		t.Fatalf("hosts = %+v", hosts)
	}
	h := hosts[0]
	if h.ID != 6506432 || h.IP != "10.10.10.11" || h.NetBIOS != "2K8R2-U-10-11" || h.Hostname() != "2k8r2-u-10-11" {
		t.Errorf("host = %+v", h)
	}
	d := h.Detections[0]
	if d.QID != 38170 || !d.SSL || d.Results != "Certificate #0 CN=2k8r2-u-10-11(2k8r2-u-10-11) doesn&apos;tresolve" ||
		d.FirstFound != "2018-01-26T04:45:50Z" || d.LastUpdate != "2018-04-13T03:49:05Z" {
		t.Errorf("detection = %+v", d)
	}
	if got := h.Detections[1].Results; got != "Certificate #0 CN=2k8r2-u-10-11\nunable to get local\nissuer certificate" {
		t.Errorf("multi-line results = %q", got)
	}
}

// The Qualys documentation sample is prose around an XML fragment; the
// fragment between the prose decodes, including the WARNING of a
// truncated page.
func TestDecodeWarning(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/host_list_vm_detection_output.dtd">
<HOST_LIST_VM_DETECTION_OUTPUT>
  <RESPONSE>
    <DATETIME>2019-01-01T00:00:00Z</DATETIME>
    <HOST_LIST>
      <HOST><ID>1</ID><IPV6>fe80::1</IPV6><DETECTION_LIST><DETECTION><QID>38170</QID><TYPE>Confirmed</TYPE></DETECTION></DETECTION_LIST></HOST>
    </HOST_LIST>
    <WARNING>
      <CODE>1980</CODE>
      <TEXT>100 record limit exceeded. Use URL to get next batch of results.</TEXT>
      <URL><![CDATA[https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/?action=list&truncation_limit=100&id_min=5641289]]></URL>
    </WARNING>
  </RESPONSE>
</HOST_LIST_VM_DETECTION_OUTPUT>`
	hosts, resp, err := decodeAllHosts(t, strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0].Address() != "fe80::1" {
		t.Errorf("hosts = %+v", hosts)
	}
	w := resp.Warning
	if w == nil || w.Code != "1980" || !strings.HasSuffix(w.URL, "&id_min=5641289") || !strings.HasPrefix(w.Text, "100 record limit exceeded") {
		t.Errorf("warning = %+v", w)
	}
	sample := string(readFixture(t, "doccenter_hld_truncation.txt"))
	i := strings.Index(sample, "<WARNING>")
	j := strings.Index(sample, "</WARNING>")
	if i < 0 || j < 0 {
		t.Fatal("sample has no WARNING")
	}
	frag := "<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE>" + sample[i:j+len("</WARNING>")] + "</RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>"
	_, resp, err = decodeAllHosts(t, strings.NewReader(frag))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Warning == nil || resp.Warning.Code != "1980" || !strings.Contains(resp.Warning.URL, "id_min=") {
		t.Errorf("doc center warning = %+v", resp.Warning)
	}
}

func TestSimpleReturn(t *testing.T) {
	tests := []struct {
		file string
		code int
		text string
	}{
		{"simple_return_1905.xml", 1905, "parameter ids has invalid value: abc123 (neither a positive integer nor a range: abc123)"},
		{"simple_return_1905_detection.xml", 1905, ""},
		{"simple_return_2000.xml", 2000, ""},
		{"simple_return_2001.xml", 2001, "This account has expired."},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readFixture(t, tt.file)
			apiErr, err := DecodeSimpleReturn(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if apiErr == nil || apiErr.Code != tt.code || (tt.text != "" && apiErr.Text != tt.text) || apiErr.Text == "" {
				t.Fatalf("error = %+v", apiErr)
			}
			// A KB or detection decoder given the error body reports the
			// error it carries.
			_, _, err = decodeAllKB(t, data)
			var e *APIError
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("DecodeKB error = %v", err)
			}
			_, _, err = decodeAllHosts(t, bytes.NewReader(data))
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("DecodeDetections error = %v", err)
			}
		})
	}
	apiErr, err := DecodeSimpleReturn(strings.NewReader(`<SIMPLE_RETURN><RESPONSE><DATETIME>2024-01-01T00:00:00Z</DATETIME><CODE>1960</CODE><TEXT>Concurrency limit reached</TEXT><ITEM_LIST><ITEM><KEY>CALLS_TO_FINISH</KEY><VALUE>2</VALUE></ITEM></ITEM_LIST></RESPONSE></SIMPLE_RETURN>`))
	if err != nil || apiErr.Code != 1960 || apiErr.Items["CALLS_TO_FINISH"] != "2" {
		t.Errorf("1960 = %+v, %v", apiErr, err)
	}
}

// Every cut of a real file short of its root end tag is an error that
// says the document is incomplete and names a byte offset, never a panic
// or a silent success.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"kb_demisto_2qids.xml", "hld_demisto_2hosts.xml", "hld_jupiterone.xml", "kb_jupiterone_42qids.xml"} {
		data := readFixture(t, name)
		rootEnd := bytes.LastIndex(data, []byte("</"))
		step := 1
		if len(data) > 20000 {
			step = 37
		}
		for cut := 0; cut < rootEnd; cut += step {
			var err error
			if strings.HasPrefix(name, "kb") {
				_, _, err = decodeAllKB(t, data[:cut])
			} else {
				_, _, err = decodeAllHosts(t, bytes.NewReader(data[:cut]))
			}
			if err == nil {
				t.Fatalf("%s cut at %d: no error", name, cut)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "byte ") {
				t.Fatalf("%s cut at %d: error %v is not a SyntaxError with an offset", name, cut, err)
			}
			if cut > 300 && !errors.Is(err, ErrIncomplete) {
				t.Fatalf("%s cut at %d: %v does not say incomplete", name, cut, err)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "no root element"},
		{"not xml", "hello", "not XML"},
		{"json", `{"vulnerabilities":[]}`, "not XML"},
		{"wrong kind", `<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE/></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>`, "root element is <KNOWLEDGE_BASE_VULN_LIST_OUTPUT>"},
		{"mismatched", `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><HOST_LIST><HOST><ID>1</ID></HOSTX></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>`, "does not match <HOST>"},
		{"bad int", `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><HOST_LIST><HOST><ID>12a</ID></HOST></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>`, "<ID> is not an integer"},
		{"no id", `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><HOST_LIST><HOST><IP>1.2.3.4</IP></HOST></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>`, "HOST without an ID"},
		{"trailing element", `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE/></HOST_LIST_VM_DETECTION_OUTPUT><X/>`, "second root element"},
		{"trailing text", `<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE/></HOST_LIST_VM_DETECTION_OUTPUT>junk`, "text after the root element"},
		{"unterminated comment", `<HOST_LIST_VM_DETECTION_OUTPUT><!-- keep-alive`, "unterminated comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeAllHosts(t, strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// The scanner must give the same records whatever the read sizes: values
// and tags straddle buffer refills in real streams.
func TestDecodeOneByteReads(t *testing.T) {
	for _, name := range []string{"hld_demisto_2hosts.xml", "hld_jupiterone.xml"} {
		data := readFixture(t, name)
		want, _, err := decodeAllHosts(t, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := decodeAllHosts(t, iotest.OneByteReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d hosts, want %d", name, len(got), len(want))
		}
		for i := range want {
			if len(got[i].Detections) != len(want[i].Detections) {
				t.Fatalf("%s host %d: detections differ", name, i)
			}
			for j := range want[i].Detections {
				if !reflect.DeepEqual(got[i].Detections[j], want[i].Detections[j]) {
					t.Errorf("%s host %d detection %d:\n got %+v\nwant %+v", name, i, j, got[i].Detections[j], want[i].Detections[j])
				}
			}
		}
	}
}

func TestEntitiesAndKeepAlive(t *testing.T) {
	doc := `<?xml version="1.0"?>
<!DOCTYPE KNOWLEDGE_BASE_VULN_LIST_OUTPUT SYSTEM "x.dtd" [ <!ELEMENT X ANY> ]>
<KNOWLEDGE_BASE_VULN_LIST_OUTPUT>
 <RESPONSE>
  <DATETIME>2024-01-01T00:00:00Z</DATETIME>
  <!-- keep-alive for KNOWLEDGE_BASE_VULN_LIST_OUTPUT -->
  <VULN_LIST>
   <VULN>
    <QID>105936</QID>
    <TITLE>OpenSSH &lt;8.4 &amp; &quot;scp&quot; &#233;&#x263A; &apos;&#xAB;&#xab;&amp;#X41;</TITLE>
    <DIAGNOSIS>
      <![CDATA[<P>one]]><!-- keep-alive --><![CDATA[ two]]]]><![CDATA[>]]>
    </DIAGNOSIS>
    <CVE_LIST><CVE><ID><![CDATA[CVE-2020-15778]]></ID><URL><![CDATA[https://cve.mitre.org]]></URL></CVE></CVE_LIST>
    <CVSS_V3><BASE>7.8</BASE><TEMPORAL>7.6</TEMPORAL><VECTOR_STRING>CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C</VECTOR_STRING><CVSS3_VERSION>3.0</CVSS3_VERSION><IMPACT><CONFIDENTIALITY>3</CONFIDENTIALITY><INTEGRITY>3</INTEGRITY><AVAILABILITY>3</AVAILABILITY></IMPACT></CVSS_V3>
    <CORRELATION><EXPLOITS><EXPLT_SRC><SRC_NAME>x</SRC_NAME><EXPLT_LIST><EXPLT/></EXPLT_LIST></EXPLT_SRC></EXPLOITS></CORRELATION>
   </VULN>
  </VULN_LIST>
 </RESPONSE>
</KNOWLEDGE_BASE_VULN_LIST_OUTPUT>
<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. //-->
`
	vulns, _, err := decodeAllKB(t, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v := vulns[0]
	if v.Title != `OpenSSH <8.4 & "scp" é☺ '««&#X41;` {
		t.Errorf("title = %q", v.Title)
	}
	if v.Diagnosis != "<P>one two]]>" {
		t.Errorf("diagnosis = %q", v.Diagnosis)
	}
	if v.CVSSv3.Vector != "CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C" || v.CVSSv3.Version != "3.0" ||
		v.CVSSv3.Impact != (Impact{"3", "3", "3"}) || v.CVSSv3.Base != "7.8" {
		t.Errorf("cvss v3 = %+v", v.CVSSv3)
	}
	if len(v.CVEs) != 1 || v.CVEs[0] != "CVE-2020-15778" || len(v.Exploits) != 0 {
		t.Errorf("cves = %v exploits = %v", v.CVEs, v.Exploits)
	}
}

func TestRootElement(t *testing.T) {
	for _, name := range []string{"kb_demisto_2qids.xml", "hld_demisto_2hosts.xml", "simple_return_1905.xml", "kb_jupiterone_42qids.xml"} {
		data := readFixture(t, name)
		got := RootElement(data[:min(len(data), 4096)])
		want := map[string]string{"kb": RootKB, "hl": RootDetections, "si": RootError}[name[:2]]
		if got != want {
			t.Errorf("%s: root %q, want %q", name, got, want)
		}
	}
	if got := RootElement([]byte(`{"a":1}`)); got != "" {
		t.Errorf("JSON root = %q", got)
	}
}

// Tiny read buffers put every tag, text and CDATA section across a refill
// somewhere: the records must come out the same as with the normal buffer.
func TestSmallBuffers(t *testing.T) {
	for _, name := range []string{"hld_demisto_2hosts.xml", "kb_demisto_2qids.xml", "hld_jupiterone.xml"} {
		data := readFixture(t, name)
		decode := func(s *scanner) (string, error) {
			var out strings.Builder
			var err error
			if strings.HasPrefix(name, "kb") {
				err = open(s, RootKB)
				if err == nil {
					_, err = decodeList(s, "VULN_LIST", func() error {
						v := new(Vuln)
						err := decodeVuln(s, v)
						fmt.Fprintf(&out, "%+v\n", *v)
						return err
					})
				}
			} else {
				err = open(s, RootDetections)
				if err == nil {
					_, err = decodeList(s, "HOST_LIST", func() error {
						h := new(Host)
						err := decodeHost(s, h)
						fmt.Fprintf(&out, "%+v\n", *h)
						return err
					})
				}
			}
			return out.String(), err
		}
		want, err := decode(newScanner(bytes.NewReader(data)))
		if err != nil {
			t.Fatal(err)
		}
		for size := 8; size <= 300; size++ {
			got, err := decode(newScannerSize(bytes.NewReader(data), size))
			if err != nil {
				t.Fatalf("%s, buffer %d: %v", name, size, err)
			}
			if got != want {
				t.Fatalf("%s, buffer %d: records differ", name, size)
			}
		}
	}
}
