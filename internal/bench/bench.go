// Package bench measures qvt's end-to-end performance the way a user
// experiences it: it generates realistic inputs, runs qvt commands as
// separate processes and reports each run's wall time and peak memory
// (the operating system's accounting of the finished process), with the
// median of several runs. For the detection import it also runs the old
// tool's way of reading the same file (Python's xmltodict, the whole
// document in memory) in the same run, so the speed-up is a ratio measured
// on one machine at one time.
package bench

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"qvt/internal/gen"
)

//go:embed xmltodict_baseline.py
var baselineScript []byte

// Config sizes a benchmark run.
type Config struct {
	Dir        string // where inputs and stores go; created if needed
	Hosts      int
	Detections int // per host
	QIDs       int
	CVEs       int
	Runs       int
	Baseline   bool // run the xmltodict baseline too
	Scale      int  // for the memory check: also import an input this many times larger (0: skip)
	Exports    int  // findings to export for the export benchmark (0: skip)
	Out        io.Writer
	Exe        string // the qvt executable to run
}

// Run is one measured process run.
type Run struct {
	Wall   time.Duration
	MaxRSS int64 // bytes
	User   time.Duration
}

// Stat is the summary of several runs.
type Stat struct {
	Runs             []Run
	Median, Min, Max time.Duration
	MaxRSS           int64
}

func summarize(runs []Run) Stat {
	s := Stat{Runs: runs}
	ws := make([]time.Duration, len(runs))
	for i, r := range runs {
		ws[i] = r.Wall
		s.MaxRSS = max(s.MaxRSS, r.MaxRSS)
	}
	slices.Sort(ws)
	s.Min, s.Max, s.Median = ws[0], ws[len(ws)-1], ws[len(ws)/2]
	return s
}

func (s Stat) String() string {
	return fmt.Sprintf("median %.2fs (min %.2fs, max %.2fs), peak RSS %.0f MB",
		s.Median.Seconds(), s.Min.Seconds(), s.Max.Seconds(), float64(s.MaxRSS)/(1<<20))
}

// measure runs a command once and reads its resource usage.
func measure(ctx context.Context, name string, args ...string) (Run, error) {
	return runCmd(exec.CommandContext(ctx, name, args...), nil)
}

