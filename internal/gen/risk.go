package gen

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"qvt/internal/kev"
	"qvt/internal/qualys"
)

// Exploitation evidence: CISA's KEV catalog, FIRST's EPSS scores and the
// Qualys Detection Score, as a data set knows them at each epoch.
//
// Every decision is a hash of (seed, CVE index), as for the other records,
// so a CVE's place in the catalog or its score is computed alone, in O(1):
//   - About 1% of CVEs are in the catalog (CISA's 1,400 of NVD's 300,000
//     are 0.5%; a data set's CVEs are the ones its KB cites, so a little
//     more). Each has a dateAdded: CVEs older than the catalog's start
//     (2021-11-03) mostly came in its first load, newer ones days to months
//     after publication; a further set is added on later epochs (old CVEs
//     found exploited, about one every other day), as are some new CVEs.
//     An entry is in the catalog of epoch e once its dateAdded is before
//     the epoch's day, as CISA publishes during the day.
//   - Entries are edited in place now and then (the ransomware flag turns
//     Known, notes gain a link), on days of their own.
//   - EPSS scores follow the real file's shape: median about 0.0008, 87%
//     under 0.01, 5% at 0.1 or more, KEV CVEs in the top 7%. They drift by a
//     few percent from epoch to epoch, and jump when the CVE enters KEV.
//   - QDS is per detection: the QID's severity, raised by the highest EPSS
//     of the QID's CVEs, 90 or more when one of them is in KEV.

const (
	kindKEV uint64 = 100 + iota // well apart from rand.go's kinds
	kindKEVEdit
	kindKEVLate
	kindEPSS
	kindEPSSDrift
)

// catalogStart is the day of the KEV catalog's first release (BOD 22-01).
var catalogStart = daysFromCivil(2021, 11, 3)

// EPSS file facts: the model of every score the data set writes.
const (
	EPSSModelVersion = "v2025.03.14"
	KEVFile          = "known_exploited_vulnerabilities.json"
)

// kevLateHorizon is the span, in days after Start, over which the late
// additions are spread.
const kevLateHorizon = 3650

// kevInfo is what a CVE's catalog entry is made of, before the epoch is
// applied.
type kevInfo struct {
	added      int64 // day number (days since 1970-01-01)
	due        int64
	ransomware int64 // day the ransomware flag turns Known; 0 = never, catalogStart or earlier = from the start
	notesEdit  int64 // day notes gain a link; 0 = never
}

// kevOf says whether CVE i is ever in the catalog, and when.
func (d *Dataset) kevOf(i int) (kevInfo, bool) {
	var k kevInfo
	if i < 0 {
		return k, false
	}
	h := d.hash(kindKEV, uint64(i), 0)
	u := unit(h)
	m := d.cveMeta(i)
	if m.status == stRejected {
		return k, false
	}
	pubDay := floorDiv(m.published, day*1000)
	startDay := floorDiv(d.start, day)
	v := unit(mix(h))
	switch {
	case m.birth > 0: // published after epoch 0: some exploited at once
		if u >= 0.01 {
			return k, false
		}
		k.added = pubDay + int64(v*10)
	case u < kevBaseChance(m.year):
		if pubDay < catalogStart {
			if v < 0.4 {
				k.added = catalogStart // the first load
			} else {
				k.added = catalogStart + 1 + int64(unit(mix(h^1))*float64(startDay-catalogStart))
			}
		} else if v < 0.55 {
			k.added = pubDay + int64(unit(mix(h^2))*15)
		} else {
			w := unit(mix(h ^ 2))
			k.added = pubDay + int64(w*w*730)
		}
	default:
		// The late additions: chance q gives λ a day over the horizon.
		lambda := max(0.5, 6e-6*float64(d.cves.n))
		q := min(lambda*kevLateHorizon/float64(max(d.cves.n, 1)), 0.1) // tiny data sets: not every CVE
		if u >= kevBaseChance(m.year)+q {
			return k, false
		}
		k.added = startDay + 1 + int64(d.hash(kindKEVLate, uint64(i), 0)%kevLateHorizon)
	}
	k.added = max(k.added, catalogStart, pubDay)
	// Deadlines as CISA set them (risk-and-scale.md §1.4): the first load
	// gave pre-2021 CVEs six months and 2021 ones two weeks; since then
	// mostly three weeks, emergencies a week or less.
	switch dd := mix(h ^ 3); {
	case k.added == catalogStart && m.year < 2021:
		k.due = daysFromCivil(2022, 5, 3)
	case k.added == catalogStart:
		k.due = daysFromCivil(2021, 11, 17)
	case dd%100 < 3:
		k.due = k.added + 7
	case dd%100 < 6:
		k.due = k.added + 14
	default:
		k.due = k.added + 21
	}
	e := mix(h ^ 4)
	switch {
	case e%100 < 18:
		k.ransomware = k.added // known from the start
	case e%100 < 21:
		k.ransomware = k.added + 30 + int64(e>>8%400) // learnt later: an edit
	}
	if e>>20%100 < 4 {
		k.notesEdit = k.added + 10 + int64(e>>32%300)
	}
	return k, true
}

