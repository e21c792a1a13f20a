package gen

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"qvt/internal/qualys"
)

// Hosts are scanned on a schedule: agents and cloud instances every day,
// scanner-tracked hosts every day or every week. A detection changes only
// when its host is scanned; between scans of one host the rates below
// compound, so that over the whole population about 3% of open detections
// get fixed each day and 1% of fixed ones re-open.
const (
	fixRate    = 0.03
	reopenRate = 0.01
	newRate    = 0.004 // new detections a day, per detection a host had at first

	hostIDBase   = 100000
	hostIDStride = 8 // host ids leave gaps, like real ones
)

// osClass decides which QID families a host's detections come from.
type osClass uint8

const (
	osWindows osClass = iota
	osLinux
	osDevice
)

type osInfo struct {
	name   string
	cpe    string
	class  osClass
	distro *distro // the distro family its package checks come from
}

var operatingSystems = []osInfo{
	{"Windows Server 2019 Standard 64 bit Edition Version 1809", "cpe:/o:microsoft:windows_server_2019:-:-:x64:", osWindows, nil},
	{"Windows Server 2022 Datacenter 64 bit Edition Version 21H2", "cpe:/o:microsoft:windows_server_2022:-:-:x64:", osWindows, nil},
	{"Windows Server 2016 Datacenter 64 bit Edition Version 1607", "cpe:/o:microsoft:windows_server_2016:-:-:x64:", osWindows, nil},
	{"Windows 10 Enterprise 64 bit Edition Version 22H2", "cpe:/o:microsoft:windows_10:22h2:-:x64:", osWindows, nil},
	{"Windows 11 Enterprise 64 bit Edition Version 23H2", "cpe:/o:microsoft:windows_11:23h2:-:x64:", osWindows, nil},
	{"Windows Server 2012 R2 Standard 64 bit Edition", "cpe:/o:microsoft:windows_server_2012:r2:-:x64:", osWindows, nil},
	{"Ubuntu Linux 22.04.4", "cpe:/o:canonical:ubuntu_linux:22.04:-:-:", osLinux, ubuntu},
	{"Ubuntu Linux 20.04.6", "cpe:/o:canonical:ubuntu_linux:20.04:-:-:", osLinux, ubuntu},
	{"Red Hat Enterprise Linux 8.9", "cpe:/o:redhat:enterprise_linux:8.9:-:-:", osLinux, redhat},
	{"Red Hat Enterprise Linux 9.3", "cpe:/o:redhat:enterprise_linux:9.3:-:-:", osLinux, redhat},
	{"CentOS Linux 7.9.2009", "cpe:/o:centos:centos:7.9.2009:-:-:", osLinux, centos},
	{"Amazon Linux 2", "cpe:/o:amazon:amazon_linux:2:-:-:", osLinux, amazon},
	{"Debian GNU/Linux 12.5", "cpe:/o:debian:debian_linux:12.5:-:-:", osLinux, debian},
	{"SUSE Linux Enterprise Server 15 SP5", "cpe:/o:suse:linux_enterprise_server:15:sp5:-:", osLinux, suse},
	{"Oracle Enterprise Linux 8.9", "cpe:/o:oracle:linux:8.9:-:-:", osLinux, oel},
	{"Fedora Linux 40", "cpe:/o:fedoraproject:fedora:40:-:-:", osLinux, fedora},
	{"Linux 3.13", "", osLinux, nil},
	{"Cisco IOS 15.2(4)M11", "cpe:/o:cisco:ios:15.2\\(4\\)m11:-:-:", osDevice, nil},
	{"VMware ESXi 7.0.3 build-21930508", "cpe:/o:vmware:esxi:7.0.3:-:-:", osDevice, nil},
	{"HP LaserJet Printer", "", osDevice, nil},
	{"FortiOS 7.2.8", "cpe:/o:fortinet:fortios:7.2.8:-:-:", osDevice, nil},
}

var (
	hostRoles   = []string{"web", "app", "db", "dc", "file", "mail", "proxy", "build", "k8s-node", "vpn", "ws", "print", "jump", "log", "cache"}
	hostEnvs    = []string{"prod", "dev", "stg", "qa", "dr"}
	hostDomains = []string{"corp.example.com", "prod.example.net", "eu-west-1.compute.internal", "example.local", "dmz.example.org", "us-east-1.ec2.internal"}
)

