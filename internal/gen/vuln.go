package gen

import (
	"slices"
	"strconv"
	"strings"

	"qvt/internal/qualys"
)

// cveChance is, per style, how likely a KB entry is to cite CVEs; with the
// family weights about 60% of entries have at least one.
var cveChance = map[style]float64{
	styleIG: 0, styleTCP: 0.05, styleWAS: 0, stylePolicy: 0.05,
	styleDistro: 0.75, styleWindows: 0.7, styleOffice: 0.7, styleLocal: 0.5,
	styleVMware: 0.8, styleCisco: 0.8, styleWeb: 0.45, styleTLS: 0.3,
	styleDNS: 0.5, styleDB: 0.5, styleFTP: 0.4, styleMail: 0.5, styleSMB: 0.5, styleSNMP: 0.4,
}

// fillVuln writes the body of a KB entry: everything but the head fields.
// mods is how many times Qualys revised it since epoch 0; each revision
// advances its exploit-maturity metric, so temporal scores move.
func (d *Dataset) fillVuln(r *rnd, h *vulnHead, v *qualys.Vuln, mods int) {
	f := h.fam
	s := newSubject(r, h)
	v.Title = s.title(r)
	ig := f.style == styleIG
	v.Patchable = !ig && r.chance(0.82)

	v.CVEs = d.kbCVEs(r, f, s.year)
	v.Software = software(r, &s)
	v.VendorRefs = vendorRefs(r, &s)
	if s.year < 2016 && !ig && r.chance(0.3) {
		for range r.between(1, 2) {
			id := strconv.Itoa(r.between(1000, 99999))
			v.Bugtraqs = append(v.Bugtraqs, qualys.Ref{ID: id, URL: "http://www.securityfocus.com/bid/" + id})
		}
	}
	v.Diagnosis = s.diagnosis(r, v.CVEs)
	v.Consequence = s.consequence(r)
	v.Solution = s.solution(r)

	d.vulnCVSS(r, v, ig, mods)
	if !ig && len(v.CVEs) > 0 && r.chance(0.18) {
		v.Exploits = exploits(r, &s, v.CVEs)
	}
	if !ig && r.chance(0.02) {
		v.Malware = []qualys.Malware{{Source: "Trend Micro", ID: "TROJ_" + upper(s.name()) + "." + strconv.Itoa(r.between(1, 99)),
			Type: "Trojan", Platform: pick(r, []string{"Windows", "Linux", "Multi-platform"}), Rating: pick(r, []string{"Low", "Medium", "High"}),
			Link: "https://www.trendmicro.com/vinfo/us/threat-encyclopedia/malware/troj_" + strconv.Itoa(r.between(1000, 9999))}}
	}

	remote := !f.style.local()
	v.PCIFlag = !ig && (remote && h.severity >= 3 && r.chance(0.7) || r.chance(0.05))
	v.ThreatIntel = threats(r, &s, v)
	if r.chance(0.8) {
		v.SupportedModules = modules(r, f.style)
	}
	v.Remote = remote
	v.AuthTypes = authTypes(r, f.style)
	switch {
	case v.Patchable && len(v.Exploits) > 0:
		v.AdditionalInfo = "Patch Available, Exploit Available"
	case v.Patchable:
		v.AdditionalInfo = "Patch Available"
	case len(v.Exploits) > 0:
		v.AdditionalInfo = "Exploit Available"
	}
	v.Disabled = r.chance(0.003)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 32
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// kbCVEs draws the CVE ids an entry cites, from the CVEs of its year, so
// that recent QIDs cite recent CVEs. Real KB output now and then holds an
// empty id, and so does this.
func (d *Dataset) kbCVEs(r *rnd, f *family, year int) []string {
	idx := d.kbCVEIndexes(r, f, year)
	if idx == nil {
		return nil
	}
	out := make([]string, 0, len(idx)+1)
	for _, i := range idx {
		out = append(out, d.CVEID(i))
	}
	if r.chance(0.005) {
		out = slices.Insert(out, r.intn(len(out)+1), "")
	}
	return out
}

// kbCVEIndexes draws the indexes of the CVEs an entry cites, ascending:
// the part of kbCVEs that the QDS of detections needs (risk.go).
func (d *Dataset) kbCVEIndexes(r *rnd, f *family, year int) []int {
	if !r.chance(cveChance[f.style]) {
		return nil
	}
	n := 1 + r.skewed(5, 2)
	if f.style == styleDistro {
		n = 1 + r.skewed(8, 1.6)
	}
	idx := make([]int, 0, n)
	for range n {
		y := year
		if r.chance(0.3) {
			y--
		}
		if i := d.pickCVE(r, y); i >= 0 && !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	return idx
}

func software(r *rnd, s *subject) []qualys.Software {
	switch {
	case s.style == styleIG:
		if r.chance(0.5) {
			return []qualys.Software{{Product: "None", Vendor: pick(r, []string{"none", "multi-vendor"})}}
		}
		return nil
	case s.pkg != "":
		out := []qualys.Software{{Product: s.pkg, Vendor: lowerAll(s.distro.name)}}
		if r.chance(0.3) {
			out = append(out, qualys.Software{Product: s.distro.name + "_linux", Vendor: lowerAll(s.distro.name)})
		}
		return out
	}
	// Product names are CPE names; Qualys lists them without CPE escapes.
	unescape := func(s string) string { return strings.ReplaceAll(s, `\`, "") }
	out := []qualys.Software{{Product: unescape(s.prod.name), Vendor: s.prod.vendor}}
	for range r.intn(3) {
		p := pick(r, productsFor(s.style))
		out = append(out, qualys.Software{Product: unescape(p.name), Vendor: p.vendor})
	}
	return out
}

func lowerAll(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 32
		case c == ' ':
			b[i] = '_'
		}
	}
	return string(b)
}

func vendorRefs(r *rnd, s *subject) []qualys.Ref {
	switch s.style {
	case styleIG, styleTCP, styleWAS:
		return nil
	case styleWindows, styleOffice:
		out := make([]qualys.Ref, 0, len(s.kbs))
		for _, kb := range s.kbs {
			out = append(out, qualys.Ref{ID: kb, URL: "https://support.microsoft.com/help/" + kb[2:]})
		}
		return out
	}
	if s.advisory == "" || r.chance(0.15) {
		return nil
	}
	out := []qualys.Ref{{ID: s.advisory, URL: s.advURL}}
	if r.chance(0.25) {
		out = append(out, qualys.Ref{ID: s.advisory + "-2", URL: s.advURL + "-2"})
	}
	return out
}

// vulnCVSS fills the CVSS (v2) and CVSS_V3 blocks. An entry citing CVEs
// takes the first one's NVD vectors, as Qualys does; the others get vectors
// of their own.
func (d *Dataset) vulnCVSS(r *rnd, v *qualys.Vuln, ig bool, mods int) {
	var v3 cvss3
	var v2 cvss2
	found := false
	if len(v.CVEs) > 0 && v.CVEs[0] != "" {
		if idx := d.cveIndexOf(v.CVEs[0]); idx >= 0 {
			m := d.cveMeta(idx)
			vec := d.cveVectors(idx, m.published)
			v3, v2, found = vec.v3, vec.v2, true
		}
	}
	if !found {
		v3, v2 = newCVSS3(r, byte(r.intn(2)|r.intn(2))), newCVSS2(r)
	}
	if ig && r.chance(0.5) {
		return
	}
	if r.chance(0.9) {
		v2 = v2.withTemporal(r)
		v2.e = advance(v2.e, mods, len(v2E.letters))
	}
	base, _, _, temporal := v2.scores()
	v.CVSS = qualys.CVSS{Base: fmtScore(base), Vector: v2.vector(true),
		Impact: qualys.Impact{Confidentiality: qualysImpact2(v2.base[3]), Integrity: qualysImpact2(v2.base[4]), Availability: qualysImpact2(v2.base[5])}}
	if v2.hasTemporal {
		v.CVSS.Temporal = fmtScore(temporal)
	}
	if ig || !r.chance(0.7) {
		return
	}
	if r.chance(0.85) {
		v3 = v3.withTemporal(r)
		v3.e = advance(v3.e, mods, len(v3E.letters))
	}
	base, _, _, temporal = v3.scores()
	v.CVSSv3 = qualys.CVSS{Base: fmtScore(base), Vector: v3.vector(true), Version: v3.version(),
		Impact: qualys.Impact{Confidentiality: qualysImpact3(v3.base[5]), Integrity: qualysImpact3(v3.base[6]), Availability: qualysImpact3(v3.base[7])}}
	if v3.hasTemporal {
		v.CVSSv3.Temporal = fmtScore(temporal)
	}
}

// advance moves an exploit-maturity value n steps towards High (values are
// ordered Not Defined, Unproven, PoC, Functional, High).
func advance(e byte, n, levels int) byte {
	if n == 0 {
		return e
	}
	return byte(min(max(int(e), 1)+n, levels-1))
}

// cveIndexOf finds the index of a CVE id of the data set, or -1.
func (d *Dataset) cveIndexOf(id string) int {
	if len(id) < 10 {
		return -1
	}
	year, err1 := strconv.Atoi(id[4:8])
	n, err2 := strconv.Atoi(id[9:])
	if err1 != nil || err2 != nil || year < firstCVEYear || year-firstCVEYear >= len(d.cves.years) {
		return -1
	}
	y := &d.cves.years[year-firstCVEYear]
	if y.count == 0 || n < 1 {
		return -1
	}
	// Ids of block y are spread over equal windows of 1..space: the window
	// holding n gives the index.
	j := min((n-1)*y.count/y.space, y.count-1)
	for _, k := range []int{j, j - 1, j + 1} {
		if k >= 0 && k < y.count && d.CVEID(y.first+k) == id {
			return y.first + k
		}
	}
	return -1
}

var exploitSources = []string{"The Exploit-DB", "exploitdb", "nvd", "Metasploit", "gitHub", "packetstorm"}

func exploits(r *rnd, s *subject, cves []string) []qualys.Exploit {
	var out []qualys.Exploit
	for _, src := range exploitSources {
		if !r.chance(0.35) {
			continue
		}
		for range r.between(1, 2) {
			cve := pick(r, cves)
			if cve == "" {
				continue
			}
			e := qualys.Exploit{Source: src, Ref: cve}
			switch src {
			case "The Exploit-DB", "exploitdb":
				n := strconv.Itoa(r.between(10000, 52999))
				e.Desc = s.name() + " " + s.affected + " - " + s.class
				e.Link = "http://www.exploit-db.com/exploits/" + n
			case "Metasploit":
				e.Desc = s.name() + " " + s.class + " - Metasploit Ref : /modules/exploit/multi/http/" + lowerAll(s.name())
				e.Link = "https://github.com/rapid7/metasploit-framework/blob/master/modules/exploits/multi/http/" + lowerAll(s.name()) + ".rb"
			case "gitHub":
				e.Desc = cve + " Proof of concept"
				e.Link = "https://github.com/" + pick(r, []string{"horizon3ai", "projectdiscovery", "Chocapikk", "nomi-sec", "watchtowrlabs"}) + "/" + cve
			default:
				e.Desc = s.name() + " " + s.class
				e.Link = "https://packetstormsecurity.com/files/" + strconv.Itoa(r.between(100000, 179999))
			}
			out = append(out, e)
		}
	}
	if out == nil {
		out = []qualys.Exploit{{Source: "nvd", Ref: cves[0], Desc: "nvd", Link: "https://nvd.nist.gov/vuln/detail/" + cves[0]}}
		if cves[0] == "" {
			out = nil
		}
	}
	return out
}

func threats(r *rnd, s *subject, v *qualys.Vuln) []qualys.ThreatIntel {
	var has uint32 // bit n: THREAT_INTEL id n
	set := func(id int, ok bool) {
		if ok {
			has |= 1 << id
		}
	}
	if len(v.Exploits) > 0 {
		set(2, true)
		set(5, r.chance(0.3))
	}
	set(8, !v.Patchable && s.style != styleIG)
	switch s.class {
	case "Remote Code Execution", "Command Injection", "Deserialization of Untrusted Data":
		set(15, true)
	case "Privilege Escalation":
		set(13, true)
	case "Denial of Service":
		set(7, true)
	}
	if !s.style.local() && s.style != styleIG {
		set(14, r.chance(0.3))
	}
	for _, x := range []struct {
		id int
		p  float64
	}{{3, 0.04}, {18, 0.03}, {12, 0.1}, {6, 0.05}, {4, 0.04}, {9, 0.02}, {16, 0.01}, {11, 0.004}, {1, 0.003}, {10, 0.01}} {
		set(x.id, r.chance(x.p))
	}
	var out []qualys.ThreatIntel
	for _, t := range threatIntel {
		if has&(1<<t.n) != 0 {
			out = append(out, qualys.ThreatIntel{ID: t.id, Text: t.text})
		}
	}
	return out
}

func modules(r *rnd, s style) string {
	switch s {
	case styleWindows, styleOffice, stylePolicy:
		return "VM, CA-Windows Agent"
	case styleDistro:
		return "VM, CA-Linux Agent"
	case styleWAS:
		return "VM,WAS"
	case styleLocal:
		return pick(r, supportedModules[1:])
	}
	return pick(r, supportedModules)
}

func authTypes(r *rnd, s style) []string {
	switch s {
	case styleWindows, styleOffice, stylePolicy:
		return []string{"Windows"}
	case styleDistro:
		return []string{"Unix"}
	case styleLocal, styleVMware:
		return pick(r, [][]string{{"Windows"}, {"Unix"}, {"Unix", "Windows"}})
	case styleSNMP, styleCisco:
		if r.chance(0.5) {
			return []string{"SNMP"}
		}
	case styleDB:
		if r.chance(0.3) {
			return []string{pick(r, []string{"Oracle", "MS_SQL", "MySQL", "PostgreSQL"})}
		}
	}
	return nil
}
