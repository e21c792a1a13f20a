package kev

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func noSleep(context.Context, time.Duration) error { return nil }

// TestFetch: the feed server fails once with 503, then cuts the body off
// mid-stream, then answers; Fetch returns the whole catalog.
func TestFetch(t *testing.T) {
	feed := open(t, "known_exploited_vulnerabilities_2025-08-25.json.gz")
	var n atomic.Int32
	var ua, accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua, accept = r.Header.Get("User-Agent"), r.Header.Get("Accept")
		if r.Header.Get("Authorization") != "" || r.URL.RawQuery != "" {
			t.Errorf("a public feed asked with credentials or parameters: %v %q", r.Header, r.URL.RawQuery)
		}
		switch n.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Length", "1257565")
			w.Write(feed[:600000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write(feed)
		}
	}))
	defer srv.Close()
	c := NewClient(ClientConfig{URL: srv.URL + "/feeds/known_exploited_vulnerabilities.json", Sleep: noSleep})
	cat, err := c.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Entries) != 1404 || cat.Version != "2025.08.25" || n.Load() != 3 {
		t.Errorf("%d entries, version %q after %d calls", len(cat.Entries), cat.Version, n.Load())
	}
	if !strings.HasPrefix(ua, "qvt/") || !strings.Contains(accept, "application/json") {
		t.Errorf("User-Agent %q, Accept %q", ua, accept)
	}
}

// TestFetchMalformed: a catalog that is wrong is not fetched again.
func TestFetchMalformed(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, `{"catalogVersion":"x","vulnerabilities":[{"cveID":"CVE-2021-1"}]}`)
	}))
	defer srv.Close()
	_, err := NewClient(ClientConfig{URL: srv.URL, Sleep: noSleep}).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), `kev: entry 0, "CVE-2021-1": cveID`) || n.Load() != 1 {
		t.Errorf("err = %v after %d calls", err, n.Load())
	}
	if _, err := NewClient(ClientConfig{URL: "https://user:secret@example.com/kev.json"}).Fetch(context.Background()); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a URL with credentials: %v", err)
	}
}