// hostCount is how many hosts exist at an epoch: the initial ones plus
// about 0.5% more each day.
func (d *Dataset) hostCount(epoch int) int { return d.cfg.Hosts + max(epoch, 0)*d.hostsPerEpoch }

func (d *Dataset) hostID(k int) int64 {
	return hostIDBase + int64(k)*hostIDStride + int64(d.hash(kindHost, uint64(k), 0)%hostIDStride)
}

func (d *Dataset) hostIndex(id int64) (int, bool) {
	if id < hostIDBase {
		return 0, false
	}
	k := int((id - hostIDBase) / hostIDStride)
	return k, d.hostID(k) == id
}

func (d *Dataset) hostBirth(k int) int {
	if k < d.cfg.Hosts {
		return 0
	}
	return (k-d.cfg.Hosts)/d.hostsPerEpoch + 1
}

// HostIDs returns the ids of the hosts that exist at epoch, ascending. New
// hosts get higher ids than all earlier ones.
func (d *Dataset) HostIDs(epoch int) []int64 {
	n := d.hostCount(epoch)
	ids := make([]int64, n)
	for k := range n {
		ids[k] = d.hostID(k)
	}
	return ids
}

// hostProfile is what does not change about a host.
type hostProfile struct {
	k        int
	birth    int
	interval int   // days between scans
	phase    int   // scan epochs s satisfy (s+phase) % interval == 0
	offset   int64 // seconds into the day its scans start
	os       *osInfo
	osIdx    int
	auth     bool // authenticated scans
	nBase    int  // detections at its first scan
	pFix     float64
	pReopen  float64
	name     string // DNS host name, "" for hosts without DNS
	domain   string
}

func (d *Dataset) profile(k int) hostProfile {
	r := d.rng(kindHost, uint64(k), 1)
	p := hostProfile{k: k, birth: d.hostBirth(k), interval: 1}
	p.osIdx = r.intn(len(operatingSystems))
	p.os = &operatingSystems[p.osIdx]
	p.auth = r.chance(0.75)
	if !p.auth && p.os.class != osDevice || r.chance(0.3) {
		p.interval = 7
	}
	p.phase = r.intn(p.interval)
	if p.birth > 0 {
		p.phase = (p.interval - p.birth%p.interval) % p.interval // first scan on its first day
	}
	p.offset = int64(hour + r.intn(16*hour))
	p.nBase = max(1, int(math.Round(float64(d.cfg.DetectionsPerHost)*(0.2+1.6*r.float()))))
	p.pFix = 1 - math.Pow(1-fixRate, float64(p.interval))
	p.pReopen = 1 - math.Pow(1-reopenRate, float64(p.interval))
	if r.chance(0.9) {
		p.name = pick(&r, hostRoles) + "-" + pick(&r, hostEnvs) + "-" + string(num(nil, k%10000, 4))
		p.domain = pick(&r, hostDomains)
	}
	return p
}

// lastScan returns the host's last scan epoch at or before epoch.
func (p *hostProfile) lastScan(epoch int) int {
	m := (epoch + p.phase) % p.interval
	if m < 0 {
		m += p.interval
	}
	return epoch - m
}

// scanTime is when the scan of epoch s found or tested detections
// (LAST_VM_SCANNED_DATE); scan days are numbered so that scan s happens
// within Now(s-1)..Now(s).
func (d *Dataset) scanTime(p *hostProfile, s int) int64 {
	return d.now(s-1) + p.offset + int64(d.hash(kindScan, uint64(p.k), uint64(s))%(90*minute))
}

func (d *Dataset) scanDuration(p *hostProfile, s int) int64 {
	return 300 + int64(d.hash(kindScan, uint64(p.k), uint64(s)+1<<40)%3300)
}

// processed is when the scan of epoch s was processed
// (LAST_SCAN_DATETIME, LAST_PROCESSED_DATETIME).
func (d *Dataset) processed(p *hostProfile, s int) int64 {
	return d.scanTime(p, s) + d.scanDuration(p, s) + 20 + int64(d.hash(kindScan, uint64(p.k), uint64(s)+2<<40)%1800)
}

