package gen

import (
	"fmt"
	"io"
	"qvt/internal/jsonenc"
	"strconv"
	"strings"
)

// The NVD writer appends JSON by hand, in NVD's field order and compact
// form (the API sends no whitespace). encoding/json would spend more time
// in reflection than generation takes, and the full data set is gigabytes.

type jsonOut struct {
	w    io.Writer
	b    []byte
	err  error
	prev byte // last byte flushed, for separators after a flush

	scratch []byte // reused by writeReferences
	ends    []int
}

const jsonFlushSize = 64 << 10

func (o *jsonOut) flush() error {
	if len(o.b) > 0 {
		o.prev = o.b[len(o.b)-1]
	}
	if o.err == nil && len(o.b) > 0 {
		if _, err := o.w.Write(o.b); err != nil {
			o.err = fmt.Errorf("writing NVD JSON: %w", err)
		}
	}
	o.b = o.b[:0]
	return o.err
}

func (o *jsonOut) raw(s string) { o.b = append(o.b, s...) }

func (o *jsonOut) last() byte {
	if len(o.b) == 0 {
		return o.prev
	}
	return o.b[len(o.b)-1]
}

// key writes `"name":`, after a comma unless it opens an object.
func (o *jsonOut) key(name string) {
	if c := o.last(); c != '{' && c != '[' {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonOut) str(name, v string) {
	o.key(name)
	o.b = jsonenc.String(o.b, v)
}

// plain writes a string value known to need no escaping (enumerations,
// generated ids and dates).
func (o *jsonOut) plain(name, v string) {
	o.key(name)
	o.b = append(o.b, '"')
	o.b = append(o.b, v...)
	o.b = append(o.b, '"')
}

func (o *jsonOut) num(name string, v float64) {
	o.key(name)
	o.b = strconv.AppendFloat(o.b, v, 'f', 1, 64)
}

func (o *jsonOut) int(name string, v int) {
	o.key(name)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
}

func (o *jsonOut) bool(name string, v bool) {
	o.key(name)
	o.b = strconv.AppendBool(o.b, v)
}

// comma separates array elements.
func (o *jsonOut) comma() {
	if o.last() != '[' {
		o.b = append(o.b, ',')
	}
}

// v4Values are the NVD names of each v4 table entry's base values, parsed
// once.
var v4Values = func() [][]string {
	out := make([][]string, len(v4Table))
	for i, t := range v4Table {
		parts := strings.Split(strings.TrimPrefix(t.vector, "CVSS:4.0/"), "/")
		for j, p := range parts {
			out[i] = append(out[i], v4Names[j].values[p[len(p)-1]])
		}
	}
	return out
}()

var (
	v3JSON = []string{"attackVector", "attackComplexity", "privilegesRequired", "userInteraction", "scope",
		"confidentialityImpact", "integrityImpact", "availabilityImpact"}
	v2JSON = []string{"accessVector", "accessComplexity", "authentication",
		"confidentialityImpact", "integrityImpact", "availabilityImpact"}
)

// cve writes one {"cve":{...}} element.
func (d *Dataset) writeCVE(o *jsonOut, f *cveFull, i int) {
	o.comma()
	o.raw(`{"cve":{`)
	o.plain("id", f.ID)
	o.str("sourceIdentifier", f.SourceIdentifier)
	o.plain("published", f.Published)
	o.plain("lastModified", f.LastModified)
	o.plain("vulnStatus", f.Status)
	o.key("cveTags")
	o.raw("[]")
	o.key("descriptions")
	o.raw(`[{"lang":"en","value":`)
	o.b = jsonenc.String(o.b, f.Description)
	o.raw("}")
	if f.descES != "" {
		o.raw(`,{"lang":"es","value":`)
		o.b = jsonenc.String(o.b, f.descES)
		o.raw("}")
	}
	o.raw("]")
	o.key("metrics")
	o.raw("{")
	writeMetrics(o, f)
	o.raw("}")
	if k := f.KEV; k != nil {
		o.str("cisaExploitAdd", k.Added)
		o.str("cisaActionDue", k.Due)
		o.str("cisaRequiredAction", k.RequiredAction)
		o.str("cisaVulnerabilityName", k.Name)
	}
	if len(f.weaknesses) > 0 {
		o.key("weaknesses")
		o.raw("[")
		for _, w := range f.weaknesses {
			o.comma()
			o.raw("{")
			o.str("source", w.source)
			o.str("type", w.typ)
			o.key("description")
			o.raw("[")
			for _, c := range w.cwes {
				o.comma()
				o.raw(`{"lang":"en","value":`)
				o.b = jsonenc.String(o.b, c)
				o.raw("}")
			}
			o.raw("]}")
		}
		o.raw("]")
	}
	r := d.rng(kindCVEBody, uint64(i), 1)
	analysed := f.Status == stAnalyzed || f.Status == stModified
	if analysed {
		writeConfigurations(o, &r, f.prod)
	}
	if f.Status != stRejected {
		writeReferences(o, &r, f, analysed)
	} else {
		o.key("references")
		o.raw("[]")
	}
	o.raw("}}")
}

func writeMetrics(o *jsonOut, f *cveFull) {
	if len(f.v40) > 0 {
		o.key("cvssMetricV40")
		o.raw("[")
		for _, e := range f.v40 {
			t := v4Table[e.idx]
			o.comma()
			o.raw("{")
			o.str("source", e.source)
			o.plain("type", e.typ)
			o.key("cvssData")
			o.raw(`{"version":"4.0"`)
			o.key("vectorString")
			o.b = append(o.b, '"')
			o.b = append(o.b, t.vector...)
			if e.expanded {
				o.b = append(o.b, v4Expanded...)
			}
			o.b = append(o.b, '"')
			o.num("baseScore", t.score)
			o.plain("baseSeverity", severity3(t.score))
			for j, v := range v4Values[e.idx] {
				o.plain(v4Names[j].json, v)
			}
			for _, name := range v4NotDefined {
				o.plain(name, "NOT_DEFINED")
			}
			o.raw("}}")
		}
		o.raw("]")
	}
	for _, g := range []struct {
		key  string
		list []v3Entry
	}{{"cvssMetricV31", f.v31}, {"cvssMetricV30", f.v30}} {
		if len(g.list) == 0 {
			continue
		}
		o.key(g.key)
		o.raw("[")
		for _, e := range g.list {
			base, impact, expl, _ := e.v.scores()
			o.comma()
			o.raw("{")
			o.str("source", e.source)
			o.plain("type", e.typ)
			o.key("cvssData")
			o.raw("{")
			o.plain("version", e.v.version())
			o.key("vectorString")
			o.b = append(o.b, '"')
			o.b = e.v.appendVector(o.b, false)
			o.b = append(o.b, '"')
			o.num("baseScore", base)
			o.plain("baseSeverity", severity3(base))
			for j, m := range v3Base {
				o.plain(v3JSON[j], m.names[e.v.base[j]])
			}
			o.raw("}")
			o.num("exploitabilityScore", expl)
			o.num("impactScore", impact)
			o.raw("}")
		}
		o.raw("]")
	}
	if len(f.v2) > 0 {
		o.key("cvssMetricV2")
		o.raw("[")
		for _, e := range f.v2 {
			base, impact, expl, _ := e.v.scores()
			o.comma()
			o.raw("{")
			o.str("source", e.source)
			o.plain("type", e.typ)
			o.key("cvssData")
			o.raw(`{"version":"2.0"`)
			o.key("vectorString")
			o.b = append(o.b, '"')
			o.b = e.v.appendVector(o.b, false)
			o.b = append(o.b, '"')
			o.num("baseScore", base)
			for j, m := range v2Base {
				o.plain(v2JSON[j], m.names[e.v.base[j]])
			}
			o.raw("}")
			o.plain("baseSeverity", severity2(base))
			o.num("exploitabilityScore", expl)
			o.num("impactScore", impact)
			o.bool("acInsufInfo", e.acInsufInfo)
			o.bool("obtainAllPrivilege", e.obtainAll)
			o.bool("obtainUserPrivilege", e.obtainUser)
			o.bool("obtainOtherPrivilege", e.obtainOther)
			if e.userInteraction >= 0 {
				o.bool("userInteractionRequired", e.userInteraction == 1)
			}
			o.raw("}")
		}
		o.raw("]")
	}
}

// appendUUID appends an upper-case UUID, the form of NVD's
// matchCriteriaId.
func appendUUID(b []byte, r *rnd) []byte {
	const hex = "0123456789ABCDEF"
	a, c := r.u64(), r.u64()
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b = append(b, '-')
		}
		x := a
		if i >= 16 {
			x = c
		}
		b = append(b, hex[x>>(4*(i%16))&15])
	}
	return b
}