// kevBaseChance is how likely a CVE of a year is to be in the catalog
// before Start: recent years more than old ones.
func kevBaseChance(year int) float64 {
	switch {
	case year < 2010:
		return 0.004
	case year < 2017:
		return 0.008
	}
	return 0.012
}

// today is the day number of epoch e's Now.
func (d *Dataset) today(epoch int) int64 { return floorDiv(d.now(max(epoch, 0)), day) }

// kevAt reports whether CVE i is in the catalog of epoch e.
func (d *Dataset) kevAt(i, epoch int) (kevInfo, bool) {
	if i >= d.CVECount(epoch) {
		return kevInfo{}, false
	}
	k, ok := d.kevOf(i)
	return k, ok && k.added < d.today(epoch)
}

// KEV returns the catalog as of epoch, newest entries first as CISA lists
// them. Its Version is the day of the latest addition or edit before the
// epoch's day ("2026.10.31"), Released a time during that day.
func (d *Dataset) KEV(epoch int) *kev.Catalog {
	epoch = max(epoch, 0)
	today := d.today(epoch)
	type member struct {
		i int
		k kevInfo
	}
	var ms []member
	last := catalogStart
	for i := range d.CVECount(epoch) {
		k, ok := d.kevAt(i, epoch)
		if !ok {
			continue
		}
		ms = append(ms, member{i, k})
		for _, t := range []int64{k.added, k.ransomware, k.notesEdit} {
			if t < today && t > last {
				last = t
			}
		}
	}
	slices.SortFunc(ms, func(a, b member) int {
		if a.k.added != b.k.added {
			return int(b.k.added - a.k.added)
		}
		return b.i - a.i
	})
	c := &kev.Catalog{
		Title:   "CISA Catalog of Known Exploited Vulnerabilities",
		Version: strings.ReplaceAll(dateString(last*day), "-", "."),
		Entries: make([]kev.Entry, 0, len(ms)),
	}
	h := d.hash(kindKEVEdit, uint64(last), 0)
	sec := last*day + 14*hour + int64(h%(5*hour))
	c.Released = qualysTime(sec)[:19] + "." + strconv.Itoa(1000+int(h>>32%9000)) + "Z"
	for _, m := range ms {
		c.Entries = append(c.Entries, d.kevEntry(m.i, m.k, epoch, today))
	}
	return c
}

// kevEntry writes the catalog entry of CVE i from its NVD record.
func (d *Dataset) kevEntry(i int, k kevInfo, epoch int, today int64) kev.Entry {
	cve := d.CVE(i, epoch)
	e := d.kevHead(i, k)
	e.CVE, e.Description, e.CWEs = cve.ID, cve.Description, cve.CWEs
	e.Notes = "https://nvd.nist.gov/vuln/detail/" + cve.ID
	if k.ransomware != 0 && k.ransomware < today {
		e.Ransomware = "Known"
	}
	if k.notesEdit != 0 && k.notesEdit < today {
		e.Notes = "https://www." + strings.ToLower(e.VendorProject) + ".com/security/advisories/" + cve.ID + " ; " + e.Notes
	}
	return e
}

