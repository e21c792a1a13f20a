package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"qvt/internal/gen"
	"qvt/internal/store"
)

// ScaleConfig sizes the scale benchmark.
type ScaleConfig struct {
	Dir string // FIFOs, the SQLite store, the dashboard's scratch
	// Store is where the store goes: a postgres:// URL names a server and
	// database, in which the benchmark makes a schema of its own (dropped
	// afterwards unless Keep); "" is a new SQLite file in Dir.
	Store string
	// MySQL is the DSN of a MySQL or MariaDB server to publish to; the
	// benchmark makes a database of its own there (dropped afterwards
	// unless Keep). "" skips the publish.
	MySQL      string
	Hosts      int
	Detections int // mean per host
	QIDs       int
	CVEs       int
	Runs       int  // measured runs of each dashboard request
	Keep       bool // keep the store and the MySQL database
	// ImportOnly stops after the first import: its figures alone, on a
	// machine or in a time that cannot take the rest.
	ImportOnly bool
	Exe        string
	Out        io.Writer
}

func (c *ScaleConfig) printf(format string, args ...any) { fmt.Fprintf(c.Out, format, args...) }

// Scale measures qvt on one large store, every part a user runs on it:
// the first import, the dashboard, an NDJSON export of everything, a
// publish to MySQL, an incremental sync in which 1% of the hosts changed
// and the publish of that day's changes.
//
// The data comes from gen and is never held, in memory or on disk: each
// input is written into a FIFO that `qvt import` reads, so 10 million
// detections need no 12 GB file. The generator runs in this process,
// beside the import, and its CPU time is reported: on a machine of two
// cores it takes some of the import's.
//
// Every qvt command runs as a process of its own, so its peak RSS is its
// own. Linux counts the parent's RSS at the fork into a child's peak, so
// this process stays small: what needs the store in-process (the
// dashboard's measurements, setting the sync watermark) runs in a child
// too (ScaleStep).
func Scale(ctx context.Context, c ScaleConfig) (err error) {
	if c.Runs <= 0 {
		c.Runs = 20
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	loc, dropStore, err := c.newStore(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if c.Keep {
			c.printf("kept the store: %s\n", store.Shown(loc))
			return
		}
		if derr := dropStore(); derr != nil && err == nil {
			err = derr
		}
	}()
	data := gen.Config{Seed: 1, QIDs: c.QIDs, Hosts: c.Hosts, DetectionsPerHost: c.Detections, CVEs: c.CVEs}
	d := gen.New(data)
	engine := "SQLite"
	if store.IsPostgres(loc) {
		engine = "PostgreSQL"
	}
	c.printf("scale benchmark on %s (%s): %d hosts × %d detections (mean), %d QIDs, %d CVEs\n",
		engine, store.Shown(loc), c.Hosts, c.Detections, c.QIDs, c.CVEs)
	if rss := selfRSS(); rss > 0 {
		c.printf("(this process: %.0f MB resident, which Linux counts into each command's peak RSS below)\n", mb(rss))
	}

	// The KB and NVD first, as a new installation would: the detections
	// are rated as they arrive.
	var first time.Duration
	for _, in := range []struct {
		what, name string
		write      func(io.Writer) error
	}{
		{"KB import", gen.KBFile, func(w io.Writer) error { return gen.WriteKB(w, d, d.QIDs(), 0) }},
		{"NVD import", gen.NVDFile, func(w io.Writer) error { return gen.WriteNVD(w, d, 0, d.CVECount(0), 0, 0, d.CVECount(0)) }},
	} {
		r, _, _, err := c.importStream(ctx, loc, in.name, in.write)
		if err != nil {
			return fmt.Errorf("%s: %w", in.what, err)
		}
		c.printf("%s: %.1f s, peak RSS %.0f MB\n", in.what, r.Wall.Seconds(), mb(r.MaxRSS))
		first += r.Wall
	}
	r, genCPU, out, err := c.importStream(ctx, loc, gen.DetectionsFile, func(w io.Writer) error {
		return gen.WriteHostListDetection(w, d, d.HostIDs(0), 0, nil)
	})
	if err != nil {
		return fmt.Errorf("detection import: %w", err)
	}
	det := 0
	if m := regexp.MustCompile(`Qualys host detections, \d+ hosts, (\d+) detections`).FindStringSubmatch(out); m != nil {
		fmt.Sscan(m[1], &det)
	}
	c.printf("first detection import: %d detections in %.1f s (%.0f a second), peak RSS %.0f MB; the generator beside it used %.1f s of CPU\n",
		det, r.Wall.Seconds(), float64(det)/r.Wall.Seconds(), mb(r.MaxRSS), genCPU.Seconds())
	c.indent(out)
	c.printf("first import in all (KB, NVD, detections): %.1f s\n", (first + r.Wall).Seconds())
	if c.ImportOnly {
		return nil
	}

	if err := c.export(ctx, loc); err != nil {
		return fmt.Errorf("export: %w", err)
	}

	publish := func(what string) error { return nil }
	if c.MySQL != "" {
		dsn, dbName, dropDB, err := c.newMySQL()
		if err != nil {
			return err
		}
		defer func() {
			if c.Keep {
				c.printf("kept the MySQL database of the publish: %s\n", dbName)
				return
			}
			if derr := dropDB(); derr != nil && err == nil {
				err = derr
			}
		}()
		publish = func(what string) error {
			cmd := exec.CommandContext(ctx, c.Exe, "--db", loc, "publish", "--to", "mysql")
			cmd.Env = append(os.Environ(), "QVT_MYSQL_DSN="+dsn)
			var out strings.Builder
			cmd.Stdout = &out
			r, err := runCmd(cmd, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			c.printf("%s: %.1f s, peak RSS %.0f MB\n", what, r.Wall.Seconds(), mb(r.MaxRSS))
			c.indent(out.String())
			return nil
		}
		if err := publish("first publish to MySQL (every finding)"); err != nil {
			return err
		}
	} else {
		c.printf("publish to MySQL: skipped (--mysql names a server)\n")
	}

	if err := c.incremental(ctx, loc, data); err != nil {
		return fmt.Errorf("incremental sync: %w", err)
	}
	if err := publish("publish to MySQL of the day's changes"); err != nil {
		return err
	}

	cmd := exec.CommandContext(ctx, c.Exe, "bench", "--scale-step", "dashboard", "--store", loc, "--runs", fmt.Sprint(c.Runs))
	cmd.Stdout = c.Out
	if _, err := runCmd(cmd, nil); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// indent prints a command's report under the figure it belongs to.
func (c *ScaleConfig) indent(out string) {
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) != "" {
			c.printf("    %s", strings.TrimRight(line, "\n")+"\n")
		}
	}
}

// newStore makes the benchmark's store: a schema of its own on the
// PostgreSQL server c.Store names, or a new SQLite file.
func (c *ScaleConfig) newStore(ctx context.Context) (loc string, drop func() error, err error) {
	if c.Store == "" {
		loc = filepath.Join(c.Dir, "scale.db")
		rm := func() error {
			for _, p := range []string{loc, loc + "-wal", loc + "-shm", loc + ".lock"} {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			return nil
		}
		return loc, rm, rm()
	}
	if !store.IsPostgres(c.Store) {
		return "", nil, fmt.Errorf("--store: want a postgres:// URL (the default is a new SQLite file in --dir), not %s", store.Shown(c.Store))
	}
	u, err := url.Parse(c.Store)
	if err != nil {
		return "", nil, fmt.Errorf("--store %s: %w", store.Shown(c.Store), err)
	}
	schema := "qvt_bench_" + randomHex()
	conn, err := pgx.Connect(ctx, c.Store)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to %s: %w", store.Shown(c.Store), err)
	}
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	conn.Close(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("creating schema %s on %s: %w", schema, store.Shown(c.Store), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, c.Store)
		if err != nil {
			return fmt.Errorf("dropping schema %s: %w", schema, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("dropping schema %s: %w", schema, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// newMySQL makes a database of the benchmark's own on the MySQL server
// and returns the DSN that names it.
func (c *ScaleConfig) newMySQL() (dsn, name string, drop func() error, err error) {
	cfg, err := mysql.ParseDSN(c.MySQL)
	if err != nil {
		return "", "", nil, fmt.Errorf("--mysql: %w", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", "", nil, fmt.Errorf("--mysql: %w", err)
	}
	name = "qvt_bench_" + randomHex()
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		admin.Close()
		// The driver's errors do not carry the password.
		return "", "", nil, fmt.Errorf("creating database %s on %s: %w", name, cfg.Addr, err)
	}
	cfg.DBName = name
	drop = func() error {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			return fmt.Errorf("dropping MySQL database %s: %w", name, err)
		}
		return nil
	}
	return cfg.FormatDSN(), name, drop, nil
}

func randomHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// selfRSS is this process's resident memory now, 0 when unknown.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}

// importStream runs `qvt import` on a FIFO, named name in c.Dir, that write fills as the import
// reads it. It returns the import's run, the CPU time this process spent
// meanwhile (the generator's) and what the import printed.
func (c *ScaleConfig) importStream(ctx context.Context, loc, name string, write func(io.Writer) error) (Run, time.Duration, string, error) {
	fifo := filepath.Join(c.Dir, name)
	os.Remove(fifo) // a FIFO an interrupted run left
	if err := mkfifo(fifo); err != nil {
		return Run{}, 0, "", fmt.Errorf("making a FIFO for the generated input: %w", err)
	}
	defer os.Remove(fifo)
	cmd := exec.CommandContext(ctx, c.Exe, "--db", loc, "import", fifo)
	var out strings.Builder
	cmd.Stdout = &out
	cpu0 := cpuTime()
	r, err := runCmd(cmd, func(exited <-chan struct{}) error { return fillFIFO(fifo, exited, write) })
	return r, cpuTime() - cpu0, out.String(), err
}

// fillFIFO opens a FIFO for writing, which waits for its reader, and
// writes into it. A reader that exits before opening it releases the
// wait; one that exits while reading makes the writes fail.
func fillFIFO(path string, exited <-chan struct{}, write func(io.Writer) error) error {
	opened := make(chan *os.File, 1)
	errc := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			errc <- err
			return
		}
		opened <- f
	}()
	var f *os.File
	select {
	case f = <-opened:
	case err := <-errc:
		return err
	case <-exited:
		// Open it for reading ourselves so that the writer's open returns.
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			r.Close()
		}
		select {
		case f := <-opened:
			f.Close()
		case <-errc:
		}
		return errors.New("the import ended before it read its input")
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err := write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the generated input: %w", err)
	}
	return nil
}

// export times `qvt export --format ndjson` of every finding, read from
// its standard output.
func (c *ScaleConfig) export(ctx context.Context, loc string) error {
	cmd := exec.CommandContext(ctx, c.Exe, "--db", loc, "export", "--format", "ndjson")
	// A writer, not StdoutPipe: Wait closes a pipe's read end as soon as
	// the command exits, which may be before its last bytes are read; for
	// a writer it waits until everything is copied.
	var out lineCounter
	cmd.Stdout = &out
	r, err := runCmd(cmd, nil)
	if err != nil {
		return err
	}
	lines, size := out.lines, out.size
	c.printf("export --format ndjson of every finding: %d findings (%.0f MB) in %.1f s: %.2f million a minute, peak RSS %.0f MB\n",
		lines, mb(size), r.Wall.Seconds(), float64(lines)/r.Wall.Minutes()/1e6, mb(r.MaxRSS))
	return nil
}

// lineCounter counts the bytes and lines written to it.
type lineCounter struct{ lines, size int64 }

func (w *lineCounter) Write(b []byte) (int, error) {
	w.lines += int64(bytes.Count(b, []byte{'\n'}))
	w.size += int64(len(b))
	return len(b), nil
}

// changedDays is how far the API double's data moves on before the
// incremental sync: a week, so that every host it serves has been scanned
// since the import (the data set scans a host every day or every week).
const changedDays = 7

// incremental measures `qvt sync` after 1% of the hosts changed, against
// the built-in double without latency. The double serves a data set of
// the same seed and sizes but 1% of the hosts: gen derives a host from
// its seed and index alone, so those are the store's first 1% of hosts, a
// week on, plus the hosts that data set adds in the week (which the store
// holds too, as other hosts of the same ids: they change as well). The
// store's watermark is set to the time of the imported data, as a sync at
// that time would have left it.
func (c *ScaleConfig) incremental(ctx context.Context, loc string, data gen.Config) error {
	part := data
	part.Hosts = max(1, c.Hosts/100-changedDays*max(1, (c.Hosts/100+100)/200))
	stop, base, err := startSim(ctx, c.Exe, part, 0, 5)
	if err != nil {
		return err
	}
	defer stop()
	for range changedDays {
		res, err := http.Post(base+"/_sim/advance", "", nil)
		if err != nil {
			return err
		}
		res.Body.Close()
	}
	mark := gen.New(data).Now(0).Format(time.RFC3339)
	cmd := exec.CommandContext(ctx, c.Exe, "bench", "--scale-step", "watermark="+mark, "--store", loc)
	if _, err := runCmd(cmd, nil); err != nil {
		return err
	}
	cmd = exec.CommandContext(ctx, c.Exe, "--db", loc, "sync", "--skip-kb", "--skip-nvd", "--skip-kev", "--skip-epss", "--workers", "4")
	cmd.Env = append(os.Environ(), "QUALYS_API_URL="+base, "QUALYS_USERNAME=demo", "QUALYS_PASSWORD=demo")
	var out strings.Builder
	cmd.Stdout = &out
	r, err := runCmd(cmd, nil)
	if err != nil {
		return err
	}
	hosts := 0
	if m := regexp.MustCompile(`(\d+) hosts with \d+ detections`).FindStringSubmatch(out.String()); m != nil {
		fmt.Sscan(m[1], &hosts)
	}
	c.printf("incremental sync, %d hosts changed (%.1f%%), double without latency: %.1f s, peak RSS %.0f MB\n",
		hosts, 100*float64(hosts)/float64(c.Hosts), r.Wall.Seconds(), mb(r.MaxRSS))
	c.indent(out.String())
	return nil
}