func writeConfigurations(o *jsonOut, r *rnd, p product) {
	o.key("configurations")
	o.raw("[")
	part := "a"
	if strings.Contains(p.name, "windows") || p.vendor == "cisco" || p.name == "esxi" || p.name == "fortios" || p.name == "pan-os" {
		part = "o"
	}
	for range 1 + r.skewed(3, 2) {
		o.comma()
		and := r.chance(0.25)
		o.raw("{")
		if and {
			o.str("operator", "AND")
		}
		o.key("nodes")
		o.raw(`[{"operator":"OR","negate":false`)
		o.key("cpeMatch")
		o.raw("[")
		n := 1 + r.skewed(24, 1.8)
		if r.chance(0.02) {
			n = r.between(20, 80)
		}
		for range n {
			cpeMatch(o, r, part, p, true)
		}
		o.raw("]}")
		if and {
			o.raw(`,{"operator":"OR","negate":false`)
			o.key("cpeMatch")
			o.raw("[")
			platform := pick(r, []product{{"microsoft", "windows", ""}, {"linux", "linux_kernel", ""}, {"apple", "macos", ""}, {"debian", "debian_linux", ""}})
			for range 1 + r.intn(3) {
				cpeMatch(o, r, "o", platform, false)
			}
			o.raw("]}")
		}
		o.raw("]}")
	}
	o.raw("]")
}

