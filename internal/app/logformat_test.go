package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"qvt/internal/sim"
)

// jsonLines parses every line of a JSON log; a line that is not a JSON
// object fails the test.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON (%v): %q", err, line)
		}
		out = append(out, m)
	}
	return out
}

// --log-format json: every line of stderr is a JSON object carrying the
// invocation's run_id, the final error included; the next invocation has
// another id.
func TestJSONLogs(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData})
	nvd := httptest.NewServer(http.NotFoundHandler())
	defer nvd.Close()
	env := syncSimEnv(s, filepath.Join(t.TempDir(), "qvt.db"))
	env["NVD_API_URL"] = nvd.URL
	hexID := regexp.MustCompile(`^[0-9a-f]{12}$`)
	var ids []string
	for _, args := range [][]string{{"--log-format", "json", "-v", "sync"}, {"-v", "sync", "--log-format=json"}} {
		code, _, errs := qvt(t, env, args...)
		if code != ExitFailure {
			t.Fatalf("qvt %v: exit %d, want 1\n%s", args, code, errs)
		}
		lines := jsonLines(t, errs)
		if len(lines) < 3 {
			t.Fatalf("qvt %v logged %d lines:\n%s", args, len(lines), errs)
		}
		id, _ := lines[0]["run_id"].(string)
		if !hexID.MatchString(id) {
			t.Fatalf("run_id %q, want 12 hex digits", id)
		}
		failed := false
		for i, l := range lines {
			if l["run_id"] != id {
				t.Errorf("line %d has run_id %v, want %s: %v", i, l["run_id"], id, l)
			}
			failed = failed || l["msg"] == "sync: failed" && l["phase"] == "NVD CVEs"
		}
		if !failed {
			t.Errorf("no JSON line says the NVD phase failed:\n%s", errs)
		}
		last := lines[len(lines)-1]
		if last["level"] != "ERROR" || last["exit_code"] != float64(ExitFailure) || !strings.Contains(last["msg"].(string), "NVD") {
			t.Errorf("the final line is not the error: %v", last)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Errorf("two invocations share the run_id %s", ids[0])
	}
}

// Secrets stay out of JSON logs, QVT_LOG_FORMAT chooses the format as
// the flag does, and text stays the default.
func TestJSONLogsRedact(t *testing.T) {
	const pass = "Nvd-Pass-4f2a9e7c"
	env := map[string]string{"QVT_DB": filepath.Join(t.TempDir(), "qvt.db"), "QUALYS_API_URL": "http://127.0.0.1:1",
		"QUALYS_USERNAME": "u", "QUALYS_PASSWORD": "p", "NVD_API_URL": "http://nvduser:" + pass + "@127.0.0.1:1",
		"QVT_LOG_FORMAT": "json"}
	code, _, errs := qvt(t, env, "sync")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	lines := jsonLines(t, errs)
	if strings.Contains(errs, pass) || !strings.Contains(errs, "nvduser:[REDACTED]@") {
		t.Errorf("the NVD URL's password is not redacted in the JSON log:\n%s", errs)
	}
	if lines[0]["run_id"] == nil {
		t.Errorf("QVT_LOG_FORMAT=json: no run_id: %s", errs)
	}
	delete(env, "QVT_LOG_FORMAT")
	_, _, errs = qvt(t, env, "sync")
	if strings.HasPrefix(errs, "{") || strings.Contains(errs, "run_id") || !strings.HasPrefix(errs, "qvt: ") {
		t.Errorf("the default log is not text: %s", errs)
	}
}

// A format qvt does not write is a usage error naming where it came from.
func TestLogFormatRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--log-format", "xml", "version"}, `--log-format "xml": want text or json`},
		{nil, []string{"--log-format=", "version"}, ""}, // empty: the default
		{map[string]string{"QVT_LOG_FORMAT": "yaml"}, []string{"version"}, `QVT_LOG_FORMAT "yaml": want text or json`},
		{map[string]string{"QVT_LOG_FORMAT": "yaml"}, []string{"--log-format", "text", "version"}, ""}, // the flag wins
		{nil, []string{"--log-format", "JSON", "version"}, ""},
	} {
		env := map[string]string{"QVT_DB": db}
		for k, v := range tc.env {
			env[k] = v
		}
		code, out, errs := qvt(t, env, tc.args...)
		switch {
		case tc.want == "" && (code != ExitOK || !strings.HasPrefix(out, "qvt ")):
			t.Errorf("qvt %v (env %v): exit %d, %s%s", tc.args, tc.env, code, out, errs)
		case tc.want != "" && (code != ExitUsage || !strings.Contains(errs, tc.want)):
			t.Errorf("qvt %v (env %v): exit %d, stderr %q; want 2 and %q", tc.args, tc.env, code, errs, tc.want)
		}
	}
}

// The run_id of a JSON line is the logger's: the process's, or the one
// withRunID gave it (a run of the scheduler), once, at the top level,
// whatever groups and attributes the logger carries. Secrets are redacted
// wherever they stand.
func TestRunIDHandler(t *testing.T) {
	var buf bytes.Buffer
	const secret = "s3cret-9f8e7d6c"
	log := slog.New(logHandler(&buf, logJSON, slog.LevelInfo, "proc01", []string{secret}))
	run := withRunID(log, "run-7")
	nested := withRunID(log.With("target", "jira").WithGroup("req"), "run-8")
	log.Info("one")
	run.Info("two", "k", "v")
	nested.Info("three", "k", "v")
	withRunID(run, "run-9").Info("four")
	log.Info("five") // the parent keeps its id
	log.With("url", "https://u:"+secret+"@qualys.example/api").Info("six: password="+secret, "err", errors.New("token "+secret))
	lines := jsonLines(t, buf.String())
	want := []string{"proc01", "run-7", "run-8", "run-9", "proc01", "proc01"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		if l["run_id"] != want[i] {
			t.Errorf("line %d: run_id %v, want %s", i+1, l["run_id"], want[i])
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if n := strings.Count(line, `"run_id"`); n != 1 {
			t.Errorf("line %d has run_id %d times: %s", i+1, n, line)
		}
	}
	if lines[2]["target"] != "jira" || lines[2]["req"].(map[string]any)["k"] != "v" {
		t.Errorf("a logger's attributes and groups are lost with its run_id: %v", lines[2])
	}
	if strings.Contains(buf.String(), secret) {
		t.Errorf("a secret in the JSON log:\n%s", buf.String())
	}
	if !strings.Contains(lines[5]["url"].(string), "[REDACTED]") || !strings.Contains(lines[5]["msg"].(string), "[REDACTED]") {
		t.Errorf("the secret's places are not marked: %v", lines[5])
	}

	// Text lines stay as they were; a run's id shows as an attribute.
	buf.Reset()
	text := slog.New(logHandler(&buf, logText, slog.LevelInfo, "proc01", nil))
	text.Info("plain")
	withRunID(text, "run-7").Info("scheduled")
	got := buf.String()
	if strings.Contains(got, "proc01") || strings.Count(got, "run_id=run-7") != 1 || !strings.Contains(got, `msg=plain`) {
		t.Errorf("text log:\n%s", got)
	}
}
