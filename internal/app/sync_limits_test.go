package app

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qvt/internal/qualys"
)

// TestSyncMaxWait: --max-wait reaches the clients: a sync told by Qualys
// to wait two minutes, with --max-wait 1m, fails at once with the reason.
func TestSyncMaxWait(t *testing.T) {
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
	defer srv.Close()
	env := map[string]string{"QUALYS_API_URL": srv.URL, "QUALYS_USERNAME": "u", "QUALYS_PASSWORD": "pw-secret-123",
		"QVT_DB": filepath.Join(t.TempDir(), "qvt.db")}
	start := time.Now()
	// Interrupted after 20 s: a client that ignores --max-wait sleeps 2 minutes.
	code, _, errs := qvtWithin(t, 20*time.Second, env, "sync", "--skip-nvd", "--max-wait", "1m")
	if code != 1 || !strings.Contains(errs, "wait 2m0s") || !strings.Contains(errs, "more than the 1m0s allowed (--max-wait)") ||
		time.Since(start) > 20*time.Second || strings.Contains(errs, "pw-secret-123") {
		t.Errorf("exit %d after %v:\n%s", code, time.Since(start), errs)
	}
}
