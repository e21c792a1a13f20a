package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/gen"
	"qvt/internal/load"
	"qvt/internal/qualys"
	"qvt/internal/store"
)

// The fixture is a small store built the way a user builds one: the
// generator's KB, NVD feed and host detections (day 0), three later days
// of detections (history: fixes, reopenings, new findings), and one host
// with a KB entry whose text attacks the page.

const (
	fixtureHosts = 80
	fixtureDays  = 3
	xssQID       = 990001
	xssHostID    = 990001
	xssIP        = "10.99.0.1"
	xssGonePort  = 8443 // a finding of the hostile host that goes
)

// xssText is KB text a hostile KB entry could hold.
const xssText = `Look <b>here</b>.<script>window.__xss = "script"</script>
<img src=x onerror="window.__xss='img'"> <a href="javascript:window.__xss='link'">click</a>
<a href="https://example.com/advisory" onclick="window.__xss='click'">advisory</a>
<svg onload="window.__xss='svg'"></svg><iframe src="javascript:window.__xss='frame'"></iframe>
<style>body{display:none}</style><p style="background:url(javascript:alert(1))">styled</p>
</div></div></section></main><h1>Injected heading</h1><h2>Injected section</h2><div><table><tr><td>open cell<ul><li>open item`

var (
	fixtureOnce  sync.Once
	fixtureDir   string
	fixturePath  string
	fixtureNow   time.Time
	fixtureErr   error
	fixtureSteps [][]string // the files imported, import by import
	fixtureSQL   []string   // then these statements
	// then the KEV catalog and EPSS scores of these days, and the
	// priorities they give (fixture_prio_test.go)
	fixturePrioDays []time.Time
)

// fixtureStore returns a copy of the fixture store (SQLite), built once
// per test binary, and the time its tests take as now.
func fixtureStore(t testing.TB) (*store.Store, time.Time) {
	t.Helper()
	return fixtureStoreAt(t, filepath.Join(t.TempDir(), "qvt.db"))
}

// fixtureStoreAt is fixtureStore at a new store location (storetest): a
// copy of the SQLite file, or on PostgreSQL the same files imported into
// the new schema.
func fixtureStoreAt(t testing.TB, loc string) (*store.Store, time.Time) {
	t.Helper()
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "qvt-web-fixture-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureDir = dir
		fixturePath, fixtureNow, fixtureErr = buildFixture(dir)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	ctx := context.Background()
	if store.IsPostgres(loc) {
		// A store filled once (a test serving it several times) is
		// replaced by a copy of the SQLite fixture, as a file is copied
		// over: the import into PostgreSQL is tested by the first.
		fill := importFixture
		if ok, err := store.Exists(loc); err != nil {
			t.Fatal(err)
		} else if ok {
			fill = func(ctx context.Context, loc string) error {
				_, err := store.Copy(ctx, fixturePath, loc, store.CopyOptions{Force: true})
				return err
			}
		}
		if err := fill(ctx, loc); err != nil {
			t.Fatal(err)
		}
	} else {
		copyFile(t, fixturePath, loc)
	}
	st, err := store.Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, fixtureNow
}

// importFixture builds the fixture at loc from its files.
func importFixture(ctx context.Context, loc string) error {
	st, err := store.Open(ctx, loc)
	if err != nil {
		return err
	}
	defer st.Close()
	l := &load.Loader{Policy: assess.DefaultPolicy()}
	for i, files := range fixtureSteps {
		if _, err := l.Files(ctx, st, files); err != nil {
			return fmt.Errorf("fixture: import %d: %w", i, err)
		}
	}
	for _, q := range fixtureSQL {
		if _, err := st.DB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("fixture: %w", err)
		}
	}
	// A new connection: on PostgreSQL the store names its cursors per
	// transaction (qvt_cursor_1, …) and pgx remembers the columns of a
	// FETCH by its text, so a cursor of another shape under the same name
	// on the same connection fails ("bind message has 13 result formats").
	st.Close()
	st2, err := store.Open(ctx, loc)
	if err != nil {
		return err
	}
	defer st2.Close()
	return prioritizeFixture(ctx, st2, fixturePrioDays, true)
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func buildFixture(dir string) (string, time.Time, error) {
	ctx := context.Background()
	d := gen.New(gen.Config{Seed: 7, Hosts: fixtureHosts, QIDs: 400, CVEs: 600})
	kb, hld, nvd, err := gen.WriteFiles(dir, d, false)
	if err != nil {
		return "", time.Time{}, err
	}
	path := filepath.Join(dir, "qvt.db")
	xssKB, xssHLD := filepath.Join(dir, "xss-kb.xml"), filepath.Join(dir, "xss-hld.xml")
	if err := writeXSS(xssKB, xssHLD, d.Now(0), 443, xssGonePort); err != nil {
		return "", time.Time{}, err
	}
	steps := [][]string{{kb, nvd, hld, xssKB, xssHLD}}
	for e := 1; e <= fixtureDays; e++ {
		p := filepath.Join(dir, fmt.Sprintf("day%d.xml", e))
		var buf bytes.Buffer
		if err := gen.WriteHostListDetection(&buf, d, d.HostsProcessedSince(d.Now(e-1), e), e, nil); err != nil {
			return "", time.Time{}, err
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return "", time.Time{}, err
		}
		steps = append(steps, []string{p})
	}
	// The hostile host scanned again without one of its findings: it is
	// gone.
	xssKB2, xssHLD2 := filepath.Join(dir, "xss-kb2.xml"), filepath.Join(dir, "xss-hld2.xml")
	if err := writeXSS(xssKB2, xssHLD2, d.Now(fixtureDays), 443); err != nil {
		return "", time.Time{}, err
	}
	steps = append(steps, []string{xssHLD2})
	// A finding published to Jira, a QID published as a group, and a sync.
	now := d.Now(fixtureDays).Add(10 * time.Hour)
	fixtureSteps = steps
	fixturePrioDays = []time.Time{d.Now(fixtureDays - 1), d.Now(fixtureDays)}
	fixtureSQL = []string{
		`INSERT INTO publish_map (target, item, remote) VALUES ('jira', '` + xssIP + `:990001:443', 'SEC-42')`,
		`INSERT INTO sync_runs (kind, started_at, finished_at, status) VALUES ('incremental', ` +
			fmt.Sprint(d.Now(fixtureDays).Unix()) + `, ` + fmt.Sprint(d.Now(fixtureDays).Unix()+95) + `, 'done')`,
	}
	if err := importFixture(ctx, path); err != nil {
		return "", time.Time{}, err
	}
	return path, now, nil
}

