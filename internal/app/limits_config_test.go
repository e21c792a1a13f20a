package app

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qvt/internal/qualys"
	"qvt/internal/sim"
)

// withConfig is env with QVT_CONFIG naming a file that holds body, and
// QVT_DB a store in a fresh directory.
func withConfig(t *testing.T, env map[string]string, body string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "qvt.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	out["QVT_CONFIG"], out["QVT_DB"] = path, filepath.Join(dir, "qvt.db")
	return out
}

// TestImportLimitsFromFile: the file's limits reach the import: a KB whose
// titles are longer than a 16-byte field_text is refused naming the file
// and the limit, and the same file imports under the default limits.
func TestImportLimitsFromFile(t *testing.T) {
	kb := filepath.Join("testdata", "worked", "kb.xml")
	code, _, errs := qvt(t, withConfig(t, nil, "limits:\n  field_text: 16\n"), "import", kb)
	if code != 1 || !strings.Contains(errs, "kb.xml") || !strings.Contains(errs, "longer than 16 bytes (limit text)") {
		t.Errorf("field_text 16: exit %d\n%s", code, errs)
	}
	if code, _, errs := qvt(t, withConfig(t, nil, "limits:\n  field_text: 0\n  depth: 64\n"), "import", kb); code != 0 {
		t.Errorf("default limits: exit %d\n%s", code, errs)
	}
}

// TestSyncLimitsFromFile: the file's limits reach the Qualys and NVD
// clients' decoders, in a sync against the API double.
func TestSyncLimitsFromFile(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData})
	env := syncSimEnv(s, "")
	for _, c := range []struct {
		limits string
		flags  []string
		want   string
	}{
		{"field_text: 16", []string{"--skip-nvd"}, "longer than 16 bytes (limit text)"}, // the KB
		{"field_text: 16", []string{"--skip-nvd", "--skip-kb"}, "vm/detection/: malformed response"},
		{"json_string: 8", []string{"--skip-kb"}, "longer than 8 bytes (limit string)"},
	} {
		code, _, errs := qvt(t, withConfig(t, env, "limits:\n  "+c.limits+"\n"), append([]string{"sync", "--full"}, c.flags...)...)
		if code != 1 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "(limit ") {
			t.Errorf("%s: exit %d, want %q in\n%s", c.limits, code, c.want, errs)
		}
	}
	if code, _, errs := qvt(t, withConfig(t, env, "limits:\n  field_text: 1MiB\n  json_string: 1MiB\n"), "sync", "--full"); code != 0 {
		t.Errorf("default limits: exit %d\n%s", code, errs)
	}
}

// TestSyncMaxWaitFromFile: limits.max_wait reaches the clients, and
// --max-wait overrides it.
func TestSyncMaxWaitFromFile(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{"max_wait: 1m", nil, "more than the 1m0s allowed"},
		{"max_wait: 2h", []string{"--max-wait", "90s"}, "more than the 1m30s allowed"},
	} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) > 1 {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-ToWait-Sec", "120")
			w.WriteHeader(http.StatusConflict)
			qualys.WriteSimpleReturn(w, "2026-11-01T00:00:00Z", 1965, "This API cannot be run again for another 2 minutes.", nil)
		}))
		env := withConfig(t, map[string]string{"QUALYS_API_URL": srv.URL, "QUALYS_USERNAME": "u", "QUALYS_PASSWORD": "pw"}, "limits:\n  "+c.file+"\n")
		start := time.Now()
		code, _, errs := qvt(t, env, append([]string{"sync", "--skip-nvd"}, c.args...)...)
		srv.Close()
		if code != 1 || !strings.Contains(errs, "wait 2m0s") || !strings.Contains(errs, c.want) || time.Since(start) > 20*time.Second {
			t.Errorf("%s %v: exit %d after %v, want %q:\n%s", c.file, c.args, code, time.Since(start), c.want, errs)
		}
	}
}
