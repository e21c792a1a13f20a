package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"qvt/internal/assess"
	"qvt/internal/load"
	"qvt/internal/priority"
	"qvt/internal/store"
)

// The fixture's exploitation evidence: a KEV catalog of some of its CVEs
// (one with ransomware use), EPSS scores for every CVE, and the
// priorities they give, stored the way a sync stores them (PutKEV,
// PutEPSS, then Reassess and Rerate of every QID). It is done twice, a
// day apart: the second catalog adds CVEs, so some findings move to P1
// and their history records why.

// fixtureCVEs lists the CVEs the fixture's KB names, ascending.
func fixtureCVEs(ctx context.Context, st *store.Store) ([]string, error) {
	rows, err := st.DB().QueryContext(ctx, "SELECT DISTINCT cve_id FROM kb_cves ORDER BY cve_id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// hashOf is a stable number of a string, for scores that look spread.
func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// fixtureKEV is the catalog of a step: every 25th CVE (the first step),
// and every 12th too (the second); CVE-2024-3094 (the hostile KB entry's)
// with ransomware use.
func fixtureKEV(cves []string, step int, day time.Time) *store.KEVCatalog {
	c := &store.KEVCatalog{Title: "CISA Catalog of Known Exploited Vulnerabilities", Version: fmt.Sprintf("2026.01.%02d", step+1),
		Released: day.Format(time.RFC3339)}
	added := day.AddDate(0, 0, -30*(3-step)).Format(time.DateOnly)
	for i, cve := range cves {
		if i%25 != 0 && (step == 0 || i%12 != 0) && cve != "CVE-2024-3094" {
			continue
		}
		e := store.KEVEntry{CVE: cve, VendorProject: "Vendor", Product: "Product", Name: "Flaw in " + cve, DateAdded: added,
			DueDate: day.AddDate(0, 0, 21).Format(time.DateOnly), Ransomware: "Unknown", CWEs: []string{"CWE-79"}}
		if cve == "CVE-2024-3094" {
			e.Ransomware = "Known"
		}
		c.Entries = append(c.Entries, e)
	}
	return c
}

// fixtureEPSS scores every CVE: most low, a tenth at 0.1 or more.
func fixtureEPSS(cves []string) []store.EPSSScore {
	var out []store.EPSSScore
	for _, cve := range cves {
		h := hashOf(cve)
		e := float64(h%1000) / 100000 // 0 to 0.00999
		if h%10 == 0 {
			e = 0.1 + float64(h%800)/1000
		}
		out = append(out, store.EPSSScore{CVE: cve, EPSS: e, Percentile: min(1, 0.5+e/2)})
	}
	return out
}

// prioritizeFixture stores the evidence of both steps and the priorities
// it gives, as a sync would (at: the steps' days). With undated, a third
// of the P3 and P4 findings then lose their due date, as findings rated
// None (no deadline) have none: the priority order puts them after the
// dated ones of their urgency, which the generator's ratings alone would
// not exercise.
func prioritizeFixture(ctx context.Context, st *store.Store, days []time.Time, undated bool) error {
	cves, err := fixtureCVEs(ctx, st)
	if err != nil {
		return err
	}
	l := &load.Loader{Policy: assess.DefaultPolicy()}
	for step, day := range days {
		err := st.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.PutKEV(fixtureKEV(cves, step, day), day.Unix()); err != nil {
				return err
			}
			scores := fixtureEPSS(cves)
			feed := func(header func(model, date string) error, row func(store.EPSSScore) error) error {
				if err := header("v2025.03.14", day.Format(time.DateOnly)); err != nil {
					return err
				}
				for _, sc := range scores {
					if err := row(sc); err != nil {
						return err
					}
				}
				return nil
			}
			if _, err := tx.PutEPSS(feed, day.Unix()); err != nil {
				return err
			}
			if err := tx.QueueAll(); err != nil {
				return err
			}
			if err := tx.Reassess(func(qid int, cves []priority.CVEFacts, ti []string) priority.Risk {
				// The KB of the generator has no threat intelligence; the
				// hostile entry and a few QIDs get some.
				if qid == xssQID || qid%50 == 0 {
					ti = slices.Concat(ti, []string{"Exploit_Public", "Active_Attacks"})
				}
				return priority.QIDRisk(cves, ti)
			}); err != nil {
				return err
			}
			// The loader's rating, deadline and priority (priority.Default()).
			if err := tx.Rerate(l.Derive, day.Unix(), false); err != nil {
				return err
			}
			return tx.ClearQueue()
		})
		if err != nil {
			return fmt.Errorf("fixture: priorities of step %d: %w", step, err)
		}
	}
	if undated {
		// Outside a write: no history records it.
		if _, err := st.DB().ExecContext(ctx, "UPDATE detections SET due_date = '' WHERE priority IN ('P3', 'P4') AND (host_id + qid) % 3 = 0"); err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
	}
	return nil
}
