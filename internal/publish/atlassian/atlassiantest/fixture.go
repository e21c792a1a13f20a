package atlassiantest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"qvt/internal/assess"
	"qvt/internal/clock"
	"qvt/internal/load"
	"qvt/internal/qualys"
	"qvt/internal/store"
)

// Scan is one Host List Detection response: the data of one time.
type Scan struct {
	Datetime string // the response's DATETIME, e.g. 2026-01-08T00:00:00Z
	Hosts    []*qualys.Host
}

// Det is a detection. Severity drives the rating of QIDs the KB lacks
// (5 Critical, 4 High, 3 Medium, 2 and 1 Low).
func Det(qid, port, severity int, status, first, last string) qualys.Detection {
	d := qualys.Detection{QID: qid, Port: port, Type: "Confirmed", Severity: severity, Status: status,
		FirstFound: first, LastFound: last, TimesFound: 3, Results: fmt.Sprintf("QID %d detected on port %d.", qid, port)}
	if port != 0 {
		d.Protocol = "tcp"
	}
	if status == "Fixed" {
		d.LastFixed = last
	}
	if status == "Re-Opened" {
		d.LastReopened = last
		d.TimesReopened = 1
	}
	return d
}

// Host is a host scanned at scanned with dets.
func Host(id int64, ip, dns, scanned string, dets ...qualys.Detection) *qualys.Host {
	return &qualys.Host{ID: id, IP: ip, OS: "Linux", DNS: dns, LastVMScanned: scanned, Detections: dets}
}

// root is the module's directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// KB is the worked example's KnowledgeBase (QID 105936, with a CVSS v3
// vector, a CVE and a solution in HTML).
func KB() string { return filepath.Join(root(), "internal", "app", "testdata", "worked", "kb.xml") }

// NewStore opens a store in a temporary directory with the worked KB.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	return NewStoreAt(t, filepath.Join(t.TempDir(), "qvt.db"))
}

// NewStoreAt opens a new store at loc (a file or a postgres:// URL) with
// the worked KB.
func NewStoreAt(t testing.TB, loc string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	Import(t, st)
	return st
}

// Import writes the scans as files and imports them, with the worked KB,
// through the real loader.
func Import(t testing.TB, st *store.Store, scans ...Scan) {
	t.Helper()
	paths := []string{KB()}
	dir := t.TempDir()
	for i, s := range scans {
		var buf bytes.Buffer
		w := qualys.NewHostListDetectionWriter(&buf, s.Datetime)
		for _, h := range s.Hosts {
			if err := w.Host(h); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(nil); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("scan%d.xml", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	// As the commands do, the loader's "now" is QVT_NOW's when it is set:
	// it applies the exceptions as of then.
	if _, err := (&load.Loader{Policy: assess.DefaultPolicy(), Now: clock.Now}).Files(context.Background(), st, paths); err != nil {
		t.Fatal(err)
	}
}
