// Package publishtest gives the publishers' tests a store whose findings
// carry exploitation evidence and priorities: it stores a KEV catalog and
// EPSS scores through the store's own calls and rescores every QID with
// rules written out here, the contract's defaults (docs/priority.md) in
// their plainest form. The tests then check what each target shows of
// the fields, independently of how the priority package computes them.
package publishtest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/load"
	"qvt/internal/priority"
	"qvt/internal/store"
)

// KEV is a catalog entry for cve, added on added (YYYY-MM-DD), due 21
// days later, with ransomware use "Known" when ransomware.
func KEV(cve, added string, ransomware bool) store.KEVEntry {
	e := store.KEVEntry{CVE: cve, VendorProject: "Acme", Product: "Widget", Name: "Acme Widget flaw",
		DateAdded: added, DueDate: addDays(added, 21), Ransomware: "Unknown", CWEs: []string{"CWE-78"}}
	if ransomware {
		e.Ransomware = "Known"
	}
	return e
}

// Prioritize replaces the store's KEV catalog with kev and its EPSS
// scores with epss (the changes dated at, Unix seconds; each call must
// pass a later at), then reassesses and rerates every QID:
//
//   - P1 "known exploited" for a KEV finding, due 14 days after the later
//     of its first found date and the catalog's dateAdded (or at its
//     breach date when that is earlier);
//   - P2 "likely exploited" for EPSS ≥ 0.1 or QDS ≥ 90;
//   - P3 "severe" for a High or Critical rating;
//   - P4 "other" for the rest.
//
// P2 to P4 are due at the breach date. A change of priority enters the
// history with the cause "added to KEV <date>", "left KEV" or "rules".
func Prioritize(t testing.TB, st *store.Store, at int64, kev []store.KEVEntry, epss []store.EPSSScore) {
	t.Helper()
	l := &load.Loader{Policy: assess.DefaultPolicy()}
	day := time.Unix(at, 0).UTC().Format(time.DateOnly)
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.PutKEV(&store.KEVCatalog{Title: "test", Version: strconv.FormatInt(at, 10), Entries: kev}, at); err != nil {
			return fmt.Errorf("put kev: %w", err)
		}
		file := func(header func(model, date string) error, row func(store.EPSSScore) error) error {
			if err := header("v2025.03.14", day); err != nil {
				return err
			}
			for _, s := range epss {
				if err := row(s); err != nil {
					return err
				}
			}
			return nil
		}
		if _, err := tx.PutEPSS(file, at); err != nil {
			return fmt.Errorf("put epss: %w", err)
		}
		if err := tx.QueueAll(); err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		if err := tx.Reassess(Assess); err != nil {
			return fmt.Errorf("reassess: %w", err)
		}
		// Scored again as the loader does before it rerates (a test of
		// one policy): the same statements in the same order on the
		// store's connection.
		err := tx.ScoreInputs(func(in *assess.QIDInput) error {
			s := assess.ScoreQID(*in, l.Policy, nil)
			return tx.PutScore(0, &s, in.Severity, in.Published)
		})
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		rate := func(in store.RateInput) store.Derived {
			d := l.Derive(in)
			r := Rate(in, d.VulnScore, d.BreachDate)
			d.Priority, d.PriorityReason, d.DueDate = r.Priority, r.Reason, r.DueDate
			d.Cause = "rules"
			var risk priority.Risk
			if in.Score.Risk != nil {
				risk = *in.Score.Risk
			}
			switch {
			case risk.KEV && in.OldPriority != "P1":
				d.Cause = "added to KEV " + risk.KEVDateAdded
			case !risk.KEV && in.OldPriority == "P1":
				d.Cause = "left KEV"
			}
			return d
		}
		if err := tx.Rerate(rate, at, false); err != nil {
			return fmt.Errorf("rerate: %w", err)
		}
		return tx.ClearQueue()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Assess is what the QID's CVEs say: KEV from any of them (the earliest
// dates), the highest EPSS score (ties to the first listed).
func Assess(qid int, cves []priority.CVEFacts, threatIntel []string) priority.Risk {
	r := priority.Risk{KEVCVEs: []string{}, ThreatIntel: threatIntel}
	for _, c := range cves {
		if c.InKEV {
			r.KEV = true
			r.KEVCVEs = append(r.KEVCVEs, c.CVE)
			if r.KEVDateAdded == "" || c.KEVDateAdded < r.KEVDateAdded {
				r.KEVDateAdded = c.KEVDateAdded
			}
			if r.KEVDueDate == "" || c.KEVDueDate < r.KEVDueDate {
				r.KEVDueDate = c.KEVDueDate
			}
			r.KEVRansomware = r.KEVRansomware || c.Ransomware
		}
		if c.EPSS != nil && (r.EPSS == nil || *c.EPSS > *r.EPSS) {
			r.EPSS, r.Percentile, r.EPSSCVE = c.EPSS, c.Percentile, c.CVE
		}
	}
	return r
}

// Rate is the priority of a detection of rating and breach date.
func Rate(in store.RateInput, rating, breach string) priority.Result {
	var risk priority.Risk
	if in.Score.Risk != nil {
		risk = *in.Score.Risk
	}
	first := ""
	if in.FirstFound > 0 {
		first = time.Unix(in.FirstFound, 0).UTC().Format(time.DateOnly)
	}
	switch {
	case risk.KEV:
		start := max(first, risk.KEVDateAdded)
		due := addDays(start, 14)
		if breach != "" && breach < due {
			due = breach
		}
		return priority.Result{Priority: "P1", Reason: "known exploited", DueDate: due}
	case risk.EPSS != nil && *risk.EPSS >= 0.1, in.QDS >= 90:
		return priority.Result{Priority: "P2", Reason: "likely exploited", DueDate: breach}
	case rating == "High" || rating == "Critical":
		return priority.Result{Priority: "P3", Reason: "severe", DueDate: breach}
	}
	return priority.Result{Priority: "P4", Reason: "other", DueDate: breach}
}

func addDays(day string, n int) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return ""
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}
