package gen

import (
	"slices"
	"strconv"
	"time"

	"qvt/internal/qualys"
)

// style says what kind of check a QID family is, which decides its
// titles, texts, ports and scanner output.
type style uint8

const (
	styleIG style = iota
	styleWeb
	styleDNS
	styleDB
	styleFTP
	styleTLS // TLS/SSH and other remote services
	styleSNMP
	styleSMB
	styleMail
	styleTCP
	styleWindows
	styleOffice
	stylePolicy
	styleLocal
	styleWAS
	styleDistro
	styleVMware
	styleCisco
)

// local reports whether checks of the style run authenticated on the host
// (no port, DISCOVERY/REMOTE 0).
func (s style) local() bool {
	switch s {
	case styleWindows, styleOffice, stylePolicy, styleLocal, styleDistro, styleVMware:
		return true
	}
	return false
}

// family is a block of QIDs, as Qualys allocates them: ranges per
// category (CGI 10000s, Windows 90000s, Ubuntu 195000s...).
type family struct {
	lo, hi   int // QID range [lo, hi)
	weight   float64
	category string
	style    style
	from     int // year of its first QIDs
	distro   *distro
}

// distro names a Linux distribution's advisories.
type distro struct {
	name     string // as in titles
	title    string // title before the package name
	advisory func(r *rnd, year int) string
	url      func(adv string) string
	release  []string
}