func cpeMatch(o *jsonOut, r *rnd, part string, p product, vulnerable bool) {
	o.comma()
	o.raw("{")
	o.bool("vulnerable", vulnerable)
	o.key("criteria")
	o.b = append(o.b, `"cpe:2.3:`...)
	o.b = append(o.b, part...)
	o.b = append(o.b, ':')
	o.b = jsonenc.StringBody(o.b, p.vendor)
	o.b = append(o.b, ':')
	o.b = jsonenc.StringBody(o.b, p.name)
	ranged := vulnerable && r.chance(0.6)
	v := newVer(r)
	switch {
	case ranged:
		o.raw(`:*:*:*:*:*:*:*:*"`)
		if r.chance(0.5) {
			o.key("versionStartIncluding")
			o.b = append(o.b, '"')
			o.b = v.append(o.b)
			o.b = append(o.b, '"')
		}
		o.key("versionEndExcluding")
		o.b = append(o.b, '"')
		o.b = v.later(r).append(o.b)
		o.b = append(o.b, '"')
	case vulnerable:
		o.b = append(o.b, ':')
		o.b = v.append(o.b)
		o.raw(`:*:*:*:*:*:*:*"`)
	default:
		o.raw(`:-:*:*:*:*:*:*:*"`)
	}
	o.key("matchCriteriaId")
	o.b = append(o.b, '"')
	o.b = appendUUID(o.b, r)
	o.raw(`"}`)
}

var refTags = [][]string{
	{"Patch", "Third Party Advisory"}, {"Vendor Advisory"}, {"Mailing List", "Third Party Advisory"},
	{"Exploit", "Third Party Advisory"}, {"Third Party Advisory", "VDB Entry"}, {"Issue Tracking"},
	{"Release Notes"}, {"Broken Link"}, {"Patch"}, {"Exploit", "Issue Tracking", "Third Party Advisory"},
}

// cveADP is the source id of CISA's ADP, which repeats many references
// under its own name.
const cveADP = "af854a3a-2127-422b-91ae-364da2661108"

