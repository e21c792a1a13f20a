package gen

import (
	"slices"
	"strconv"
	"time"

	"qvt/internal/nvd"
)

// cveYearWeights is roughly how many CVE ids each year has (1999..2026,
// 2026 to November): the data set scales them to Config.CVEs.
var cveYearWeights = []int{
	1500, 1200, 1500, 2100, 1500, 2400, 4900, 6600, 6500, 5600, // 1999-2008
	5000, 4600, 4200, 5200, 5200, 7900, 6500, 6400, 14600, 16500, // 2009-2018
	17300, 18300, 20200, 25000, 29000, 40000, 48000, 40000, // 2019-2026
}

const firstCVEYear = 1999

// cveYear is the block of CVE indexes with one year in their id.
type cveYear struct {
	year  int
	first int // index of its first CVE
	count int
	space int // its count ids are spread over the numbers 1..space
}

type cveIndex struct {
	n         int
	years     []cveYear
	newPerDay int // CVEs published each epoch after 0
}

func (d *Dataset) buildCVEIndex(n int) cveIndex {
	total := 0
	for _, w := range cveYearWeights {
		total += w
	}
	ix := cveIndex{n: n, newPerDay: max(1, n/3000)}
	first := 0
	for k, w := range cveYearWeights {
		c := n * w / total
		if k == len(cveYearWeights)-1 {
			c = n - first
		}
		// Ids leave gaps (reserved, rejected, never published): about one
		// number in three is unused.
		ix.years = append(ix.years, cveYear{year: firstCVEYear + k, first: first, count: c, space: c*3/2 + 50})
		first += c
	}
	return ix
}

// CVECount returns how many CVEs exist as of epoch: Config.CVEs, plus the
// ones published since (about 130 a day for a 400,000-CVE data set, like
// NVD). Indexes [0, CVECount(epoch)) are valid.
func (d *Dataset) CVECount(epoch int) int {
	return d.cves.n + max(epoch, 0)*d.cves.newPerDay
}

// cveYearOf returns the year block holding index i (< n).
func (d *Dataset) cveYearOf(i int) *cveYear {
	ys := d.cves.years
	k, found := slices.BinarySearchFunc(ys, i, func(y cveYear, i int) int { return y.first - i })
	if !found {
		k--
	}
	for ys[k].count == 0 { // empty years share their first index with the next
		k++
	}
	return &ys[k]
}

// CVEID returns the id of CVE i, e.g. "CVE-2021-44228". Ids are distinct
// and ascend with i; CVEs published after epoch 0 get the latest year's
// highest numbers.
func (d *Dataset) CVEID(i int) string {
	var year, number int
	if i < d.cves.n {
		y := d.cveYearOf(i)
		j := i - y.first
		lo, hi := 1+j*y.space/y.count, 1+(j+1)*y.space/y.count
		year, number = y.year, lo+int(d.hash(kindCVEIDs, uint64(i), 0)%uint64(hi-lo))
	} else {
		y := &d.cves.years[len(d.cves.years)-1]
		year, number = y.year, y.space+1+2*(i-d.cves.n)+int(d.hash(kindCVEIDs, uint64(i), 0)&1)
	}
	b := make([]byte, 0, 16)
	b = append(b, "CVE-"...)
	b = strconv.AppendInt(b, int64(year), 10)
	b = append(b, '-')
	b = num(b, number, 4)
	return string(b)
}

// pickCVE returns a random CVE index from the given year's block (or a
// neighbouring year when that one is empty), -1 if there are no CVEs.
func (d *Dataset) pickCVE(r *rnd, year int) int {
	if d.cves.n == 0 {
		return -1
	}
	k := min(max(year-firstCVEYear, 0), len(d.cves.years)-1)
	for off := 0; off < len(d.cves.years); off++ {
		for _, kk := range []int{k - off, k + off} {
			if kk >= 0 && kk < len(d.cves.years) && d.cves.years[kk].count > 0 {
				y := d.cves.years[kk]
				return y.first + r.intn(y.count)
			}
		}
	}
	return -1
}