// kevHead is the part of an entry that needs no NVD record (which copies
// it: cveFull): names, dates and the action required.
func (d *Dataset) kevHead(i int, k kevInfo) kev.Entry {
	// The record's product and class of flaw: the first draws of its body
	// (cveFull, then description).
	r := d.rng(kindCVEBody, uint64(i), 0)
	p := pick(&r, allProducts)
	r.chance(0.4)
	class := vulnClasses[r.intn(len(spanish.classes))]
	vendor, product, ok := strings.Cut(p.display, " ")
	if !ok {
		product = p.display
	}
	e := kev.Entry{
		VendorProject: vendor,
		Product:       product,
		Name:          p.display + " " + class + " Vulnerability",
		DateAdded:     dateString(k.added * day),
		RequiredAction: "Apply mitigations per vendor instructions, follow applicable BOD 22-01 guidance for cloud services, " +
			"or discontinue use of the product if mitigations are unavailable.",
		DueDate:    dateString(k.due * day),
		Ransomware: "Unknown",
	}
	if k.added < daysFromCivil(2023, 1, 1) {
		e.RequiredAction = "Apply updates per vendor instructions."
	}
	return e
}

// EPSS knots: the score at quantiles of the population, interpolated in
// log10 between them (the shape of a 2025 file).
var (
	epssQ = []float64{0, 0.5, 0.87, 0.95, 0.985, 1}
	epssL = []float64{math.Log10(0.00004), math.Log10(0.0008), -2, -1, math.Log10(0.5), math.Log10(0.97)}
)

func epssAt(u float64) float64 {
	for k := 1; k < len(epssQ); k++ {
		if u <= epssQ[k] {
			f := (u - epssQ[k-1]) / (epssQ[k] - epssQ[k-1])
			return math.Pow(10, epssL[k-1]+f*(epssL[k]-epssL[k-1]))
		}
	}
	return math.Pow(10, epssL[len(epssL)-1])
}

// percentileOf inverts epssAt: the share of the population scoring below.
func percentileOf(score float64) float64 {
	l := math.Log10(max(score, 1e-9))
	if l <= epssL[0] {
		return 0
	}
	for k := 1; k < len(epssL); k++ {
		if l <= epssL[k] {
			return epssQ[k-1] + (l-epssL[k-1])/(epssL[k]-epssL[k-1])*(epssQ[k]-epssQ[k-1])
		}
	}
	return 1
}

func round5(x float64) float64 { return math.Round(x*1e5) / 1e5 }

// EPSS returns CVE i's score and percentile in the file of epoch, rounded
// to five decimals as FIRST writes them; ok is false when the file has no
// row for it (not published the day before, rejected, or one of the few
// FIRST leaves out).
func (d *Dataset) EPSS(i, epoch int) (score, percentile float64, ok bool) {
	epoch = max(epoch, 0)
	if i < 0 || i >= d.CVECount(epoch) {
		return 0, 0, false
	}
	m := d.cveMeta(i)
	if m.status == stRejected || m.published >= (d.now(epoch)-day)*1000 {
		return 0, 0, false
	}
	h := d.hash(kindEPSS, uint64(i), 0)
	if h%200 == 0 {
		return 0, 0, false
	}
	u := unit(mix(h))
	if _, in := d.kevAt(i, epoch); in {
		u = 0.93 + 0.07*u
	}
	drift := 1 + 0.08*(unit(d.hash(kindEPSSDrift, uint64(i), uint64(epoch)))-0.5)
	score = min(max(round5(epssAt(u)*drift), 0.00001), 0.99999)
	return score, round5(percentileOf(score)), true
}

// qidRisk holds, per QID index, what the QDS of its detections needs and
// does not change across epochs: the CVEs the KB entry cites, and the
// CVSS v3 base score and vector of the first. It is built on first use, as
// only data sets that render detections need it.
type qidRisk struct {
	once   sync.Once
	cves   [][]int32
	cvss   []string // "9.8"; "" without CVEs
	vector []string // "AV:N/AC:L/…" without its "CVSS:3.1/" prefix
}

