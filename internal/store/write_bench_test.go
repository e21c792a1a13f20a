package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"qvt/internal/gen"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
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
// floor of each engine on the same rows, per engine (sqlite, postgres).
// PutHosts is what a first import's writer does (hosts, tags, detections),
// then the indexes built at commit (SQLite), then the commit; Rescan is
// PutHosts of the same hosts found again a day later (every detection
// upserted against a stored one: the incremental sync's case); Bare
// inserts only the detection rows, SQLite with a plain INSERT into the
// table without its indexes, PostgreSQL with one COPY into it. Each
// reports its cost per detection (what an import of 200,000 detections
// spends on the writer's core is 200,000 times that) and detections
// written per second.
//
//	go test ./internal/store/ -run '^$' -bench BenchmarkWriteDetections -benchtime 5x
func BenchmarkWriteDetections(b *testing.B) {
	hs, n := benchHosts(b, 1000)
	const seen = 1_793_000_000
	perDet := func(b *testing.B, d time.Duration, unit string) {
		b.ReportMetric(float64(d.Nanoseconds())/float64(n)/float64(b.N), unit)
	}
	rate := func(b *testing.B, d time.Duration) {
		b.ReportMetric(float64(n)*float64(b.N)/d.Seconds(), "rows/s")
	}
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			b.Run("PutHosts", func(b *testing.B) {
				var write, index time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					st := openStore(b, be.New(b))
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
				commit := b.Elapsed() - write - index
				perDet(b, write, "write-ns/det")
				perDet(b, index, "index-ns/det")
				perDet(b, commit, "commit-ns/det")
				rate(b, b.Elapsed())
			})
			b.Run("Rescan", func(b *testing.B) {
				again := rescanned(hs)
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					st := openStore(b, be.New(b))
					if err := st.Write(context.Background(), func(tx *Tx) error { return tx.PutHosts(hs, seen) }); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if err := st.Write(context.Background(), func(tx *Tx) error { return tx.PutHosts(again, seen+86400) }); err != nil {
						b.Fatal(err)
					}
				}
				perDet(b, b.Elapsed(), "ns/det")
				rate(b, b.Elapsed())
			})
			b.Run("Bare", func(b *testing.B) {
				var write time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					st := openStore(b, be.New(b))
					b.StartTimer()
					err := st.Write(context.Background(), func(tx *Tx) error {
						if tx.pg != nil {
							t := time.Now()
							defer func() { write += time.Since(t) }()
							return bareCopy(tx, hs, seen)
						}
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
								row := bareRow(r, j, seen)
								bindRow(ins, &row, seen, 1)
								if err := ins.run(); err != nil {
									return fmt.Errorf("host %d qid %d port %d: %w", r.Host.ID, row.qid, row.port, err)
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
				rate(b, b.Elapsed())
			})
		})
	}
}

// bareRow is detection j of r as Bare writes it.
func bareRow(r HostRecord, j int, seen int64) detRow {
	d := &r.Host.Detections[j]
	return detRow{hostID: r.Host.ID, qid: int64(d.QID), port: int64(d.Port),
		protocol: d.Protocol, typ: d.Type, severity: int64(d.Severity), status: d.Status,
		firstFound: seen - 86400, lastFound: seen, timesFound: int64(d.TimesFound),
		results: d.Results, extra: r.Derived[j].Extra,
		vulnScore: r.Derived[j].VulnScore, breachDate: r.Derived[j].BreachDate,
		priority: r.Derived[j].Priority, priorityReason: r.Derived[j].PriorityReason, dueDate: r.Derived[j].DueDate,
		urgency: r.Derived[j].Urgency}
}

// bareCopy is PostgreSQL's floor: the rows copied straight into the
// detections table (which keeps its indexes), first of a key only.
func bareCopy(tx *Tx, hs []HostRecord, seen int64) error {
	var rows []detRow
	for _, r := range hs {
		for j := range r.Host.Detections {
			if j > 0 && r.Host.Detections[j-1].QID == r.Host.Detections[j].QID && r.Host.Detections[j-1].Port == r.Host.Detections[j].Port {
				continue
			}
			rows = append(rows, bareRow(r, j, seen))
		}
	}
	cols := strings.Split(strings.Join(strings.Fields(detInsertCols), ""), ",")
	_, err := tx.pg.CopyFrom(tx.ctx, pgx.Identifier{"detections"}, cols, pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		return rows[i].copyValues(nil, seen, 1), nil
	}))
	return err
}

// rescanned is hs found again a day later: every detection's last found
// and count move (the narrow update on SQLite), and one in ten changes
// status (the full upsert, with history).
func rescanned(hs []HostRecord) []HostRecord {
	out := make([]HostRecord, len(hs))
	for i, r := range hs {
		h := *r.Host
		h.LastVMScanned = "2026-10-27T00:00:00Z"
		h.Detections = slices.Clone(h.Detections)
		for j := range h.Detections {
			d := &h.Detections[j]
			d.LastFound, d.TimesFound = "2026-10-27T00:00:00Z", d.TimesFound+1
			if j%10 == 0 {
				d.Status = "Active"
				if d.Status == r.Host.Detections[j].Status {
					d.Status = "Re-Opened"
				}
			}
		}
		out[i] = HostRecord{Host: &h, Policy: r.Policy, Derived: r.Derived}
	}
	return out
}