// Statuses of NVD records (vulnStatus).
const (
	stReceived   = "Received"
	stAwaiting   = "Awaiting Analysis"
	stUndergoing = "Undergoing Analysis"
	stAnalyzed   = "Analyzed"
	stModified   = "Modified"
	stDeferred   = "Deferred"
	stRejected   = "Rejected"
)

func pending(status string) bool {
	return status == stReceived || status == stAwaiting || status == stUndergoing
}

// cveMeta is the part of a CVE record that depends on neither the epoch nor
// the metrics: enough to find which records changed when.
type cveMeta struct {
	i         int
	year      int
	birth     int   // epoch of publication; 0 for the records of epoch 0
	published int64 // ms
	lastMod   int64 // ms, at publication or epoch 0
	status    string
	source    string
}

// NVD stopped adding CVSS v2 scores in July 2022 and started v3.1 in June
// 2019.
var (
	v2Until   = time.Date(2022, 7, 13, 0, 0, 0, 0, time.UTC).Unix() * 1000
	v31From   = time.Date(2019, 6, 20, 0, 0, 0, 0, time.UTC).Unix() * 1000
	v3From    = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).Unix() * 1000
	cnaFrom   = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC).Unix() * 1000
	recentPub = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() * 1000
)

func (d *Dataset) cveMeta(i int) cveMeta {
	h1 := d.hash(kindCVEHead, uint64(i), 1)
	h2 := d.hash(kindCVEHead, uint64(i), 2)
	h3 := d.hash(kindCVEHead, uint64(i), 3)
	m := cveMeta{i: i}
	startMS := d.start * 1000
	if i >= d.cves.n {
		m.birth = (i-d.cves.n)/d.cves.newPerDay + 1
		m.year = d.cves.years[len(d.cves.years)-1].year
		m.published = (d.now(m.birth-1)+1)*1000 + int64(h2%uint64(day*1000-1000))
		m.lastMod = m.published
		m.status = stReceived
		m.source = cveSources[1+h1%uint64(len(cveSources)-1)]
		return m
	}
	m.year = d.cveYearOf(i).year
	lo := yearStart(m.year) * 1000
	hi := max(min(yearStart(m.year+1)*1000, startMS-day*1000), lo+hour*1000)
	m.published = lo + int64(unit(h2)*float64(hi-lo))
	if m.year < 2012 || h1%10 < 1 {
		m.source = "cve@mitre.org"
	} else {
		m.source = cveSources[h1>>8%uint64(len(cveSources))]
	}

	u := unit(h3)
	switch {
	case u < 0.015:
		m.status = stRejected
	case m.published < recentPub:
		m.status = []string{stAnalyzed, stModified, stDeferred}[weightedHash(mix(h3), []int{55, 42, 3})]
	default:
		m.status = []string{stAwaiting, stAnalyzed, stModified, stDeferred, stUndergoing}[weightedHash(mix(h3), []int{31, 30, 14, 22, 3})]
		if m.status == stAwaiting && startMS-m.published < 3*day*1000 {
			m.status = stReceived
		}
	}
	if pending(m.status) {
		m.lastMod = m.published + int64(h1>>20%uint64(6*hour*1000))
	} else {
		v := unit(d.hash(kindCVEHead, uint64(i), 4))
		m.lastMod = startMS - int64(v*v*float64(startMS-m.published)) - int64(h2>>40%uint64(hour*1000))
		m.lastMod = max(m.lastMod, m.published)
	}
	return m
}

// Per-epoch chances that NVD touches a record: a pending one gets analysed,
// any other is modified (new references, CPEs, reanalysis).
const (
	cveAnalyseRate = 0.03
	cveModifyRate  = 0.0005
)

