package gen

import (
	"bytes"
	"testing"
	"time"

	"qvt/internal/nvd"
)

func TestSimSupport(t *testing.T) {
	d := New(Config{Seed: 5, QIDs: 500, Hosts: 10, CVEs: 4000})
	const epoch = 9
	for _, q := range d.QIDs() {
		v := d.Vuln(q, epoch)
		pub, mod, ok := d.VulnTimes(q, epoch)
		if !ok || qualysTime(pub.Unix()) != v.Published || qualysTime(mod.Unix()) != v.LastModified {
			t.Fatalf("VulnTimes(%d) = %s %s %v, Vuln says %s %s", q, pub, mod, ok, v.Published, v.LastModified)
		}
	}
	if _, _, ok := d.VulnTimes(1, epoch); ok {
		t.Error("VulnTimes of an unknown QID")
	}
	n := d.CVECount(epoch)
	for i := range n + 3 {
		c := d.CVE(i, epoch)
		status, pub, mod, ok := d.CVEState(i, epoch)
		if ok != (i < n) || ok && (status != c.Status || nvdTime(pub.UnixMilli()) != c.Published || nvdTime(mod.UnixMilli()) != c.LastModified) {
			t.Fatalf("CVEState(%d) = %s %s %s %v, CVE says %+v", i, status, pub, mod, ok, c)
		}
		if got := d.CVEIndex(d.CVEID(i)); got != i {
			t.Fatalf("CVEIndex(%s) = %d, want %d", d.CVEID(i), got, i)
		}
	}
	for _, id := range []string{"", "CVE-", "CVE-1998-0001", "CVE-2026-x", "CVE-2026-99999999", "XYZ-2021-0001"} {
		if i := d.CVEIndex(id); i >= 0 && d.CVEID(i) != id {
			t.Errorf("CVEIndex(%q) = %d", id, i)
		}
	}

	// WriteNVDIndexesAt is WriteNVDIndexes with another timestamp.
	idx := []int{0, 7, n - 1, n + 5}
	var a, b bytes.Buffer
	if err := WriteNVDIndexes(&a, d, idx, epoch, 3, 99); err != nil {
		t.Fatal(err)
	}
	ts := d.Now(epoch).Add(90*time.Minute + 123*time.Millisecond)
	if err := WriteNVDIndexesAt(&b, d, idx, epoch, 3, 99, ts); err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(a.Bytes(), []byte(nvdTime(d.now(epoch)*1000)), []byte(nvdTime(ts.UnixMilli())), 1)
	if !bytes.Equal(b.Bytes(), want) {
		t.Error("WriteNVDIndexesAt differs from WriteNVDIndexes beyond the timestamp")
	}
	info, err := nvd.Decode(&b, nil)
	if err != nil || info.Timestamp != "2026-11-10T01:30:00.123" || info.ResultsPerPage != 3 {
		t.Errorf("decoded %+v, %v", info, err)
	}
}