// writeXSS writes a KB entry with hostile text and a host that has it.
func writeXSS(kbPath, hldPath string, at time.Time, ports ...int) error {
	var kb bytes.Buffer
	w := qualys.NewKBWriter(&kb, at.Format(time.RFC3339))
	v := &qualys.Vuln{QID: xssQID, VulnType: "Vulnerability", Severity: 5,
		Title:    `Hostile <script>window.__xss="title"</script> KB entry`,
		Category: "General remote services", Published: "2026-01-01T00:00:00Z", LastModified: "2026-01-02T00:00:00Z",
		Diagnosis: xssText, Consequence: "Plain text\nover two lines & an ampersand", Solution: xssText,
		CVEs:       []string{"CVE-2024-3094"},
		VendorRefs: []qualys.Ref{{ID: "VENDOR-1", URL: "javascript:alert(1)"}, {ID: "VENDOR-2", URL: "https://vendor.example/2"}},
		CVSSv3:     qualys.CVSS{Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H/E:H/RL:O/RC:C", Version: "3.1"},
	}
	if err := w.Vuln(v); err != nil {
		return err
	}
	if err := w.Close(nil); err != nil {
		return err
	}
	var hld bytes.Buffer
	hw := qualys.NewHostListDetectionWriter(&hld, at.Format(time.RFC3339))
	first := at.Add(-40 * 24 * time.Hour).Format(time.RFC3339)
	h := &qualys.Host{ID: xssHostID, IP: xssIP, OS: "Linux <b>bold</b>", DNS: `evil"><script>window.__xss='dns'</script>`,
		LastVMScanned: at.Format(time.RFC3339), Tags: []qualys.Tag{{ID: 1, Name: `DMZ <i>"quoted"</i>`}}}
	for _, port := range ports {
		h.Detections = append(h.Detections, qualys.Detection{QID: xssQID, Port: port, Protocol: "tcp", Type: "Confirmed", Severity: 5,
			Status: "Active", FirstFound: first, LastFound: at.Format(time.RFC3339), TimesFound: 4,
			Results: "<script>window.__xss='results'</script>\tTLS 1.0 enabled"})
	}
	if err := hw.Host(h); err != nil {
		return err
	}
	if err := hw.Close(nil); err != nil {
		return err
	}
	if err := os.WriteFile(kbPath, kb.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(hldPath, hld.Bytes(), 0o644)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// newTestServer serves the fixture (SQLite).
func newTestServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	return newServerAt(t, filepath.Join(t.TempDir(), "qvt.db"), cfg)
}

// newServerAt serves the fixture at a new store location (storetest).
func newServerAt(t testing.TB, loc string, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	st, now := fixtureStoreAt(t, loc)
	if cfg.JiraURL == "" {
		cfg.JiraURL = "https://jira.example.com"
	}
	s, err := New(st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now }
	t.Cleanup(func() { s.Close() })
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

// get fetches a path and returns status, headers and body.
func get(t testing.TB, hs *httptest.Server, path string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", hs.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // the client sends req.Host, not a Host header
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(b)
}

func mustContain(t testing.TB, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// storeOpen opens an empty store (SQLite).
func storeOpen(t testing.TB) (*store.Store, error) {
	return storeOpenAt(t, filepath.Join(t.TempDir(), "empty.db"))
}

// storeOpenAt opens an empty store at a new location (storetest).
func storeOpenAt(t testing.TB, loc string) (*store.Store, error) {
	st, err := store.Open(context.Background(), loc)
	if err == nil {
		t.Cleanup(func() { st.Close() })
	}
	return st, err
}

func newHTTPTest(s *Server) *httptest.Server { return httptest.NewServer(s.Handler()) }
