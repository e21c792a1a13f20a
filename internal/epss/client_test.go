package epss

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func noSleep(context.Context, time.Duration) error { return nil }

// TestFetch: 503, then a gzip file cut mid-stream, then the whole file.
// The rows of the cut attempt come again after a new header call.
func TestFetch(t *testing.T) {
	file := gz(t, rows(20000))
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("User-Agent"), "qvt/") {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
		w.Header().Set("Content-Type", "application/gzip")
		switch n.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Content-Length", "999999")
			w.Write(file[:len(file)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		default:
			w.Write(file)
		}
	}))
	defer srv.Close()
	headers, rowsSeen := 0, 0
	err := NewClient(ClientConfig{URL: srv.URL + "/epss_scores-current.csv.gz", Sleep: noSleep}).Fetch(context.Background(),
		func(h Header) error {
			if h.ModelVersion != "v2025.03.14" {
				t.Errorf("header %+v", h)
			}
			headers++
			rowsSeen = 0 // a retry starts again
			return nil
		},
		func(Score) error { rowsSeen++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 || headers != 2 || rowsSeen != 20000 {
		t.Errorf("%d calls, %d headers, %d rows at the end; want 3, 2, 20000", n.Load(), headers, rowsSeen)
	}
}

// TestFetchErrors: the caller's error comes back as it is, a malformed
// file fails naming the line, and neither is fetched again.
func TestFetchErrors(t *testing.T) {
	var n atomic.Int32
	body := rows(5)
	body = append(body, "CVE-2024-0001,2,0.5\n"...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Write(body)
	}))
	defer srv.Close()
	c := NewClient(ClientConfig{URL: srv.URL, Sleep: noSleep})
	stop := errors.New("disk full")
	if err := c.Fetch(context.Background(), nil, func(Score) error { return stop }); err != stop {
		t.Errorf("err = %v, want the callback's", err)
	}
	if err := c.Fetch(context.Background(), nil, nil); err == nil || !strings.Contains(err.Error(), `epss: line 8: epss "2" is not a number from 0 to 1`) {
		t.Errorf("err = %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d calls, want 2", n.Load())
	}
}
