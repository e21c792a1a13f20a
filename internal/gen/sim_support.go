package gen

import (
	"time"
)

// What the local API double (internal/sim) needs beyond the record
// generators: the few fields its filters test, without generating whole
// records, and an NVD writer stamped with the double's own clock.

// VulnTimes returns the PUBLISHED_DATETIME and
// LAST_SERVICE_MODIFICATION_DATETIME of a KB entry as of epoch (what
// Vuln(qid, epoch) would say), without generating the entry; ok is false
// when the data set has no such QID.
func (d *Dataset) VulnTimes(qid, epoch int) (published, lastModified time.Time, ok bool) {
	idx, ok := d.qidIndex(qid)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	h := d.head(idx)
	return time.Unix(h.published, 0).UTC(), time.Unix(d.vulnLastMod(idx, max(epoch, 0)), 0).UTC(), true
}

// CVEIndex returns the index of a CVE id of the data set, or -1. The CVE
// may not be published yet at a given epoch: see CVEState.
func (d *Dataset) CVEIndex(id string) int {
	if len(id) >= 4 && id[:4] == "CVE-" {
		if i := d.cveIndexOf(id); i >= 0 {
			return i
		}
	}
	// CVEs published after epoch 0 take the latest year's numbers past its
	// block's space, two numbers each (see CVEID).
	y := &d.cves.years[len(d.cves.years)-1]
	if len(id) < 10 || id[:4] != "CVE-" || id[4:8] != string(num(nil, y.year, 4)) || id[8] != '-' || len(id) > 20 {
		return -1
	}
	n := 0
	for _, c := range id[9:] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	k := (n - y.space - 1) / 2
	if n <= y.space || k < 0 {
		return -1
	}
	if i := d.cves.n + k; d.CVEID(i) == id {
		return i
	}
	return -1
}

// CVEState returns what NVD's filters look at in record i as of epoch: its
// vulnStatus, published and lastModified times (millisecond precision, as
// Published/LastModified of CVE(i, epoch)). ok is false when the record does
// not exist then.
func (d *Dataset) CVEState(i, epoch int) (status string, published, lastModified time.Time, ok bool) {
	epoch = max(epoch, 0)
	if i < 0 || i >= d.CVECount(epoch) {
		return "", time.Time{}, time.Time{}, false
	}
	m := d.cveMeta(i)
	status, lastMod, ok := d.state(&m, epoch)
	if !ok {
		return "", time.Time{}, time.Time{}, false
	}
	return status, time.UnixMilli(m.published).UTC(), time.UnixMilli(lastMod).UTC(), true
}