// HostsProcessedSince returns, ascending, the ids of the hosts whose last
// scan as of epoch was processed at or after t (what
// vm_processed_after / detection_processed_after select).
func (d *Dataset) HostsProcessedSince(t time.Time, epoch int) []int64 {
	ts := t.Unix()
	epoch = max(epoch, 0)
	var out []int64
	for k := range d.hostCount(epoch) {
		p := d.profile(k)
		if d.processed(&p, p.lastScan(epoch)) >= ts {
			out = append(out, d.hostID(k))
		}
	}
	return out
}

// Host returns the host with its detections as of epoch, or a zero Host
// when no host has that id then. Detections of every status are included
// (Fixed too, as with status=New,Active,Re-Opened,Fixed); each call for a
// later epoch continues the previous one: first-found times stay, statuses
// and counters move on.
func (d *Dataset) Host(id int64, epoch int) qualys.Host {
	epoch = max(epoch, 0)
	k, ok := d.hostIndex(id)
	if !ok || k >= d.hostCount(epoch) {
		return qualys.Host{}
	}
	p := d.profile(k)
	h := d.hostAttrs(&p, id, epoch)
	h.Detections = d.detections(&p, epoch)
	return h
}

func (d *Dataset) hostAttrs(p *hostProfile, id int64, epoch int) qualys.Host {
	r := d.rng(kindHost, uint64(p.k), 2)
	h := qualys.Host{ID: id, OS: p.os.name}
	if r.chance(0.8) {
		h.AssetID = 10000000 + int64(p.k)*3 + int64(r.intn(3))
	}
	// IPv4 addresses are unique: host k gets the (k mod 254)+1-th address
	// of a /24 picked by a bijection of k/254.
	subnet := (p.k/254*40503 + 7) % 65536
	ip := "10." + strconv.Itoa(subnet>>8) + "." + strconv.Itoa(subnet&255) + "." + strconv.Itoa(p.k%254+1)
	v6 := "2001:db8:" + strconv.FormatInt(int64(subnet), 16) + "::" + strconv.FormatInt(int64(p.k%254+1), 16)
	switch u := r.float(); {
	case u < 0.02:
		h.IPv6 = v6
	case u < 0.12:
		h.IP, h.IPv6 = ip, v6
	default:
		h.IP = ip
	}
	h.TrackingMethod = []string{"AGENT", "IP", "DNS", "EC2"}[r.weighted([]int{45, 40, 10, 5})]
	if !p.auth && h.TrackingMethod == "AGENT" {
		h.TrackingMethod = "IP"
	}
	if h.IP == "" {
		h.TrackingMethod = "IPV6"
	}
	if p.os.cpe != "" && r.chance(0.4) {
		h.OSCPE = p.os.cpe
	}
	if r.chance(0.04) {
		h.OS = "" // OS not identified (the real sample has such hosts)
	}
	if p.name != "" {
		h.DNS = p.name + "." + p.domain
		h.DNSHostname, h.DNSDomain, h.FQDN = p.name, p.domain, h.DNS
		if p.os.class == osWindows {
			h.NetBIOS = upper(p.name)
			if len(h.NetBIOS) > 15 {
				h.NetBIOS = h.NetBIOS[:15]
			}
		}
	}
	if h.TrackingMethod == "AGENT" {
		a, b := r.u64(), r.u64()
		h.QGHostID = strconv.FormatUint(a>>32|1<<31, 16) + "-" + strconv.FormatUint(a>>16&0xffff|0x1000, 16) + "-" +
			strconv.FormatUint(a&0xfff|0x4000, 16) + "-" + strconv.FormatUint(b>>48|0x8000, 16) + "-" +
			strconv.FormatUint(b&0xffffffffffff|1<<44, 16)
	}
	s := p.lastScan(epoch)
	h.LastScan = qualysTime(d.processed(p, s))
	h.LastVMScanned = qualysTime(d.scanTime(p, s))
	h.LastVMScannedDuration = int(d.scanDuration(p, s))
	if p.auth {
		h.LastVMAuthScanned = h.LastVMScanned
	}
	if r.chance(0.15) {
		h.LastPCScanned = qualysTime(d.now(epoch) - int64(r.intn(90*day)))
	}
	for range r.skewed(5, 1.5) {
		i := r.intn(len(tagNames))
		if !slices.ContainsFunc(h.Tags, func(t qualys.Tag) bool { return t.Name == tagNames[i] }) {
			h.Tags = append(h.Tags, qualys.Tag{ID: 7000001 + int64(i), Name: tagNames[i]})
		}
	}
	return h
}

