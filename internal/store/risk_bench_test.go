package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPutEPSS stores a day's EPSS file of 250,000 scores into a
// store that holds the day before's, every score moved: the store's part
// of an EPSS import (the decoder's is internal/epss's benchmark).
//
//	go test ./internal/store/ -run '^$' -bench PutEPSS -benchtime 3x
func BenchmarkPutEPSS(b *testing.B) {
	const n = 250_000
	ctx := context.Background()
	st := openAt(b, filepath.Join(b.TempDir(), "epss.db"))
	day := func(d int) func(header func(string, string) error, row func(EPSSScore) error) error {
		return func(header func(string, string) error, row func(EPSSScore) error) error {
			if err := header("v2025.03.14", fmt.Sprintf("2025-03-%02d", d)); err != nil {
				return err
			}
			for i := range n {
				s := float64((i*7919+d*31)%100000) / 100000
				if err := row(EPSSScore{CVE: fmt.Sprintf("CVE-%d-%05d", 2000+i/90000, i%90000), EPSS: s, Percentile: s}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	put := func(d int) {
		if err := st.Write(ctx, func(tx *Tx) error {
			_, err := tx.PutEPSS(day(d), 1_700_000_000)
			if err != nil {
				return err
			}
			return tx.ClearQueue()
		}); err != nil {
			b.Fatal(err)
		}
	}
	put(1)
	b.ResetTimer()
	for i := range b.N {
		put(2 + i)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/score")
}