func num(b []byte, n, width int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func advisory(prefix string, sep byte, width int, suffix string) func(r *rnd, year int) string {
	return func(r *rnd, year int) string {
		b := append([]byte(prefix), strconv.Itoa(year)...)
		b = append(b, sep)
		b = num(b, r.between(1, 9999), width)
		return string(append(b, suffix...))
	}
}

var (
	ubuntu = &distro{"Ubuntu", "Ubuntu Security Notification for", func(r *rnd, _ int) string {
		return "USN-" + strconv.Itoa(r.between(4000, 7999)) + "-" + strconv.Itoa(r.between(1, 3))
	}, func(a string) string { return "https://ubuntu.com/security/notices/" + a }, []string{"20.04 LTS", "22.04 LTS", "24.04 LTS", "18.04 ESM"}}
	redhat = &distro{"Red Hat", "Red Hat Update for", advisory("RHSA-", ':', 4, ""),
		func(a string) string { return "https://access.redhat.com/errata/" + a }, []string{"Enterprise Linux 8", "Enterprise Linux 9", "Enterprise Linux 7"}}
	oel = &distro{"Oracle Enterprise Linux", "Oracle Enterprise Linux Security Update for", advisory("ELSA-", '-', 4, ""),
		func(a string) string { return "https://linux.oracle.com/errata/" + a + ".html" }, []string{"8", "9", "7"}}
	suse = &distro{"SUSE", "SUSE Enterprise Linux Security Update for", advisory("SUSE-SU-", ':', 4, "-1"),
		func(a string) string { return "https://www.suse.com/support/update/announcement/" + a }, []string{"15 SP5", "15 SP6", "12 SP5"}}
	centos = &distro{"CentOS", "CentOS Security Update for", advisory("CESA-", ':', 4, ""),
		func(a string) string { return "https://lists.centos.org/pipermail/centos-announce/" + a }, []string{"7", "8"}}
	fedora = &distro{"Fedora", "Fedora Security Update for", func(r *rnd, year int) string {
		return "FEDORA-" + strconv.Itoa(year) + "-" + strconv.FormatUint(r.u64()>>24, 16)
	}, func(a string) string { return "https://bodhi.fedoraproject.org/updates/" + a }, []string{"39", "40", "41"}}
	debian = &distro{"Debian", "Debian Security Update for", func(r *rnd, _ int) string {
		return "DSA " + strconv.Itoa(r.between(4000, 5999)) + "-1"
	}, func(a string) string { return "https://www.debian.org/security/" + a[4:] }, []string{"11", "12", "10"}}
	amazon = &distro{"Amazon Linux", "Amazon Linux Security Advisory for", advisory("ALAS2-", '-', 4, ""),
		func(a string) string { return "https://alas.aws.amazon.com/AL2/" + a + ".html" }, []string{"2", "2023"}}
)

// families are the QID blocks of the KB with their share of it. Ranges and
// categories follow real Qualys numbering loosely; a full KB fills about
// 60% of the space.
var families = []family{
	{1, 2000, 1, "Information gathering", styleIG, 1999, nil},
	{10000, 15000, 3, "CGI", styleWeb, 1999, nil},
	{15000, 17000, 0.5, "DNS and BIND", styleDNS, 1999, nil},
	{19000, 22000, 1, "Database", styleDB, 2000, nil},
	{27000, 28500, 0.3, "File Transfer Protocol", styleFTP, 1999, nil},
	{38000, 41000, 2.5, "General remote services", styleTLS, 1999, nil},
	{42000, 44000, 0.6, "SNMP", styleSNMP, 2000, nil},
	{45000, 47000, 1.5, "Information gathering", styleIG, 2001, nil},
	{48000, 50000, 0.5, "Information gathering", styleIG, 2012, nil},
	{66000, 67000, 0.2, "RPC", styleTLS, 1999, nil},
	{70000, 71000, 0.4, "SMB / NETBIOS", styleSMB, 1999, nil},
	{74000, 75500, 0.4, "Mail services", styleMail, 1999, nil},
	{82000, 83000, 0.2, "TCP/IP", styleTCP, 1999, nil},
	{86000, 89000, 2, "Web server", styleWeb, 2000, nil},
	{90000, 100000, 5, "Windows", styleWindows, 2003, nil},
	{100000, 102000, 1.5, "Internet Explorer", styleWindows, 2004, nil},
	{105000, 107000, 1, "Security Policy", stylePolicy, 2005, nil},
	{110000, 112000, 1.5, "Office Application", styleOffice, 2006, nil},
	{115000, 140000, 10, "Local", styleLocal, 2006, nil},
	{150000, 153000, 2, "Web Application", styleWAS, 2011, nil},
	{155000, 170000, 6, "OEL", styleDistro, 2011, oel},
	{170000, 195000, 9, "SUSE", styleDistro, 2012, suse},
	{195000, 210000, 7, "Ubuntu", styleDistro, 2012, ubuntu},
	{216000, 218000, 0.6, "VMware", styleVMware, 2013, nil},
	{236000, 256000, 9, "RedHat", styleDistro, 2014, redhat},
	{256000, 266000, 4, "CentOS", styleDistro, 2015, centos},
	{275000, 290000, 4, "Fedora", styleDistro, 2016, fedora},
	{290000, 300000, 5, "Debian", styleDistro, 2017, debian},
	{316000, 319000, 1, "Cisco", styleCisco, 2017, nil},
	{350000, 362000, 4, "Amazon Linux", styleDistro, 2018, amazon},
	{370000, 400000, 10, "Local", styleLocal, 2016, nil},
}

// kbIndex lists the data set's QIDs and the family of each.
type kbIndex struct {
	qids  []int
	fam   []uint8  // family index of qids[i]
	spans [][2]int // per family: its [first, end) positions in qids
}

// buildKB spreads n QIDs over the families by weight, capped by each
// family's range, and places each family's QIDs in disjoint windows of its
// range, so the list comes out ascending with realistic gaps.
func (d *Dataset) buildKB(n int) kbIndex {
	counts := allocate(n)
	var kb kbIndex
	kb.qids = make([]int, 0, n)
	kb.fam = make([]uint8, 0, n)
	kb.spans = make([][2]int, len(families))
	for fi, f := range families {
		c := counts[fi]
		first := len(kb.qids)
		size := max(f.hi-f.lo, c) // the last family stretches past 400000 if it must
		for j := range c {
			lo := f.lo + j*size/c
			hi := f.lo + (j+1)*size/c
			q := lo + int(unit(d.hash(kindQIDs, uint64(fi), uint64(j)))*float64(hi-lo))
			kb.qids = append(kb.qids, q)
			kb.fam = append(kb.fam, uint8(fi))
		}
		kb.spans[fi] = [2]int{first, len(kb.qids)}
	}
	return kb
}

// allocate splits n over the families in proportion to their weights,
// never giving one more QIDs than its range holds, except the last.
func allocate(n int) []int {
	counts := make([]int, len(families))
	full := make([]bool, len(families))
	left := n
	for left > 0 {
		var w float64
		for i, f := range families {
			if !full[i] {
				w += f.weight
			}
		}
		given := 0
		for i, f := range families {
			if full[i] {
				continue
			}
			share := int(float64(left) * f.weight / w)
			room := f.hi - f.lo - counts[i]
			if i == len(families)-1 {
				room = left
			}
			if share >= room {
				share, full[i] = room, true
			}
			counts[i] += share
			given += share
		}
		if given == 0 { // rounding: hand the rest out one by one
			for i := range families {
				if left-given == 0 {
					break
				}
				if !full[i] && counts[i] < families[i].hi-families[i].lo || i == len(families)-1 {
					counts[i]++
					given++
				}
			}
		}
		left -= given
	}
	return counts
}

// QIDs returns every QID of the KB, ascending. The set does not change
// across epochs.
func (d *Dataset) QIDs() []int { return slices.Clone(d.kb.qids) }

func (d *Dataset) qidIndex(qid int) (int, bool) {
	return slices.BinarySearch(d.kb.qids, qid)
}

// vulnHead is what detections need of a KB entry; it is cheap (a few
// hashes) so that a host's forty detections do not each generate a whole
// entry.
type vulnHead struct {
	qid       int
	fam       *family
	vulnType  string
	severity  int
	published int64
	lastMod   int64 // at epoch 0
	pick      uint64
}

// product is the software the entry is about (not for distro families).
func (h *vulnHead) product() product {
	list := productsFor(h.fam.style)
	return list[h.pick%uint64(len(list))]
}

// pkg is the package a distro family's entry is about.
func (h *vulnHead) pkg() string { return distroPackages[h.pick%uint64(len(distroPackages))] }

func (d *Dataset) head(idx int) vulnHead {
	qid := d.kb.qids[idx]
	f := &families[d.kb.fam[idx]]
	h1 := d.hash(kindVulnHead, uint64(qid), 1)
	h2 := d.hash(kindVulnHead, uint64(qid), 2)
	h3 := d.hash(kindVulnHead, uint64(qid), 3)
	v := vulnHead{qid: qid, fam: f, pick: mix(h3)}

	if f.style == styleIG {
		v.vulnType = "Information Gathered"
		v.severity = []int{1, 1, 1, 1, 1, 1, 2, 2, 2, 3}[h1%10]
	} else {
		switch u := unit(h1); {
		case u < 0.84:
			v.vulnType = "Vulnerability"
		case u < 0.98:
			v.vulnType = "Potential Vulnerability"
		default:
			v.vulnType = "Vulnerability or Potential Vulnerability"
		}
		v.severity = 1 + weightedHash(mix(h1), []int{4, 18, 38, 26, 14})
	}

	// QIDs are handed out in order, so the position in the family's range
	// says roughly when it was published.
	t0, t1 := yearStart(f.from), d.start-2*day
	frac := float64(qid-f.lo) / float64(f.hi-f.lo)
	pub := t0 + int64(frac*float64(t1-t0)) + int64(unit(h2)*90*day) - 45*day
	v.published = min(max(pub, t0+int64(h2%day)), t1)
	// Qualys revises entries all the time: last modification leans recent.
	u := unit(h3)
	v.lastMod = t1 - int64(u*u*float64(t1-v.published)) + int64(h3%(2*day))
	v.lastMod = min(max(v.lastMod, v.published), d.start-int64(h3>>40%hour))
	return v
}

// weightedHash picks an index by weight from a hash value.
func weightedHash(h uint64, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := int(h % uint64(total))
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// vulnModRate is the share of KB entries Qualys revises each day.
const vulnModRate = 0.002

// vulnModified reports whether the entry was revised in epoch e, and when.
func (d *Dataset) vulnModified(qid, e int) (int64, bool) {
	h := d.hash(kindVulnMod, uint64(qid), uint64(e))
	if unit(h) >= vulnModRate {
		return 0, false
	}
	return d.now(e-1) + 1 + int64(h>>8%uint64(day-1)), true
}

// vulnMods returns how many times the entry was revised in epochs 1..epoch
// and the time of the last revision (0 if none).
func (d *Dataset) vulnMods(qid, epoch int) (count int, last int64) {
	for e := epoch; e >= 1; e-- {
		if t, ok := d.vulnModified(qid, e); ok {
			if count == 0 {
				last = t
			}
			count++
		}
	}
	return count, last
}

// vulnLastMod is the entry's LAST_SERVICE_MODIFICATION_DATETIME as of
// epoch, without generating the entry.
func (d *Dataset) vulnLastMod(idx, epoch int) int64 {
	for e := epoch; e >= 1; e-- {
		if t, ok := d.vulnModified(d.kb.qids[idx], e); ok {
			return t
		}
	}
	return d.head(idx).lastMod
}

// VulnsModifiedSince returns, ascending, the QIDs whose
// LAST_SERVICE_MODIFICATION_DATETIME as of epoch is at or after t: what
// the KB API returns for last_modified_after. It generates no entries, and
// for t after Start only looks at the epochs after t.
func (d *Dataset) VulnsModifiedSince(t time.Time, epoch int) []int {
	ts := t.Unix()
	epoch = max(epoch, 0)
	var out []int
	if ts <= d.start {
		for i, q := range d.kb.qids {
			if d.vulnLastMod(i, epoch) >= ts {
				out = append(out, q)
			}
		}
		return out
	}
	from := max(1, d.epochOf(ts))
	for _, q := range d.kb.qids {
		for e := epoch; e >= from; e-- {
			if m, ok := d.vulnModified(q, e); ok {
				if m >= ts {
					out = append(out, q)
				}
				break
			}
		}
	}
	return out
}

// Vuln returns the KB entry of qid (details=All) as of epoch, or a zero
// Vuln if the data set has no such QID.
//
// Its CVEs field can hold an empty id, as real KB output occasionally
// does (<CVE><ID><![CDATA[]]></ID></CVE>); qvt's decoder drops those, so
// compare decoded entries with that in mind.
func (d *Dataset) Vuln(qid int, epoch int) qualys.Vuln {
	idx, ok := d.qidIndex(qid)
	if !ok {
		return qualys.Vuln{}
	}
	epoch = max(epoch, 0)
	h := d.head(idx)
	r := d.rng(kindVulnBody, uint64(qid), 0)
	v := qualys.Vuln{
		QID:       qid,
		VulnType:  h.vulnType,
		Severity:  h.severity,
		Category:  h.fam.category,
		Published: qualysTime(h.published),
	}
	mods, last := d.vulnMods(qid, epoch)
	if last == 0 {
		last = h.lastMod
	}
	v.LastModified = qualysTime(last)
	if r.chance(0.005) {
		v.LastCustomized = qualysTime(h.published + int64(r.float()*float64(h.lastMod-h.published)))
	}
	d.fillVuln(&r, &h, &v, mods)
	return v
}