func writeReferences(o *jsonOut, r *rnd, f *cveFull, tagged bool) {
	o.key("references")
	o.raw("[")
	n := 3 + r.skewed(26, 1.6)
	dup := r.chance(0.3)
	year := f.ID[4:8]
	vendor, name := strings.ReplaceAll(f.prod.vendor, "_", ""), strings.ReplaceAll(f.prod.name, `\`, "")
	// URLs go to a scratch buffer, since CISA's ADP may list them again.
	u := o.scratch[:0]
	ends := o.ends[:0]
	for range n {
		switch r.intn(12) {
		case 0:
			u = append(u, "https://github.com/"...)
			u = append(u, vendor...)
			u = append(u, '/')
			u = append(u, name...)
			u = append(u, "/security/advisories/GHSA-"...)
			u = appendGHSA(u, r)
		case 1:
			u = append(u, "https://github.com/"...)
			u = append(u, vendor...)
			u = append(u, '/')
			u = append(u, name...)
			u = append(u, "/commit/"...)
			u = appendHex(u, r.u64(), 16)
			u = appendHex(u, r.u64(), 16)
			u = appendHex(u, r.u64(), 8)
		case 2:
			u = append(u, "https://lists.debian.org/debian-lts-announce/"...)
			u = append(u, year...)
			u = append(u, '/')
			u = num(u, r.between(1, 12), 2)
			u = append(u, "/msg"...)
			u = num(u, r.intn(400), 5)
			u = append(u, ".html"...)
		case 3:
			u = append(u, "https://security.netapp.com/advisory/ntap-"...)
			u = append(u, year...)
			u = num(u, r.between(1, 12), 2)
			u = num(u, r.between(1, 28), 2)
			u = append(u, '-')
			u = num(u, r.intn(20), 4)
			u = append(u, '/')
		case 4:
			u = append(u, "http://www.openwall.com/lists/oss-security/"...)
			u = append(u, year...)
			u = append(u, '/')
			u = num(u, r.between(1, 12), 2)
			u = append(u, '/')
			u = num(u, r.between(1, 28), 2)
			u = append(u, '/')
			u = num(u, r.between(1, 9), 1)
		case 5:
			u = append(u, "https://vuldb.com/?id."...)
			u = num(u, r.between(100000, 320000), 1)
		case 6:
			u = append(u, "https://bugzilla.redhat.com/show_bug.cgi?id="...)
			u = num(u, r.between(1000000, 2400000), 1)
		case 7:
			u = append(u, "https://access.redhat.com/errata/RHSA-"...)
			u = append(u, year...)
			u = append(u, ':')
			u = num(u, r.intn(9999), 4)
		case 8:
			u = append(u, "https://security.gentoo.org/glsa/"...)
			u = append(u, year...)
			u = num(u, r.between(1, 12), 2)
			u = append(u, '-')
			u = num(u, r.between(1, 40), 2)
		case 9:
			u = append(u, "http://www.securityfocus.com/bid/"...)
			u = num(u, r.between(10000, 110000), 1)
		case 10:
			u = append(u, "https://www."...)
			u = append(u, vendor...)
			u = append(u, ".com/security/advisories/"...)
			u = append(u, year...)
			u = append(u, '-')
			u = num(u, r.intn(9999), 4)
			u = append(u, ".html"...)
		default:
			u = append(u, "https://www.exploit-db.com/exploits/"...)
			u = num(u, r.between(10000, 52999), 1)
		}
		ends = append(ends, len(u))
	}
	o.scratch, o.ends = u, ends
	sources := []string{f.SourceIdentifier, cveADP}
	if !dup {
		sources = sources[:1]
	}
	for _, src := range sources {
		from := 0
		for _, end := range ends {
			o.comma()
			o.raw(`{"url":"`)
			o.b = append(o.b, u[from:end]...) // ASCII, no quotes or backslashes
			from = end
			o.raw(`"`)
			o.plain("source", src)
			if tagged && r.chance(0.85) {
				o.key("tags")
				o.raw("[")
				for _, t := range pick(r, refTags) {
					o.comma()
					o.b = append(o.b, '"')
					o.b = append(o.b, t...)
					o.b = append(o.b, '"')
				}
				o.raw("]")
			}
			o.raw("}")
		}
	}
	o.raw("]")
}

func appendHex(b []byte, x uint64, digits int) []byte {
	const hex = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hex[x>>(4*i)&15])
	}
	return b
}

// appendGHSA appends the id part of a GitHub advisory, "xxxx-xxxx-xxxx".
func appendGHSA(b []byte, r *rnd) []byte {
	const alpha = "23456789cfghjmpqrvwx"
	for i := range 12 {
		if i == 4 || i == 8 {
			b = append(b, '-')
		}
		b = append(b, alpha[r.intn(len(alpha))])
	}
	return b
}