// runCmd runs a prepared command and reads its resource usage: the wall
// time from its start to its exit, and the operating system's accounting
// of its peak memory and CPU. While it runs, during (when not nil) runs
// beside it, told by exited when the command has ended; its error counts
// as the command's. The command's error carries its stderr unless the
// caller took stderr.
//
// Linux counts into a child's peak RSS the parent's RSS at the fork:
// whoever calls this must be small then (see Scale).
func runCmd(cmd *exec.Cmd, during func(exited <-chan struct{}) error) (Run, error) {
	var stderr strings.Builder
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	// An interrupted benchmark interrupts the command rather than kill
	// it: qvt then cancels its queries, which on PostgreSQL would run on
	// in the server, holding locks, after a killed client.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	exited := make(chan struct{})
	derrc := make(chan error, 1)
	if during != nil {
		go func() { derrc <- during(exited) }()
	} else {
		derrc <- nil
	}
	err := cmd.Wait()
	wall := time.Since(start)
	close(exited)
	derr := <-derrc
	if err != nil {
		return Run{}, fmt.Errorf("%s %s: %w\n%s", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	if derr != nil {
		return Run{}, derr
	}
	r := Run{Wall: wall}
	r.MaxRSS, r.User, _ = usage(cmd.ProcessState)
	return r, nil
}

// repeat measures runs of a command, calling prepare before each.
func repeat(ctx context.Context, n int, prepare func() error, name string, args ...string) (Stat, error) {
	var runs []Run
	for range n {
		if prepare != nil {
			if err := prepare(); err != nil {
				return Stat{}, err
			}
		}
		// Flush what the set-up wrote (generated inputs, copied stores):
		// its writeback would otherwise run during the measured run and
		// take its CPU and disk.
		syncDisks()
		r, err := measure(ctx, name, args...)
		if err != nil {
			return Stat{}, err
		}
		runs = append(runs, r)
	}
	return summarize(runs), nil
}

func copyFile(dst, src string) error {
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(dst + suffix)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (c *Config) printf(format string, args ...any) {
	fmt.Fprintf(c.Out, format, args...)
}

// Import runs the import benchmarks: KB, NVD and detection imports, the
// xmltodict baseline, the memory growth check and the export.
func Import(ctx context.Context, c Config) error {
	if c.Runs <= 0 {
		c.Runs = 3
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	d := gen.New(gen.Config{Seed: 1, QIDs: c.QIDs, Hosts: c.Hosts, DetectionsPerHost: c.Detections, CVEs: c.CVEs})
	c.printf("generating %d QIDs, %d CVEs, %d hosts × %d detections in %s\n", c.QIDs, c.CVEs, c.Hosts, c.Detections, c.Dir)
	kb, hld, nvd, err := gen.WriteFiles(c.Dir, d, false)
	if err != nil {
		return err
	}
	for _, p := range []string{kb, nvd, hld} {
		if fi, err := os.Stat(p); err == nil {
			c.printf("  %s: %.0f MB\n", filepath.Base(p), float64(fi.Size())/(1<<20))
		}
	}
	base := filepath.Join(c.Dir, "base.db")
	work := filepath.Join(c.Dir, "work.db")
	fresh := func() error {
		for _, p := range []string{work, work + "-wal", work + "-shm"} {
			os.Remove(p)
		}
		return nil
	}
	st, err := repeat(ctx, c.Runs, fresh, c.Exe, "--db", work, "import", "-q", kb)
	if err != nil {
		return err
	}
	c.printf("KB import (%d QIDs, details=All): %s\n", c.QIDs, st)
	// The NVD benchmark imports into a store that holds the KB, so QIDs
	// are rescored as their CVEs arrive, as in real use.
	if err := fresh(); err != nil {
		return err
	}
	if _, err := measure(ctx, c.Exe, "--db", work, "import", "-q", kb); err != nil {
		return err
	}
	if err := copyFile(base, work); err != nil {
		return err
	}
	st, err = repeat(ctx, c.Runs, func() error { return copyFile(work, base) }, c.Exe, "--db", work, "import", "-q", nvd)
	if err != nil {
		return err
	}
	c.printf("NVD import (%d CVE records, into a store with the KB): %s\n", c.CVEs, st)
	if err := copyFile(base, work); err != nil {
		return err
	}
	if _, err := measure(ctx, c.Exe, "--db", work, "import", "-q", nvd); err != nil {
		return err
	}
	if err := copyFile(base, work); err != nil {
		return err
	}
	hostsStat, err := repeat(ctx, c.Runs, func() error { return copyFile(work, base) }, c.Exe, "--db", work, "import", "-q", hld)
	if err != nil {
		return err
	}
	c.printf("detection import (%d detections, into a store with the KB and NVD): %s\n", c.Hosts*c.Detections, hostsStat)
	if c.Baseline {
		if err := baseline(ctx, &c, hld, hostsStat); err != nil {
			c.printf("xmltodict baseline: not run: %v\n", err)
		}
	}
	if c.Scale > 1 {
		if err := memoryGrowth(ctx, &c, base, hostsStat); err != nil {
			return err
		}
	}
	if c.Exports > 0 {
		return exportBench(ctx, &c)
	}
	return nil
}

// baseline runs the old tool's method on the same file and prints the
// ratio of medians.
func baseline(ctx context.Context, c *Config, hld string, ours Stat) error {
	py, err := exec.LookPath("python3")
	if err != nil {
		return err
	}
	// Debian's python3-xmltodict lives with the system interpreter.
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		py = "/usr/bin/python3"
	}
	script := filepath.Join(c.Dir, "xmltodict_baseline.py")
	if err := os.WriteFile(script, baselineScript, 0o700); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, py, "-c", "import xmltodict").CombinedOutput(); err != nil {
		return fmt.Errorf("python3 has no xmltodict (apt-get install python3-xmltodict): %s", strings.TrimSpace(string(out)))
	}
	st, err := repeat(ctx, c.Runs, nil, py, script, hld)
	if err != nil {
		return err
	}
	c.printf("xmltodict baseline (same file, whole document in memory): %s\n", st)
	c.printf("speed-up of the detection import over the baseline: %.1f× (medians)\n", st.Median.Seconds()/ours.Median.Seconds())
	return nil
}

// memoryGrowth imports an input Scale times larger and compares peak RSS.
func memoryGrowth(ctx context.Context, c *Config, base string, small Stat) error {
	d := gen.New(gen.Config{Seed: 2, QIDs: c.QIDs, Hosts: c.Hosts * c.Scale, DetectionsPerHost: c.Detections, CVEs: c.CVEs})
	dir := filepath.Join(c.Dir, "scaled")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	hld := filepath.Join(dir, gen.DetectionsFile)
	f, err := os.OpenFile(hld, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := gen.WriteHostListDetection(f, d, d.HostIDs(0), 0, nil); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	work := filepath.Join(dir, "work.db")
	st, err := repeat(ctx, 1, func() error { return copyFile(work, base) }, c.Exe, "--db", work, "import", "-q", hld)
	if err != nil {
		return err
	}
	growth := float64(st.MaxRSS)/float64(small.MaxRSS) - 1
	c.printf("detection import of a %d× input (%d detections): %s; peak RSS grew %.0f%%\n",
		c.Scale, c.Hosts*c.Scale*c.Detections, st, growth*100)
	return nil
}

// exportBench builds a store of about Exports findings and times an NDJSON
// export of all of them.
func exportBench(ctx context.Context, c *Config) error {
	hosts := max(1, c.Exports/max(1, c.Detections))
	d := gen.New(gen.Config{Seed: 3, QIDs: c.QIDs, Hosts: hosts, DetectionsPerHost: c.Detections, CVEs: c.CVEs})
	dir := filepath.Join(c.Dir, "export")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kb, hld, nvd, err := gen.WriteFiles(dir, d, false)
	if err != nil {
		return err
	}
	db := filepath.Join(dir, "export.db")
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		os.Remove(p)
	}
	if _, err := measure(ctx, c.Exe, "--db", db, "import", "-q", kb, nvd, hld); err != nil {
		return err
	}
	out := filepath.Join(dir, "findings.ndjson")
	st, err := repeat(ctx, c.Runs, nil, c.Exe, "--db", db, "export", "--format", "ndjson", "-o", out)
	if err != nil {
		return err
	}
	n, err := countLines(out)
	if err != nil {
		return err
	}
	fi, _ := os.Stat(out)
	c.printf("export of %d findings as NDJSON (%.0f MB): %s\n", n, float64(fi.Size())/(1<<20), st)
	return nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
