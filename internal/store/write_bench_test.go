package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/qualys"
)

// benchHosts is a generated host detection list as the import's decoder
// side hands it to the writer: detections sorted, extra column encoded.
func benchHosts(b *testing.B, hosts int) ([]HostRecord, int) {
	b.Helper()
	d := gen.New(gen.Config{Seed: 1, QIDs: 5000, Hosts: hosts, DetectionsPerHost: 40})
	var hs []HostRecord
	n := 0
	for _, id := range d.HostIDs(0) {
		h := d.Host(id, 0)
		slices.SortStableFunc(h.Detections, func(x, y qualys.Detection) int {
			if x.QID != y.QID {
				return x.QID - y.QID
			}
			if x.Port != y.Port {
				return x.Port - y.Port
			}
			return strings.Compare(y.LastFound, x.LastFound)
		})
		rec := HostRecord{Host: &h, Derived: make([]Derived, len(h.Detections))}
		for i := range h.Detections {
			rec.Derived[i] = Derived{VulnScore: "High", BreachDate: "2026-12-01", Extra: DetectionExtra(&h.Detections[i])}
		}
		n += len(h.Detections)
		hs = append(hs, rec)
	}
	return hs, n
}

// BenchmarkWriteDetections sets the detection import's writer against the
// floor of the SQLite engine on the same rows. PutHosts is what a first
// import's writer does (hosts, tags, detections), then the indexes built
// at commit, then the commit; Bare inserts only the detection rows, with
// a plain INSERT into the table without its indexes. Each reports its
// cost per detection: what an import of 200,000 detections spends on the
// writer's core is 200,000 times that.
func BenchmarkWriteDetections(b *testing.B) {
	hs, n := benchHosts(b, 1000)
	const seen = 1_793_000_000
	perDet := func(b *testing.B, d time.Duration, unit string) {
		b.ReportMetric(float64(d.Nanoseconds())/float64(n)/float64(b.N), unit)
	}
	b.Run("PutHosts", func(b *testing.B) {
		var write, index, commit time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			st := tempStore(b)
			b.StartTimer()
			err := st.Write(context.Background(), func(tx *Tx) error {
				t := time.Now()
				if err := tx.PutHosts(hs, seen); err != nil {
					return err
				}
				write += time.Since(t)
				t = time.Now()
				err := tx.buildDeferred()
				index += time.Since(t)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		commit = b.Elapsed() - write - index
		perDet(b, write, "write-ns/det")
		perDet(b, index, "index-ns/det")
		perDet(b, commit, "commit-ns/det")
	})
	b.Run("Bare", func(b *testing.B) {
		var write time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			st := tempStore(b)
			b.StartTimer()
			err := st.Write(context.Background(), func(tx *Tx) error {
				if _, err := tx.dropDetectionIndexes(); err != nil {
					return err
				}
				t := time.Now()
				defer func() { write += time.Since(t) }()
				ins, err := tx.bind(insertDetection)
				if err != nil {
					return err
				}
				for _, r := range hs {
					for j := range r.Host.Detections {
						d := &r.Host.Detections[j]
						row := detRow{hostID: r.Host.ID, qid: int64(d.QID), port: int64(d.Port),
							protocol: d.Protocol, typ: d.Type, severity: int64(d.Severity), status: d.Status,
							firstFound: seen - 86400, lastFound: seen, timesFound: int64(d.TimesFound),
							results: d.Results, extra: r.Derived[j].Extra,
							vulnScore: r.Derived[j].VulnScore, breachDate: r.Derived[j].BreachDate}
						bindRow(ins, &row, seen, 1)
						if err := ins.run(); err != nil {
							return fmt.Errorf("host %d qid %d port %d: %w", r.Host.ID, d.QID, d.Port, err)
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		perDet(b, write, "write-ns/det")
		perDet(b, b.Elapsed()-write, "commit-ns/det")
	})
}