// detState is a detection's history, in Unix seconds.
type detState struct {
	status                               string
	first, lastFound, lastFixed          int64
	firstReopened, lastReopened          int64
	timesFound, timesReopened, startScan int
	slot                                 int
	qidIdx, port                         int
	proto                                string
	ssl, ignored, disabled               bool
	resultsSeed                          uint64
}

// detections builds the host's detections as of epoch: the ones of its
// first scan, plus those new at each later scan, each evolved scan by scan.
func (d *Dataset) detections(p *hostProfile, epoch int) []qualys.Detection {
	first := p.lastScan(0)
	if p.birth > 0 {
		first = p.birth
	}
	last := p.lastScan(epoch)
	b := detBuilder{d: d, p: p, dets: make([]detState, 0, p.nBase+p.nBase/8+4)}
	for range p.nBase {
		b.add(first, p.birth == 0)
	}
	lambda := float64(p.nBase) * newRate * float64(p.interval)
	for s := first + p.interval; s <= last; s += p.interval {
		for i := range b.dets {
			d.step(p, &b.dets[i], s)
		}
		n := int(lambda + unit(d.hash(kindDetNew, uint64(p.k), uint64(s))))
		for range n {
			b.add(s, false)
		}
	}
	// Qualys lists detections by QID. QIDs ascend with their index, so the
	// small states are sorted, not the rendered detections.
	slices.SortFunc(b.dets, func(a, b detState) int {
		return cmp.Or(cmp.Compare(a.qidIdx, b.qidIdx), cmp.Compare(a.port, b.port), cmp.Compare(a.proto, b.proto))
	})
	lastScan := scanTimes{scan: d.scanTime(p, last)}
	lastScan.scanStr = qualysTime(lastScan.scan)
	lastScan.processedStr = qualysTime(d.processed(p, last))
	out := make([]qualys.Detection, 0, len(b.dets))
	var scratch []byte
	for i := range b.dets {
		var x qualys.Detection
		x, scratch = d.detection(p, &b.dets[i], &lastScan, epoch, scratch)
		out = append(out, x)
	}
	return out
}

// scanTimes are the host's last scan times, formatted once for all its
// detections.
type scanTimes struct {
	scan                  int64
	scanStr, processedStr string
}

func (l *scanTimes) format(t int64) string {
	if t == l.scan {
		return l.scanStr
	}
	return optQualysTime(t)
}

// detBuilder collects a host's detection states.
type detBuilder struct {
	d    *Dataset
	p    *hostProfile
	dets []detState
	used []int // QID indexes taken; a linear scan beats a map at this size
	slot int
}

// add draws the detection of the next slot, first seen at scan s. With
// base, its state is an arbitrary point of a history that ended at s (the
// data set's first epoch); otherwise it is New at s. A slot adds nothing
// when no unused QID was found, two detections when the check was found
// over both tcp and udp.
func (b *detBuilder) add(s int, base bool) {
	d, p, slot := b.d, b.p, b.slot
	b.slot += 2 // a slot's udp twin takes the next number
	r := d.rng(kindDetQID, uint64(p.k), uint64(slot))
	info := r.chance(0.05)
	idx := -1
	for range 8 {
		if i := d.pickQID(&r, p, info); !slices.Contains(b.used, i) {
			idx = i
			break
		}
	}
	if idx < 0 {
		return
	}
	b.used = append(b.used, idx)
	st := detState{slot: slot, qidIdx: idx, startScan: s, resultsSeed: r.u64()}
	st.port, st.proto, st.ssl = ports(&r, families[d.kb.fam[idx]].style, p.os.class)
	st.ignored = r.chance(0.01)
	st.disabled = r.chance(0.004)
	if base {
		d.history(p, &st, s)
	} else {
		t := d.scanTime(p, s)
		st.status, st.first, st.lastFound, st.timesFound = "New", t, t, 1
	}
	b.dets = append(b.dets, st)
	if st.proto == "tcp" && (st.port == 53 && r.chance(0.4) || r.chance(0.01)) {
		twin := st
		twin.slot, twin.proto, twin.ssl = slot+1, "udp", false
		b.dets = append(b.dets, twin)
	}
}

