package store

import (
	"context"
	"testing"
	"time"

	"qvt/internal/exceptions"
	"qvt/internal/owners"
	"qvt/internal/store/storetest"
)

// BenchmarkOwnersAndExceptions measures what ownership and exceptions
// add to the writes, per engine, on 1,000 hosts of 40 detections:
// Assign is what every import and sync adds per batch when owners are
// configured and nothing changed owner; Reassign is a change of rules
// that moves every finding; Apply is ApplyExceptions with 50 QID-wide
// exceptions in force and nothing to change, which every write runs.
//
//	go test ./internal/store/ -run '^$' -bench OwnersAndExceptions -benchtime 5x
func BenchmarkOwnersAndExceptions(b *testing.B) {
	hs, n := benchHosts(b, 1000)
	const seen = 1_793_000_000
	var hosts []owners.Host
	for _, h := range hs {
		hosts = append(hosts, OwnerHost(h.Host))
	}
	set := func(names ...string) owners.Set {
		s := owners.Set{{Name: names[0], CIDRs: []string{"10.0.0.0/9"}}, {Name: names[1], OS: []string{"*windows*"}},
			{Name: names[2], Hostnames: []string{"*.corp.example"}}, {Name: names[3], Default: true}}
		if err := s.Validate(); err != nil {
			b.Fatal(err)
		}
		return s
	}
	a, c := set("A", "B", "C", "D"), set("E", "F", "G", "H")
	perDet := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/float64(b.N), "ns/det")
	}
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := context.Background()
			st := openStore(b, be.New(b))
			if err := st.Write(ctx, func(tx *Tx) error {
				if err := tx.PutHosts(hs, seen); err != nil {
					return err
				}
				_, err := tx.AssignOwners(hosts, a, seen)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			b.Run("Assign", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if err := st.Write(ctx, func(tx *Tx) error { _, err := tx.AssignOwners(hosts, a, seen); return err }); err != nil {
						b.Fatal(err)
					}
				}
				perDet(b)
			})
			b.Run("Reassign", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rules := c
					if i%2 == 1 {
						rules = a
					}
					if err := st.Write(ctx, func(tx *Tx) error { _, err := tx.ReassignOwners(rules, seen); return err }); err != nil {
						b.Fatal(err)
					}
				}
				perDet(b)
			})
			now := time.Unix(seen, 0)
			if err := st.Write(ctx, func(tx *Tx) error {
				seenQIDs := map[int]bool{}
				for _, h := range hs {
					for _, d := range h.Host.Detections {
						if len(seenQIDs) < 50 && !seenQIDs[d.QID] {
							seenQIDs[d.QID] = true
							e := exceptions.Exception{Type: "false_positive", Scope: exceptions.Scope{QID: d.QID}, Reason: "bench", Approver: "bench",
								Start: "2026-01-01", State: exceptions.Active}
							if _, err := tx.AddException(&e, now); err != nil {
								return err
							}
						}
					}
				}
				_, err := tx.ApplyExceptions(now, nil)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			b.Run("Apply", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if err := st.Write(ctx, func(tx *Tx) error { _, err := tx.ApplyExceptions(now, nil); return err }); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/write")
			})
		})
	}
}
