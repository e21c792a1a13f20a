package load

import (
	"io"
	"path/filepath"
	"regexp"
	"time"

	"qvt/internal/epss"
	"qvt/internal/kev"
	"qvt/internal/store"
)

// KEV stores a KEV catalog (JSON or CSV) read from r: the QIDs whose CVEs
// it adds, edits or drops are queued for rescoring.
func (l *Loader) KEV(tx *store.Tx, r io.Reader, lim kev.Limits) (store.KEVResult, error) {
	c, err := kev.Decode(r, lim)
	if err != nil {
		return store.KEVResult{}, err
	}
	return l.PutKEV(tx, c)
}

// PutKEV stores a decoded catalog.
func (l *Loader) PutKEV(tx *store.Tx, c *kev.Catalog) (store.KEVResult, error) {
	sc := &store.KEVCatalog{Title: c.Title, Version: c.Version, Released: c.Released, Entries: make([]store.KEVEntry, len(c.Entries))}
	for i, e := range c.Entries {
		sc.Entries[i] = store.KEVEntry{CVE: e.CVE, VendorProject: e.VendorProject, Product: e.Product, Name: e.Name,
			DateAdded: e.DateAdded, Description: e.Description, RequiredAction: e.RequiredAction, DueDate: e.DueDate,
			Ransomware: e.Ransomware, Notes: e.Notes, CWEs: e.CWEs}
	}
	res, err := tx.PutKEV(sc, l.now().Unix())
	if err == nil {
		l.log().Debug("kev stored", "version", c.Version, "entries", res.Entries, "added", res.Added,
			"changed", res.Changed, "removed", res.Removed, "unchanged", res.Unchanged)
	}
	return res, err
}

// epssName is the date in the name of a daily EPSS file.
var epssName = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})`)

// EPSS stores an EPSS scores file read from r (name: for a file without
// a score_date line, its name's date, as in epss_scores-2026-12-01.csv.gz).
func (l *Loader) EPSS(tx *store.Tx, r io.Reader, name string, lim epss.Limits) (store.EPSSResult, error) {
	fallback := ""
	if m := epssName.FindString(filepath.Base(name)); m != "" {
		fallback = m
	}
	return l.PutEPSS(tx, func(header func(epss.Header) error, fn func(epss.Score) error) error {
		return epss.Decode(r, lim, header, fn)
	}, fallback)
}

// PutEPSS stores the scores a decoder streams (decode calls header, then
// fn per row); fallback dates a file whose header has no score date.
func (l *Loader) PutEPSS(tx *store.Tx, decode func(header func(epss.Header) error, fn func(epss.Score) error) error, fallback string) (store.EPSSResult, error) {
	res, err := tx.PutEPSS(func(header func(model, date string) error, row func(store.EPSSScore) error) error {
		seen := false
		h := func(h epss.Header) error {
			seen = true
			return header(h.ModelVersion, scoreDay(h.ScoreDate, fallback))
		}
		return decode(h, func(s epss.Score) error {
			if !seen {
				if err := h(epss.Header{}); err != nil {
					return err
				}
			}
			return row(store.EPSSScore{CVE: s.CVE, EPSS: s.EPSS, Percentile: s.Percentile})
		})
	}, l.now().Unix())
	if err == nil {
		l.log().Debug("epss stored", "scores", res.Scores, "changed", res.Changed, "removed", res.Removed, "qids", res.QIDs)
	}
	return res, err
}

// scoreDay is the UTC day of an EPSS score_date ("2025-03-20T00:00:00+0000"
// or "…Z"), else fallback.
func scoreDay(s, fallback string) string {
	if len(s) >= 10 {
		if _, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return s[:10]
		}
	}
	return fallback
}