// history gives a detection of the first epoch a past: a status from the
// real-world mix (15% New, 60% Active, 5% Re-Opened, 20% Fixed) and times
// and counters that agree with it, its last scan being s.
func (d *Dataset) history(p *hostProfile, st *detState, s int) {
	r := d.rng(kindDetBase, uint64(p.k), uint64(st.slot))
	scans := max(3, d.cfg.HistoryDays/p.interval) // two years of scans at most, by default
	ago := func(n int) int64 { return d.scanTime(p, s-n*p.interval) }
	switch r.weighted([]int{15, 60, 5, 20}) {
	case 0:
		st.status, st.first, st.lastFound, st.timesFound = "New", ago(0), ago(0), 1
	case 1:
		a := 1 + r.skewed(scans, 2)
		st.status, st.first, st.lastFound, st.timesFound = "Active", ago(a), ago(0), a+1-r.intn(a/10+1)
		if a >= 3 && r.chance(0.15) {
			b := r.between(2, a-1)
			st.lastFixed = ago(b)
			st.firstReopened, st.lastReopened, st.timesReopened = ago(b-1), ago(b-1), 1
			st.timesFound--
		}
	case 2:
		a := 2 + r.skewed(scans, 2)
		st.status, st.first, st.lastFound, st.timesFound = "Re-Opened", ago(a), ago(0), a
		st.lastFixed = ago(1)
		st.firstReopened, st.lastReopened, st.timesReopened = ago(0), ago(0), 1
		if a > 3 && r.chance(0.2) {
			c := r.between(3, a-1)
			st.firstReopened, st.timesReopened = ago(c), 2+r.intn(2)
		}
	default:
		a := 1 + r.skewed(scans, 2)
		f := r.intn(a)
		st.status, st.first, st.lastFound, st.timesFound = "Fixed", ago(a), ago(f+1), a-f
		st.lastFixed = ago(f)
	}
}

// step moves a detection through the scan of epoch s.
func (d *Dataset) step(p *hostProfile, st *detState, s int) {
	if s <= st.startScan {
		return
	}
	u := unit(d.hash(kindDetStep, uint64(p.k)<<20|uint64(st.slot), uint64(s)))
	t := d.scanTime(p, s)
	switch st.status {
	case "Fixed":
		if u < p.pReopen {
			st.status, st.lastReopened, st.lastFound = "Re-Opened", t, t
			if st.firstReopened == 0 {
				st.firstReopened = t
			}
			st.timesReopened++
			st.timesFound++
		}
	default:
		if u < p.pFix {
			st.status, st.lastFixed = "Fixed", t
			return
		}
		st.status, st.lastFound = "Active", t
		st.timesFound++
	}
}

// detection renders a detection state as of the host's last scan; its
// QDS is as of epoch, as Qualys rescores detections between scans.
// scratch is a buffer the caller lends for the RESULTS text; the grown
// buffer is returned for the next call.
func (d *Dataset) detection(p *hostProfile, st *detState, last *scanTimes, epoch int, scratch []byte) (qualys.Detection, []byte) {
	h := d.head(st.qidIdx)
	x := qualys.Detection{
		UniqueVulnID:  int64(p.k+1)<<20 | int64(st.slot),
		QID:           h.qid,
		Severity:      h.severity,
		Port:          st.port,
		Protocol:      st.proto,
		SSL:           st.ssl,
		Status:        st.status,
		FirstFound:    last.format(st.first),
		LastFound:     last.format(st.lastFound),
		TimesFound:    st.timesFound,
		LastTest:      last.scanStr,
		LastUpdate:    last.processedStr,
		LastFixed:     last.format(st.lastFixed),
		FirstReopened: last.format(st.firstReopened),
		LastReopened:  last.format(st.lastReopened),
		TimesReopened: st.timesReopened,
		Ignored:       st.ignored,
		Disabled:      st.disabled,
		LastProcessed: last.processedStr,
	}
	switch h.vulnType {
	case "Information Gathered":
		x.Type = "Info"
	case "Potential Vulnerability":
		x.Type = "Potential"
	case "Vulnerability or Potential Vulnerability":
		x.Type = []string{"Confirmed", "Potential"}[st.resultsSeed&1]
	default:
		x.Type = "Confirmed"
	}
	if x.Type != "Info" {
		x.QDS, x.QDSSeverity, x.QDSFactors = d.qds(st.qidIdx, h.severity, epoch, st.resultsSeed>>8)
	}
	r := d.rng(kindResults, st.resultsSeed, 0)
	scratch = results(scratch[:0], &r, &h, p, st, last.scan)
	x.Results = string(scratch)
	return x, scratch
}