// cveModTime is when within epoch e's day record i was modified.
func (d *Dataset) cveModTime(i, e int) int64 {
	return (d.now(e-1)+1)*1000 + int64(d.hash(kindCVEMod, uint64(i), uint64(e)+1<<32)%uint64(day*1000-1000))
}

// state returns the record's status and lastModified as of epoch, and
// whether it exists then.
func (d *Dataset) state(m *cveMeta, epoch int) (status string, lastMod int64, ok bool) {
	if m.birth > epoch {
		return "", 0, false
	}
	status, lastMod = m.status, m.lastMod
	for e := m.birth + 1; e <= epoch; e++ {
		if status == stRejected {
			break
		}
		if status == stReceived {
			status = stAwaiting // NVD's queue picks it up the next day
		}
		u := unit(d.hash(kindCVEMod, uint64(m.i), uint64(e)))
		switch {
		case pending(status) && u < cveAnalyseRate:
			status, lastMod = stAnalyzed, d.cveModTime(m.i, e)
		case !pending(status) && u < cveModifyRate:
			if status == stAnalyzed {
				status = stModified
			}
			lastMod = d.cveModTime(m.i, e)
		}
	}
	return status, lastMod, true
}

// CVEsModifiedBetween returns, ascending, the indexes of the CVEs whose
// lastModified as of epoch is in [a, b]: what the NVD API returns for
// lastModStartDate/lastModEndDate. It generates no records.
func (d *Dataset) CVEsModifiedBetween(a, b time.Time, epoch int) []int {
	am, bm := a.UnixMilli(), b.UnixMilli()
	epoch = max(epoch, 0)
	var out []int
	for i := range d.CVECount(epoch) {
		m := d.cveMeta(i)
		if m.published > bm {
			continue
		}
		var lastMod int64
		if pending(m.status) || m.birth > 0 {
			_, lastMod, _ = d.state(&m, epoch)
		} else {
			// Modifications of settled records do not depend on their
			// status, so only the epochs after a need looking at.
			lastMod = m.lastMod
			from := max(1, d.epochOf(am/1000))
			for e := epoch; e >= from && m.status != stRejected; e-- {
				if unit(d.hash(kindCVEMod, uint64(i), uint64(e))) < cveModifyRate {
					lastMod = d.cveModTime(i, e)
					break
				}
			}
		}
		if lastMod >= am && lastMod <= bm {
			out = append(out, i)
		}
	}
	return out
}

// cveVectors are the CVSS vectors drawn for a CVE, whether or not its
// record carries them yet: NVD's own v3 and v2 assessments, and the CNA's
// v3.1 and v4.0 ones. KB entries that cite the CVE reuse them.
type cveVectors struct {
	v3, cna3 cvss3
	v2       cvss2
	v4       int // index into v4Table
}

func (d *Dataset) cveVectors(i int, published int64) cveVectors {
	r := d.rng(kindCVEHead, uint64(i), 0)
	var minor byte = 1
	if published < v31From && published >= v3From && r.chance(0.7) {
		minor = 0
	}
	v := cveVectors{v3: newCVSS3(&r, minor), v2: newCVSS2(&r)}
	v.cna3 = v.v3
	v.cna3.minor = 1
	if r.chance(0.4) {
		v.cna3 = v.cna3.mutate(&r)
	}
	v.v4 = r.intn(len(v4Table))
	return v
}

// cveFull is a record with everything the JSON writer needs.
type cveFull struct {
	nvd.CVE
	descES     string
	prod       product
	v40        []v4Entry
	v31, v30   []v3Entry
	v2         []v2Entry
	weaknesses []weakness
}

type v3Entry struct {
	source, typ string
	v           cvss3
}

type v2Entry struct {
	source, typ     string
	v               cvss2
	acInsufInfo     bool
	obtainAll       bool
	obtainUser      bool
	obtainOther     bool
	userInteraction int8 // -1 absent, 0 false, 1 true
}

