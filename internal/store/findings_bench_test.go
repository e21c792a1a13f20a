package store

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"qvt/internal/gen"
	"qvt/internal/store/storetest"
)

// BenchmarkFindings reads the whole finding list (and a filtered one) of
// a generated store of about 50,000 detections on each engine: the same
// rows, the PostgreSQL store a copy of the SQLite one. It reports
// findings a second and the largest heap a read keeps live: the reader
// streams, so this is bounded by its KB cache (kbCacheBytes) and the
// batches in flight, not by the size of the store (QVT_BENCH_HOSTS makes
// the store larger).
func BenchmarkFindings(b *testing.B) {
	cfg := gen.Config{Seed: 1, QIDs: 5000, Hosts: 1250, DetectionsPerHost: 40, CVEs: 5000}
	if n := benchHostsEnv(); n > 0 {
		cfg.Hosts = n
	}
	lite := fillAt(b, filepath.Join(b.TempDir(), "qvt.db"), genWrites(gen.New(cfg), false, 0)...)
	pg := openAt(b, storetest.Postgres(b))
	fillFrom(b, lite, pg)
	if _, err := pg.pg.Exec(context.Background(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    Filter
	}{
		{"all", Filter{}},
		{"open-high", Filter{Open: true, MinRating: "High"}},
		{"tag", Filter{Tags: []string{"pci"}}},
	} {
		for _, e := range []struct {
			name string
			st   *Store
		}{{"sqlite", lite}, {"postgres", pg}} {
			b.Run(c.name+"/"+e.name, func(b *testing.B) {
				ctx := context.Background()
				rows := 0
				for b.Loop() {
					rows = 0
					err := e.st.Findings(ctx, c.f, func(*Row) error { rows++; return nil })
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				// One more read, untimed, for the heap it keeps live: the
				// heap after a collection, every 5,000 findings, above the
				// heap before the read.
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				base, peak, n := ms.HeapAlloc, uint64(0), 0
				err := e.st.Findings(ctx, c.f, func(*Row) error {
					if n++; n%5000 == 0 {
						runtime.GC()
						runtime.ReadMemStats(&ms)
						if ms.HeapAlloc > base {
							peak = max(peak, ms.HeapAlloc-base)
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(rows), "findings")
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "findings/s")
				b.ReportMetric(float64(peak)/(1<<20), "live-heap-MB")
			})
		}
	}
}