func qdsSeverity(q int) string {
	switch {
	case q >= 90:
		return "CRITICAL"
	case q >= 70:
		return "HIGH"
	case q >= 40:
		return "MEDIUM"
	}
	return "LOW"
}

// detWeights is how often detections come from QIDs of each style, by the
// host's OS: remote checks dominate, and local ones match the OS.
var detWeights = [3]map[style]float64{
	osWindows: {styleWeb: 14, styleTLS: 22, styleSMB: 6, styleDNS: 2, styleDB: 3, styleMail: 1, styleFTP: 1, styleSNMP: 1,
		styleTCP: 3, styleWAS: 2, styleWindows: 14, styleOffice: 4, stylePolicy: 4, styleLocal: 10},
	osLinux: {styleWeb: 16, styleTLS: 22, styleSMB: 2, styleDNS: 4, styleDB: 5, styleMail: 2, styleFTP: 1, styleSNMP: 1,
		styleTCP: 3, styleWAS: 2, stylePolicy: 1, styleLocal: 6, styleDistro: 22},
	osDevice: {styleWeb: 20, styleTLS: 30, styleSNMP: 10, styleCisco: 20, styleTCP: 5, styleVMware: 10, styleDNS: 2},
}

// pickQID draws the QID of a detection: a family by the host's weights,
// then a QID of it by popularity, the popularity order being a fixed
// shuffle of the family. Popularity follows Zipf's law, as vulnerability
// prevalence does (a few QIDs — TLS settings, SSH versions, the month's
// patches — are on most hosts), with a fifth of draws from the long tail.
func (d *Dataset) pickQID(r *rnd, p *hostProfile, info bool) int {
	cum := d.detFamilies[p.osIdx]
	if info {
		cum = d.igFamilies
	}
	fi := 0
	if total := cum[len(cum)-1]; total > 0 {
		// The first family whose cumulative weight exceeds x.
		x := r.float() * total
		fi, _ = slices.BinarySearchFunc(cum, x, func(c, x float64) int {
			if c <= x {
				return -1
			}
			return 1
		})
	}
	span := d.kb.spans[fi]
	n := span[1] - span[0]
	if n == 0 { // a tiny KB without the families wanted: any QID will do
		return r.intn(len(d.kb.qids))
	}
	var rank int
	if r.float() < 0.8 {
		rank = min(int(math.Pow(float64(n), r.float()))-1, n-1) // log-uniform: P(rank) ∝ 1/rank
	} else {
		rank = r.intn(n)
	}
	return span[0] + rank*1000003%n // 1000003 is prime and larger than any family
}

// familyWeights returns the cumulative weights of the families, for a
// binary search: weight(f) for families that hold QIDs, 0 for the others.
func (d *Dataset) familyWeights(weight func(*family) float64) []float64 {
	cum := make([]float64, len(families))
	var total float64
	for i := range families {
		if d.kb.spans[i][1] > d.kb.spans[i][0] {
			total += weight(&families[i])
		}
		cum[i] = total
	}
	return cum
}

// buildDetectionWeights prepares, for each operating system, how likely
// each family is to be detected on it; Info detections draw from the
// information-gathering families.
func (d *Dataset) buildDetectionWeights() {
	d.igFamilies = d.familyWeights(func(f *family) float64 {
		if f.style == styleIG {
			return f.weight
		}
		return 0
	})
	d.detFamilies = make([][]float64, len(operatingSystems))
	for i := range operatingSystems {
		os := &operatingSystems[i]
		w := detWeights[os.class]
		d.detFamilies[i] = d.familyWeights(func(f *family) float64 {
			if f.style == styleDistro && f.distro != os.distro {
				return 0
			}
			return w[f.style] * math.Sqrt(f.weight)
		})
	}
}