type v4Entry struct {
	source, typ string
	idx         int
	expanded    bool
}

type weakness struct {
	source, typ string
	cwes        []string
}

const nvdSource = "nvd@nist.gov"

// CVE returns record i as of epoch (a zero CVE when i is out of range or
// not yet published then).
func (d *Dataset) CVE(i int, epoch int) nvd.CVE {
	var f cveFull
	if !d.cveFull(i, epoch, &f) {
		return nvd.CVE{}
	}
	return f.CVE
}

func (d *Dataset) cveFull(i, epoch int, f *cveFull) bool {
	epoch = max(epoch, 0)
	if i < 0 || i >= d.CVECount(epoch) {
		return false
	}
	m := d.cveMeta(i)
	status, lastMod, ok := d.state(&m, epoch)
	if !ok {
		return false
	}
	r := d.rng(kindCVEBody, uint64(i), 0)
	*f = cveFull{CVE: nvd.CVE{
		ID:               d.CVEID(i),
		SourceIdentifier: m.source,
		Published:        nvdTime(m.published),
		LastModified:     nvdTime(lastMod),
		Status:           status,
	}}
	f.prod = pick(&r, allProducts)
	if status == stRejected {
		f.Description = "Rejected reason: This CVE ID has been rejected or withdrawn by its CVE Numbering Authority."
		return true
	}
	f.Description, f.descES = description(&r, f.prod, r.chance(0.4))
	vec := d.cveVectors(i, m.published)
	analysed := status == stAnalyzed || status == stModified
	cna := m.source != "cve@mitre.org"

	// CNA scores come first in NVD's arrays only for v4; v3.1 and v2 list
	// NVD's Primary entry first.
	if cna && m.published >= recentPub && r.chance(0.35) {
		f.v40 = append(f.v40, v4Entry{m.source, "Secondary", vec.v4, m.source == "cna@vuldb.com" || r.chance(0.3)})
	}
	if analysed && (m.published >= v3From || r.chance(0.45)) {
		e := v3Entry{nvdSource, "Primary", vec.v3}
		if m.published < v3From {
			e.v.minor = 1
		}
		if e.v.minor == 0 {
			f.v30 = append(f.v30, e)
		} else {
			f.v31 = append(f.v31, e)
		}
	}
	if cna && m.published >= cnaFrom && (r.chance(0.55) || !analysed && r.chance(0.6)) {
		f.v31 = append(f.v31, v3Entry{m.source, "Secondary", vec.cna3})
	}
	if analysed && m.published < v2Until {
		e := v2Entry{source: nvdSource, typ: "Primary", v: vec.v2, userInteraction: -1}
		e.acInsufInfo = r.chance(0.05)
		e.obtainAll = vec.v2.base[3] == 2 && vec.v2.base[4] == 2 && r.chance(0.3)
		if r.chance(0.7) {
			e.userInteraction = int8(r.intn(2))
		}
		f.v2 = append(f.v2, e)
	}
	for _, e := range f.v40 {
		t := v4Table[e.idx]
		f.Metrics = append(f.Metrics, nvd.Metric{Version: "4.0", Source: e.source, Type: e.typ,
			Vector: vector4(e), BaseScore: t.score, Severity: severity3(t.score)})
	}
	for _, list := range [][]v3Entry{f.v31, f.v30} {
		for _, e := range list {
			base, _, _, _ := e.v.scores()
			f.Metrics = append(f.Metrics, nvd.Metric{Version: e.v.version(), Source: e.source, Type: e.typ,
				Vector: e.v.vector(false), BaseScore: base, Severity: severity3(base)})
		}
	}
	for _, e := range f.v2 {
		base, _, _, _ := e.v.scores()
		f.Metrics = append(f.Metrics, nvd.Metric{Version: "2.0", Source: e.source, Type: e.typ,
			Vector: e.v.vector(false), BaseScore: base, Severity: severity2(base)})
	}

	if cna && r.chance(0.6) {
		f.weaknesses = append(f.weaknesses, weakness{m.source, "Secondary", pickCWEs(&r)})
	}
	if analysed {
		f.weaknesses = append(f.weaknesses, weakness{nvdSource, "Primary", pickCWEs(&r)})
	}
	for _, w := range f.weaknesses {
		for _, c := range w.cwes {
			if !slices.Contains(f.CWEs, c) {
				f.CWEs = append(f.CWEs, c)
			}
		}
	}
	// NVD copies the KEV catalog's fields into the record. Entries added
	// before Start are copied; later ones are not, as that would be a
	// modification of the record that lastModified does not show.
	if k, ok := d.kevOf(i); ok && k.added < floorDiv(d.start, day) {
		e := d.kevHead(i, k)
		f.KEV = &nvd.KEV{Added: e.DateAdded, Due: e.DueDate, RequiredAction: e.RequiredAction, Name: e.Name}
	}
	return true
}

