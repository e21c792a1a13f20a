package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"qvt/internal/gen"
	"qvt/internal/sim"
)

// SyncConfig sizes the sync benchmark.
type SyncConfig struct {
	Dir         string
	Hosts       int
	Detections  int
	QIDs        int
	Latency     time.Duration // server latency of each call
	Concurrency int           // the double's concurrency limit
	Batch       int           // host IDs per detection call
	Runs        int
	Exe         string
	Out         interface{ Write([]byte) (int, error) }
}

func (c *SyncConfig) printf(format string, args ...any) { fmt.Fprintf(c.Out, format, args...) }

// Sync measures a full detection sync against the API double: with the
// double's latency and concurrency limit, against the ideal (calls ÷
// usable concurrency × latency) plus the cost of importing the same data
// from a file; and with no latency, the client's cost over that import.
func Sync(ctx context.Context, c SyncConfig) error {
	if c.Runs <= 0 {
		c.Runs = 3
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	data := gen.Config{Seed: 1, QIDs: c.QIDs, Hosts: c.Hosts, DetectionsPerHost: c.Detections, CVEs: 2000}
	d := gen.New(data)
	c.printf("generating %d hosts × %d detections, %d QIDs in %s\n", c.Hosts, c.Detections, c.QIDs, c.Dir)
	kb, hld, _, err := gen.WriteFiles(c.Dir, d, false)
	if err != nil {
		return err
	}
	base0 := filepath.Join(c.Dir, "sync-base.db")
	work := filepath.Join(c.Dir, "sync-work.db")
	for _, p := range []string{base0, base0 + "-wal", base0 + "-shm"} {
		os.Remove(p)
	}
	// The KB comes from a file: the benchmark is the detection sync.
	if _, err := measure(ctx, c.Exe, "--db", base0, "import", "-q", kb); err != nil {
		return err
	}
	imp, err := repeat(ctx, c.Runs, func() error { return copyFile(work, base0) }, c.Exe, "--db", work, "import", "-q", hld)
	if err != nil {
		return err
	}
	c.printf("import of the same detections from a file: %s\n", imp)

	run := func(latency time.Duration, concurrency int) (Stat, error) {
		// The double runs in a process of its own: a child process's peak
		// memory, as Linux accounts it, includes its parent's at the fork,
		// and the double holds its cached responses.
		stop, base, err := startSim(ctx, c.Exe, data, latency, concurrency)
		if err != nil {
			return Stat{}, err
		}
		defer stop()
		os.Setenv("QUALYS_API_URL", base)
		os.Setenv("QUALYS_USERNAME", "demo")
		os.Setenv("QUALYS_PASSWORD", "demo")
		args := []string{"--db", work, "sync", "--full", "--skip-nvd", "--skip-kev", "--skip-epss", "--skip-kb", "--batch", fmt.Sprint(c.Batch), "--workers", fmt.Sprint(concurrency)}
		// A first sync fills the double's cache: the runs measured pay
		// for the client and the latency, not for generating the data.
		if err := copyFile(work, base0); err != nil {
			return Stat{}, err
		}
		if _, err := measure(ctx, c.Exe, args...); err != nil {
			return Stat{}, err
		}
		st, err := repeat(ctx, c.Runs, func() error { return copyFile(work, base0) }, c.Exe, args...)
		if err != nil {
			return st, err
		}
		if m, err := simMaxConcurrent(base, sim.APIDetections); err != nil {
			return st, err
		} else if m > concurrency {
			return st, fmt.Errorf("the sync ran %d detection calls at once, over the limit of %d", m, concurrency)
		}
		return st, nil
	}
	st, err := run(c.Latency, c.Concurrency)
	if err != nil {
		return err
	}
	calls := float64(c.Hosts)/float64(c.Batch) + 1 // the detection batches and the host list
	usable := math.Max(1, float64(c.Concurrency-1))
	ideal := time.Duration(math.Ceil(calls/usable) * float64(c.Latency))
	c.printf("full detection sync, %v latency, concurrency limit %d: %s\n", c.Latency, c.Concurrency, st)
	c.printf("  ideal %.0f calls ÷ %.0f usable × %v = %.2fs; target 1.2 × ideal + import = %.2fs; measured / target = %.2f\n",
		calls, usable, c.Latency, ideal.Seconds(), (1.2*ideal.Seconds())+imp.Median.Seconds(),
		st.Median.Seconds()/((1.2*ideal.Seconds())+imp.Median.Seconds()))
	fast, err := run(0, c.Concurrency)
	if err != nil {
		return err
	}
	c.printf("full detection sync, no latency: %s; over the file import: %+.0f%%\n", fast,
		(fast.Median.Seconds()/imp.Median.Seconds()-1)*100)
	return nil
}

// startSim runs `qvt sim` over the data set data describes on a free
// loopback port and waits until it answers.
func startSim(ctx context.Context, exe string, data gen.Config, latency time.Duration, concurrency int) (stop func(), base string, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.CommandContext(ctx, exe, "sim", "--cache", "--addr", addr, "--seed", fmt.Sprint(data.Seed), "--hosts", fmt.Sprint(data.Hosts),
		"--detections", fmt.Sprint(data.DetectionsPerHost), "--qids", fmt.Sprint(data.QIDs), "--cves", fmt.Sprint(data.CVEs),
		"--concurrency", fmt.Sprint(concurrency), "--latency", latency.String())
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	stop = func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	base = "http://" + addr
	for range 200 {
		if res, err := http.Get(base + "/_sim/stats"); err == nil {
			res.Body.Close()
			return stop, base, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return nil, "", fmt.Errorf("the API double did not start on %s", addr)
}

func simMaxConcurrent(base, api string) (int, error) {
	res, err := http.Get(base + "/_sim/stats")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var st struct {
		MaxConcurrent map[string]int `json:"max_concurrent"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, err
	}
	return st.MaxConcurrent[api], nil
}
