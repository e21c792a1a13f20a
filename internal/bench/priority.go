package bench

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"

	"qvt/internal/gen"
	"qvt/internal/store"
)

// Priority runs the prioritization benchmarks on the data set c sizes:
//
//   - the import of a day's whole EPSS file into a store that holds the
//     KB and NVD (every CVE's score is new: the QIDs of all of them are
//     rescored), then
//   - into a store that also holds the detections and the day before's
//     scores, the next day's file: each QID whose CVEs' scores moved is
//     rescored, and its findings re-prioritized without their detections
//     being fetched again.
//
// Each is the median of c.Runs whole qvt processes, with peak RSS.
func Priority(ctx context.Context, c Config) error {
	if c.Runs <= 0 {
		c.Runs = 3
	}
	dir := filepath.Join(c.Dir, "priority")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	d := gen.New(gen.Config{Seed: 1, QIDs: c.QIDs, Hosts: c.Hosts, DetectionsPerHost: c.Detections, CVEs: c.CVEs})
	c.printf("generating %d QIDs, %d CVEs, %d hosts × %d detections in %s\n", c.QIDs, c.CVEs, c.Hosts, c.Detections, dir)
	kb, hld, nvd, err := gen.WriteFiles(dir, d, false)
	if err != nil {
		return err
	}
	kevFile, day0, err := gen.WriteRiskFiles(dir, d)
	if err != nil {
		return err
	}
	day1 := filepath.Join(dir, d.EPSSFile(1))
	f, err := os.Create(day1)
	if err != nil {
		return err
	}
	err = gen.WriteEPSS(f, d, 1)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	rows, err := countLines(day1)
	if err != nil {
		return err
	}
	rows -= 2 // the comment and the header

	base := filepath.Join(dir, "base.db")
	work := filepath.Join(dir, "work.db")
	for _, p := range []string{base, work} {
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(p + s)
		}
	}
	if _, err := measure(ctx, c.Exe, "--db", base, "import", "-q", kb, nvd, kevFile); err != nil {
		return err
	}
	st, err := repeat(ctx, c.Runs, func() error { return copyFile(work, base) }, c.Exe, "--db", work, "import", "-q", day0)
	if err != nil {
		return err
	}
	c.printf("EPSS import (%d scores, all new, into a store with the KB and NVD): %s\n", rows, st)

	if _, err := measure(ctx, c.Exe, "--db", base, "import", "-q", hld, day0); err != nil {
		return err
	}
	findings, err := countFindings(ctx, base)
	if err != nil {
		return err
	}
	st, err = repeat(ctx, c.Runs, func() error { return copyFile(work, base) }, c.Exe, "--db", work, "import", "-q", day1)
	if err != nil {
		return err
	}
	c.printf("re-prioritizing %d findings after the next day's EPSS file (%d scores): %s\n", findings, rows, st)
	return nil
}

func countFindings(ctx context.Context, path string) (int, error) {
	n := 0
	err := onStore(ctx, path, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, "SELECT count(*) FROM detections WHERE type <> 'Info'").Scan(&n)
	})
	return n, err
}

func onStore(ctx context.Context, path string, fn func(*sql.DB) error) error {
	st, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st.DB())
}