func vector4(e v4Entry) string {
	if e.expanded {
		return v4Table[e.idx].vector + v4Expanded
	}
	return v4Table[e.idx].vector
}

func pickCWEs(r *rnd) []string {
	out := []string{pick(r, cwes)}
	if r.chance(0.2) {
		if c := pick(r, cwes); c != out[0] {
			out = append(out, c)
		}
	}
	return out
}

var allProducts = slices.Concat(webProducts, remoteProducts, dnsProducts, dbProducts, ftpProducts,
	mailProducts, smbProducts, snmpProducts, windowsProducts, officeProducts, localProducts,
	vmwareProducts, ciscoProducts)

// description writes the English description of a record and, when es,
// its Spanish translation.
func description(r *rnd, p product, es bool) (en, spa string) {
	ci := r.intn(len(spanish.classes))
	ii := r.intn(len(spanish.impacts))
	v1 := version(r)
	v2 := laterVersion(r, v1)
	b := make([]byte, 0, 512)
	b = append(b, vulnClasses[ci]...)
	b = append(b, " vulnerability in the "...)
	b = append(b, pick(r, components)...)
	b = append(b, " of "...)
	b = append(b, p.display...)
	b = append(b, " before "...)
	b = append(b, v2...)
	b = append(b, " allows "...)
	b = append(b, lower(pick(r, attackers))...)
	b = append(b, " to "...)
	b = append(b, impacts[ii%len(impacts)]...)
	b = append(b, " via "...)
	b = append(b, pick(r, []string{"a crafted request", "a crafted file", "a malicious web page", "crafted network packets", "the \"name\" parameter"})...)
	b = append(b, ". The vulnerability is due to "...)
	b = append(b, pick(r, causes)...)
	b = append(b, '.')
	if r.chance(0.5) {
		b = append(b, " This issue affects "...)
		b = append(b, p.display...)
		b = append(b, ": from "...)
		b = append(b, v1...)
		b = append(b, " before "...)
		b = append(b, v2...)
		b = append(b, '.')
	}
	if r.chance(0.3) {
		b = append(b, " Users are recommended to upgrade to version "...)
		b = append(b, v2...)
		b = append(b, ", which fixes the issue."...)
	}
	en = string(b)
	if !es {
		return en, ""
	}
	b = b[:0]
	b = append(b, "Vulnerabilidad de "...)
	b = append(b, spanish.classes[ci%len(spanish.classes)]...)
	b = append(b, " en "...)
	b = append(b, p.display...)
	b = append(b, " anterior a la versión "...)
	b = append(b, v2...)
	b = append(b, " que permite a un atacante "...)
	b = append(b, spanish.impacts[ii%len(spanish.impacts)]...)
	b = append(b, " mediante una petición manipulada. La vulnerabilidad se debe a una validación incorrecta de los datos de entrada."...)
	return en, string(b)
}
