package app

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/sim"
	"qvt/internal/store"
)

var smallData = gen.Config{Seed: 5, QIDs: 400, Hosts: 30, DetectionsPerHost: 10, CVEs: 600}

func startSyncSim(t *testing.T, cfg sim.Config) *sim.Server {
	t.Helper()
	s := sim.New(cfg)
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func syncSimEnv(s *sim.Server, db string) map[string]string {
	return map[string]string{"QUALYS_API_URL": s.BaseURL(), "QUALYS_USERNAME": "demo", "QUALYS_PASSWORD": "demo",
		"NVD_API_URL": s.NVDURL(), "KEV_URL": s.KEVURL(), "EPSS_URL": s.EPSSURL(), "QVT_DB": db}
}

// Values that mean nothing, or a gap in what incremental syncs fetch, are
// refused with exit 2 and the flag named, before anything is created.
func TestSyncFlagsChecked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	env := map[string]string{"QUALYS_API_URL": "http://127.0.0.1:1", "QUALYS_USERNAME": "u", "QUALYS_PASSWORD": "p", "QVT_DB": db}
	for _, args := range [][]string{
		{"sync", "--batch", "0"},
		{"sync", "--batch", "-1"},
		{"sync", "--workers", "0"},
		{"run", "--workers", "-3"},
		{"sync", "--overlap", "-1h"},
		{"run", "--overlap", "0s"},
		{"sync", "--kb-max-age", "0"},
	} {
		code, _, errs := qvt(t, env, args...)
		if code != ExitUsage || !strings.Contains(errs, "qvt: "+args[1]+" ") {
			t.Errorf("qvt %v: exit %d, want 2 naming %s; stderr %q", args, code, args[1], errs)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused command line created the store")
	}
}

// --quiet prints nothing on success, for cron, and only the error on a
// failure.
func TestQuiet(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData})
	j := jiratest.New(jiratest.Options{Token: "jira-token", User: "bot@example.com"})
	defer j.Close()
	env := syncSimEnv(s, filepath.Join(t.TempDir(), "qvt.db"))
	for k, v := range map[string]string{"JIRA_URL": j.URL, "JIRA_USER": "bot@example.com", "JIRA_TOKEN": "jira-token", "JIRA_PROJECT": "SEC"} {
		env[k] = v
	}
	for _, args := range [][]string{
		{"sync", "--quiet"},
		{"run", "-q"},
		{"publish", "--quiet", "--to", "jira"},
	} {
		code, out, errs := qvt(t, env, args...)
		if code != 0 || out != "" || errs != "" {
			t.Errorf("qvt %v: exit %d, stdout %q, stderr %q; want 0 and nothing printed", args, code, out, errs)
		}
	}
	if len(j.Issues()) == 0 {
		t.Error("the quiet run published nothing")
	}
	env["QUALYS_PASSWORD"] = "wrong"
	env["QVT_DB"] = filepath.Join(t.TempDir(), "new.db")
	code, out, errs := qvt(t, env, "sync", "--quiet")
	if code != ExitFailure || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "credentials") {
		t.Errorf("failed quiet sync: exit %d, stdout %q, stderr %q; want 1 and the error's line", code, out, errs)
	}
	if _, err := os.Stat(env["QVT_DB"]); err == nil {
		t.Error("a sync with wrong credentials created a store")
	}
	if code, _, errs := qvt(t, env, "-v", "sync", "--quiet"); code != ExitUsage {
		t.Errorf("-v with --quiet: exit %d (%s)", code, errs)
	}
}

// A phase that fails is never logged as synced or finished.
func TestFailedPhaseLogs(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData})
	nvd := httptest.NewServer(http.NotFoundHandler())
	defer nvd.Close()
	env := syncSimEnv(s, filepath.Join(t.TempDir(), "qvt.db"))
	env["NVD_API_URL"] = nvd.URL
	code, _, errs := qvt(t, env, "sync")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	errs = regexp.MustCompile(` run_id=[0-9a-f]+`).ReplaceAllString(errs, "") // the run's id sits between msg and phase
	for _, bad := range []string{"NVD synced", `msg="sync: finished" phase="NVD CVEs"`} {
		if strings.Contains(errs, bad) {
			t.Errorf("the log says %q of a phase that failed:\n%s", bad, errs)
		}
	}
	if !strings.Contains(errs, `msg="sync: failed" phase="NVD CVEs"`) {
		t.Errorf("the log does not say the NVD phase failed:\n%s", errs)
	}
}