func (d *Dataset) qidRisks() *qidRisk {
	q := d.risk
	q.once.Do(func() {
		n := len(d.kb.qids)
		q.cves = make([][]int32, n)
		q.cvss = make([]string, n)
		q.vector = make([]string, n)
		for idx := range n {
			cves := d.vulnCVEIndexes(idx)
			if len(cves) == 0 {
				continue
			}
			q.cves[idx] = make([]int32, len(cves))
			for j, c := range cves {
				q.cves[idx][j] = int32(c)
			}
			m := d.cveMeta(cves[0])
			v := d.cveVectors(cves[0], m.published).v3
			base, _, _, _ := v.scores()
			q.cvss[idx] = strconv.FormatFloat(base, 'f', 1, 64)
			vec := v.vector(false)
			if j := strings.IndexByte(vec, '/'); j >= 0 {
				vec = vec[j+1:]
			}
			q.vector[idx] = vec
		}
	})
	return q
}

// vulnCVEIndexes replays the start of Vuln's random stream up to the CVE
// list, to learn the CVEs of a QID without writing its whole entry.
// TestVulnCVEIndexes keeps it in step with Vuln.
func (d *Dataset) vulnCVEIndexes(idx int) []int {
	h := d.head(idx)
	r := d.rng(kindVulnBody, uint64(h.qid), 0)
	if r.chance(0.005) { // LAST_CUSTOMIZATION
		r.float()
	}
	s := newSubject(&r, &h)
	s.title(&r)
	if h.fam.style != styleIG {
		r.chance(0.82) // PATCHABLE
	}
	return d.kbCVEIndexes(&r, h.fam, s.year)
}

// qds is the QDS, its severity and factors of a detection of the QID at
// index idx as of epoch; noise is the detection's own variation.
func (d *Dataset) qds(idx, severity, epoch int, noise uint64) (int, string, []qualys.QDSFactor) {
	q := d.qidRisks()
	maxEPSS, known := 0.0, false
	var kevDay int64
	for _, c := range q.cves[idx] {
		if k, in := d.kevAt(int(c), epoch); in {
			if kevDay == 0 || k.added > kevDay {
				kevDay = k.added
			}
		}
		if s, _, ok := d.EPSS(int(c), epoch); ok {
			maxEPSS, known = max(maxEPSS, s), true
		}
	}
	score := severity*13 - 8 + int(noise%21) + int(40*math.Sqrt(maxEPSS)+0.5)
	if kevDay != 0 {
		score = max(score, 90+int(noise>>8%11))
	}
	score = min(max(score, 1), 100)
	if len(q.cves[idx]) == 0 {
		return score, qdsSeverity(score), nil
	}
	var fs []qualys.QDSFactor
	var rti []string
	if kevDay != 0 {
		rti = append(rti, "Active_Attacks")
	}
	if maxEPSS >= 0.1 {
		rti = append(rti, "Exploit_Public")
	}
	if rti != nil {
		fs = append(fs, factor("RTI", strings.Join(rti, ",")))
	}
	switch {
	case kevDay != 0:
		fs = append(fs, factor("exploit_maturity", "weaponized"))
	case maxEPSS >= 0.1:
		fs = append(fs, factor("exploit_maturity", "poc"))
	}
	fs = append(fs, factor("CVSS", q.cvss[idx]), factor("CVSS_version", "v3.x"))
	if known {
		fs = append(fs, factor("epss", strconv.FormatFloat(maxEPSS, 'f', 4, 64)))
	}
	if kevDay != 0 && d.today(epoch)-kevDay <= 30 {
		y, m, dd := civil(kevDay)
		fs = append(fs, factor("trending", string(num(num(num(nil, m, 2), dd, 2), y, 4))))
	}
	fs = append(fs, factor("CVSS_vector", q.vector[idx]))
	return score, qdsSeverity(score), fs
}

type qdsFactor struct{ name, value string }

func factor(name, value string) qualys.QDSFactor { return qualys.QDSFactor{Name: name, Value: value} }
