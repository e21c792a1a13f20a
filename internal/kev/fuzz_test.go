package kev

import (
	"bytes"
	"testing"
	"testing/iotest"
)

// FuzzDecode checks that Decode never panics, that what it accepts holds
// only valid, distinct CVE ids and dates, and that the result does not
// depend on how the input is split into reads.
func FuzzDecode(f *testing.F) {
	f.Add(open(f, "known_exploited_vulnerabilities_first50.json")[:8<<10])
	csvData := open(f, "known_exploited_vulnerabilities_2025-08-25.csv.gz")
	f.Add(csvData[:4<<10])
	for _, s := range []string{
		``, `{}`, `[]`, `{"vulnerabilities":[]}`,
		`{"title":"t","catalogVersion":"v","vulnerabilities":[{"cveID":"CVE-2021-0001","dateAdded":"2021-11-03","dueDate":"2021-11-17","cwes":["CWE-1"]}]}`,
		"cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\nCVE-2021-0001,V,P,N,2021-11-03,D,A,2021-11-17,Unknown,,\"CWE-1, CWE-2\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxEntries: 10000})
		c2, err2 := Decode(iotest.OneByteReader(bytes.NewReader(data)), Limits{MaxBytes: 1 << 20, MaxEntries: 10000})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("whole: %v; one byte at a time: %v", err, err2)
		}
		if err != nil {
			return
		}
		if len(c.Entries) != len(c2.Entries) {
			t.Fatalf("%d entries, %d read byte by byte", len(c.Entries), len(c2.Entries))
		}
		seen := map[string]bool{}
		for _, e := range c.Entries {
			if !ValidCVE(e.CVE) || !validDate(e.DateAdded) || !validDate(e.DueDate) || seen[e.CVE] {
				t.Fatalf("accepted a bad entry %+v", e)
			}
			seen[e.CVE] = true
		}
	})
}