// A run a signal stops exits 128 plus the signal's number: 130 for
// SIGINT, 143 for SIGTERM.
func TestInterruptedExitCode(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData, Latency: 100 * time.Millisecond})
	for _, tc := range []struct {
		cause error
		want  int
	}{
		{signalled{os.Interrupt}, 130},
		{signalled{syscall.SIGTERM}, 143},
		{nil, 130},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(300*time.Millisecond, func() { cancel(tc.cause) })
		env := syncSimEnv(s, filepath.Join(t.TempDir(), "qvt.db"))
		var out, errb bytes.Buffer
		code := Run(ctx, []string{"sync"}, &out, &errb, func(k string) string { return env[k] })
		if code != tc.want || !strings.Contains(errb.String(), "qvt: interrupted") {
			t.Errorf("cancelled by %v: exit %d, want %d; stderr %q", tc.cause, code, tc.want, errb.String())
		}
	}
}

// The real signal, in a qvt process of its own.
func TestSIGINTSubprocess(t *testing.T) {
	if os.Getenv("QVT_TEST_MAIN") == "1" {
		os.Args = append([]string{"qvt"}, strings.Fields(os.Getenv("QVT_TEST_ARGS"))...)
		os.Exit(Main())
	}
	s := startSyncSim(t, sim.Config{Data: smallData, Latency: 200 * time.Millisecond})
	db := filepath.Join(t.TempDir(), "qvt.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGINTSubprocess$")
	cmd.Env = append(os.Environ(), "QVT_TEST_MAIN=1", "QVT_TEST_ARGS=--batch 5 sync",
		"QUALYS_API_URL="+s.BaseURL(), "QUALYS_USERNAME=demo", "QUALYS_PASSWORD=demo", "NVD_API_URL="+s.NVDURL(), "KEV_URL="+s.KEVURL(), "EPSS_URL="+s.EPSSURL(), "QVT_DB="+db)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once detections are being fetched.
	deadline := time.Now().Add(60 * time.Second)
	for detectionCalls(s) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v, want exit 130\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "qvt: interrupted") {
		t.Errorf("stderr: %s", errb.String())
	}
}

// kill -9 loses at most the batches in flight and the last 2 seconds:
// every batch the double had answered 2 seconds before the kill is stored
// and marked done.
func TestKill9KeepsAnsweredBatches(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData, Latency: 300 * time.Millisecond})
	db := filepath.Join(t.TempDir(), "qvt.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGINTSubprocess$")
	cmd.Env = append(os.Environ(), "QVT_TEST_MAIN=1", "QVT_TEST_ARGS=--batch 1 sync --skip-nvd",
		"QUALYS_API_URL="+s.BaseURL(), "QUALYS_USERNAME=demo", "QUALYS_PASSWORD=demo", "QVT_DB="+db)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	answered := func() int {
		n := 0
		for _, c := range s.Log() {
			if c.API == sim.APIDetections && c.Status == 200 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for answered() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := answered()
	time.Sleep(2 * time.Second)
	cmd.Process.Kill()
	cmd.Wait()
	if answered() >= len(s.Dataset().HostIDs(0)) {
		t.Fatal("the sync ended before the kill: nothing proved")
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var done, hosts int
	st.DB().QueryRow("SELECT count(*) FROM sync_batches WHERE phase = 'detections' AND done = 1").Scan(&done)
	st.DB().QueryRow("SELECT count(*) FROM hosts").Scan(&hosts)
	if done < before || hosts < done {
		t.Errorf("killed 2 s after %d batches were answered: %d batches done, %d hosts stored", before, done, hosts)
	}
}

func detectionCalls(s *sim.Server) int {
	n := 0
	for _, c := range s.Log() {
		if c.API == sim.APIDetections {
			n++
		}
	}
	return n
}
