package epss

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecode checks that Decode never panics and passes on only rows it
// validated, plain or compressed.
func FuzzDecode(f *testing.F) {
	sample, err := os.ReadFile("testdata/sample.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add(gz(f, sample))
	f.Add(rows(20))
	f.Add([]byte("cve,epss,percentile\nCVE-2021-0001,1e-4,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Decode(bytes.NewReader(data), Limits{MaxBytes: 1 << 20, MaxRows: 10000}, nil, func(s Score) error {
			if !validCVE([]byte(s.CVE)) || !(s.EPSS >= 0 && s.EPSS <= 1) || !(s.Percentile >= 0 && s.Percentile <= 1) {
				t.Fatalf("passed a bad row %+v", s)
			}
			return nil
		})
	})
}
