package nvd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qvt/internal/retry"
)

// TestBackoffBounds: each wait before a retry lies between half the
// ceiling BaseDelay·2^(attempt−1), capped at MaxDelay, and the ceiling.
func TestBackoffBounds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) {
		c.MaxAttempts, c.BaseDelay, c.MaxDelay, c.Requests = 9, time.Second, 10*time.Second, 1000
	})
	if _, _, err := collect(tc.Client, context.Background(), Query{}); err == nil {
		t.Fatal("no error")
	}
	sl := tc.clock.allSleeps()
	if len(sl) != 8 {
		t.Fatalf("sleeps %v, want 8", sl)
	}
	for i, d := range sl {
		ceil := min(time.Second<<i, 10*time.Second)
		if d < ceil/2 || d > ceil {
			t.Errorf("wait before attempt %d: %v, want within [%v, %v]", i+2, d, ceil/2, ceil)
		}
	}
}

// TestUnreachable: a refused connection or an unknown host is retried
// within ConnectBudget (not MaxAttempts with the full backoff), then fails
// naming the URL and the cause, without the key.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/rest/json/cves/2.0"
	l.Close()
	for _, tt := range []struct{ name, base, cause string }{
		{"refused", closed, "connection refused"},
		{"unknown host", "http://qvt-test.invalid/rest/json/cves/2.0", "qvt-test.invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestClient(t, tt.base, func(c *ClientConfig) {
				c.MaxAttempts, c.BaseDelay, c.MaxDelay, c.APIKey = 8, 2*time.Second, 5*time.Minute, testKey // the defaults
			})
			_, _, err := collect(tc.Client, context.Background(), Query{})
			var e *Error
			if !errors.As(err, &e) || e.Attempts < 2 || e.Attempts >= 8 {
				t.Fatalf("err %v, want to give up before MaxAttempts", err)
			}
			var sum time.Duration
			for _, d := range tc.clock.allSleeps() {
				sum += d
			}
			// The attempts' own time counts too: a slow DNS server leaves
			// less to wait.
			if sum > retry.DefaultConnectBudget || tt.name == "refused" && sum < retry.DefaultConnectBudget-time.Second {
				t.Errorf("waited %v (%v), want about the %v budget", sum, tc.clock.allSleeps(), retry.DefaultConnectBudget)
			}
			msg := err.Error()
			if !strings.Contains(msg, "cannot reach "+tt.base+"?") || !strings.Contains(msg, tt.cause) || strings.Contains(msg, testKey) || len(msg) > 300 {
				t.Errorf("error %q: want one line naming the URL and %q", msg, tt.cause)
			}
		})
	}
}

// TestMaxWait: a Retry-After beyond MaxWait fails with the reason, without
// sleeping; one within it is slept.
func TestMaxWait(t *testing.T) {
	for _, status := range []int{403, 429, 503} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(status)
		}))
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxWait = 10 * time.Minute })
		_, _, err := collect(tc.Client, context.Background(), Query{})
		if err == nil || !strings.Contains(err.Error(), "wait 1h0m0s (Retry-After)") || !strings.Contains(err.Error(), "--max-wait") ||
			!strings.Contains(err.Error(), "HTTP "+strconv.Itoa(status)) || len(tc.clock.allSleeps()) != 0 || tc.Stats().Calls != 1 {
			t.Errorf("%d: err %v, sleeps %v, %d calls", status, err, tc.clock.allSleeps(), tc.Stats().Calls)
		}
		srv.Close()
	}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "599")
			w.WriteHeader(429)
			return
		}
		w.Write(apiPage(1, 0, 1, "t"))
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxWait = 10 * time.Minute })
	if _, _, err := collect(tc.Client, context.Background(), Query{}); err != nil || len(tc.clock.allSleeps()) != 1 || tc.clock.allSleeps()[0] != 599*time.Second {
		t.Errorf("within: err %v, sleeps %v", err, tc.clock.allSleeps())
	}
}

// TestBodyTimeout: a server that keeps sending a byte now and then (so
// the idle timeout never fires) is cut off after BodyTimeout, and not
// retried; the time the callback takes does not count.
func TestBodyTimeout(t *testing.T) {
	good := apiPage(3, 0, 3, "t")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") == "" {
			w.Write(good)
			return
		}
		for _, b := range good {
			w.Write([]byte{b})
			w.(http.Flusher).Flush()
			select {
			case <-time.After(20 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL+"/?slow=1", func(c *ClientConfig) { c.ReadTimeout, c.BodyTimeout = time.Second, 300*time.Millisecond })
	start := time.Now()
	_, _, err := collect(tc.Client, context.Background(), Query{})
	if err == nil || !strings.Contains(err.Error(), "took longer than 300ms") || !strings.Contains(err.Error(), srv.URL+"/?slow=1&") ||
		tc.Stats().Calls != 1 || time.Since(start) > 3*time.Second {
		t.Errorf("err %v after %v and %d calls", err, time.Since(start), tc.Stats().Calls)
	}
	// A callback slower than the deadline: the server sends the first
	// record at once, the next 350ms later and the rest 150ms after that;
	// the callback takes 400ms over the first record. The client then waits
	// about 100ms inside reads in all, within the 300ms.
	cut := bytes.Index(good, []byte(`,{"cve"`))
	cut2 := cut + 1 + bytes.Index(good[cut+1:], []byte(`,{"cve"`))
	split := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(good[:cut])
		w.(http.Flusher).Flush()
		time.Sleep(350 * time.Millisecond)
		w.Write(good[cut:cut2])
		w.(http.Flusher).Flush()
		time.Sleep(150 * time.Millisecond)
		w.Write(good[cut2:])
	}))
	defer split.Close()
	tc = newTestClient(t, split.URL, func(c *ClientConfig) { c.ReadTimeout, c.BodyTimeout = time.Second, 300*time.Millisecond })
	n := 0
	_, err = tc.CVEs(context.Background(), Query{}, func(*CVE) error {
		if n++; n == 1 {
			time.Sleep(400 * time.Millisecond)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("slow callback: %d records, %v", n, err)
	}
}

// TestRedirectKeepsKey: a redirect to the same origin keeps the apiKey
// header; one to another origin (another port of the same host) arrives
// without it.
func TestRedirectKeepsKey(t *testing.T) {
	var keyed, plain atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("apiKey") != "" {
			keyed.Add(1)
		} else {
			plain.Add(1)
		}
		w.Write(apiPage(1, 0, 1, "t"))
	}))
	defer other.Close()
	var homeKeyed atomic.Int32
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here?"+r.URL.RawQuery, http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.URL+"/there?"+r.URL.RawQuery, http.StatusFound)
		default:
			if r.Header.Get("apiKey") == testKey {
				homeKeyed.Add(1)
			}
			w.Write(apiPage(1, 0, 1, "t"))
		}
	}))
	defer home.Close()
	for _, path := range []string{"/moved", "/away"} {
		tc := newTestClient(t, home.URL+path, func(c *ClientConfig) { c.APIKey = testKey })
		if _, _, err := collect(tc.Client, context.Background(), Query{}); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if homeKeyed.Load() != 1 || plain.Load() != 1 || keyed.Load() != 0 {
		t.Errorf("same origin got the key %d times (want 1); the other origin %d times with it, %d without (want 0, 1)",
			homeKeyed.Load(), keyed.Load(), plain.Load())
	}
}
