package qualys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qvt/internal/retry"
)

// TestBackoffBounds: each wait before a retry lies between half the
// ceiling BaseDelay·2^(attempt−1), capped at MaxDelay, and the ceiling.
func TestBackoffBounds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) {
		c.MaxAttempts, c.BaseDelay, c.MaxDelay = 9, time.Second, 10*time.Second
	})
	if _, err := tc.KB(context.Background(), nil, func(*Vuln) error { return nil }); err == nil {
		t.Fatal("no error")
	}
	sl := tc.sleeps.all()
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

// closedURL is a loopback URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// TestUnreachable: a refused connection or an unknown host is retried
// within ConnectBudget (not MaxAttempts with the full backoff), then fails
// naming the URL and the cause.
func TestUnreachable(t *testing.T) {
	for _, tt := range []struct{ name, base, cause string }{
		{"refused", closedURL(t), "connection refused"},
		{"unknown host", "http://qvt-test.invalid", "qvt-test.invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestClient(t, tt.base, func(c *ClientConfig) {
				c.MaxAttempts, c.BaseDelay, c.MaxDelay = 8, 2*time.Second, 5*time.Minute // the defaults
			})
			_, _, err := collectHosts(tc.Client, context.Background(), nil)
			var e *Error
			if !errors.As(err, &e) || e.Attempts < 2 || e.Attempts >= 8 {
				t.Fatalf("err %v, want to give up before MaxAttempts", err)
			}
			var sum time.Duration
			for _, d := range tc.sleeps.all() {
				sum += d
			}
			// The attempts' own time counts too: a slow DNS server leaves
			// less to wait.
			if sum > retry.DefaultConnectBudget || tt.name == "refused" && sum < retry.DefaultConnectBudget-time.Second {
				t.Errorf("waited %v (%v), want about the %v budget", sum, tc.sleeps.all(), retry.DefaultConnectBudget)
			}
			msg := err.Error()
			if !strings.Contains(msg, "cannot reach "+tt.base+EndpointDetections) || !strings.Contains(msg, tt.cause) || len(msg) > 300 {
				t.Errorf("error %q: want one line naming the URL and %q", msg, tt.cause)
			}
			tc.noSecrets(t, err)
		})
	}
	// With the real clock: a short budget ends a call in about its time.
	tc := newTestClient(t, closedURL(t), func(c *ClientConfig) {
		c.Sleep, c.ConnectBudget, c.BaseDelay, c.MaxDelay, c.MaxAttempts = nil, 300*time.Millisecond, 100*time.Millisecond, time.Second, 100
	})
	start := time.Now()
	if _, _, err := collectHosts(tc.Client, context.Background(), nil); err == nil || time.Since(start) < 300*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Errorf("err %v after %v, want a failure after about 300ms", err, time.Since(start))
	}
}

// TestMaxWait: a wait asked for beyond MaxWait fails with the reason,
// without sleeping or a retry; one within it is slept.
func TestMaxWait(t *testing.T) {
	rateLimited := func(secs int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-ToWait-Sec", fmt.Sprint(secs))
			w.WriteHeader(409)
			w.Write(simpleReturn(t, 1965, fmt.Sprintf("This API cannot be run again for another %d seconds.", secs), nil))
		}
	}
	t.Run("409 1965", func(t *testing.T) {
		srv := httptest.NewServer(rateLimited(3600))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxWait = 10 * time.Minute })
		_, _, err := collectHosts(tc.Client, context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "wait 1h0m0s") || !strings.Contains(err.Error(), "--max-wait") ||
			!strings.Contains(err.Error(), "1965") || len(tc.sleeps.all()) != 0 || tc.Stats().Calls != 1 || tc.Stats().Retries != 0 {
			t.Errorf("err %v, sleeps %v, %d calls", err, tc.sleeps.all(), tc.Stats().Calls)
		}
	})
	t.Run("503 Retry-After", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7200")
			w.WriteHeader(503)
		}))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxWait = 10 * time.Minute })
		_, _, err := collectHosts(tc.Client, context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "wait 2h0m0s") || !strings.Contains(err.Error(), "HTTP 503") || len(tc.sleeps.all()) != 0 ||
			tc.Stats().Retries != 0 {
			t.Errorf("err %v, sleeps %v", err, tc.sleeps.all())
		}
	})
	t.Run("within", func(t *testing.T) {
		var n atomic.Int32
		good := hldPage(t, "2026-11-01T00:00:00Z", nil, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				rateLimited(599)(w, r)
				return
			}
			w.Write(good)
		}))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxWait = 10 * time.Minute })
		if _, _, err := collectHosts(tc.Client, context.Background(), nil); err != nil || len(tc.sleeps.all()) != 1 {
			t.Errorf("err %v, sleeps %v", err, tc.sleeps.all())
		}
	})
	t.Run("headers of an answered call", func(t *testing.T) {
		// The call is answered but says the next may come in an hour:
		// the next one fails at once.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-ToWait-Sec", "3600")
			w.Write(kbPage(t, "2026-11-01T00:00:00Z", nil, 1))
		}))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxWait = 10 * time.Minute })
		if _, err := tc.KB(context.Background(), nil, func(*Vuln) error { return nil }); err != nil {
			t.Fatal(err)
		}
		_, err := tc.KB(context.Background(), nil, func(*Vuln) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "X-RateLimit-ToWait-Sec 3600") || !strings.Contains(err.Error(), "--max-wait") ||
			strings.Count(err.Error(), EndpointKB) != 1 || len(tc.sleeps.all()) != 0 || tc.Stats().Calls != 1 {
			t.Errorf("err %v, sleeps %v, %d calls", err, tc.sleeps.all(), tc.Stats().Calls)
		}
	})
}

// TestBodyTimeout: a server that keeps sending a byte now and then (so
// the idle timeout never fires) is cut off after BodyTimeout, and not
// retried; the time the callback takes does not count.
func TestBodyTimeout(t *testing.T) {
	good := hldPage(t, "2026-11-01T00:00:00Z", nil, 1, 2, 3)
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
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) {
		c.ReadTimeout, c.BodyTimeout = time.Second, 300*time.Millisecond
		c.HTTP = &http.Client{Transport: slowQuery{}}
	})
	start := time.Now()
	_, _, err := collectHosts(tc.Client, context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "took longer than 300ms") || !strings.Contains(err.Error(), srv.URL+EndpointDetections) ||
		tc.Stats().Calls != 1 || time.Since(start) > 3*time.Second {
		t.Errorf("err %v after %v and %d calls", err, time.Since(start), tc.Stats().Calls)
	}
	// A callback slower than the deadline: the server sends the first
	// host at once, the next 350ms later and the rest 150ms after that;
	// the callback takes 400ms over the first host. The client then waits
	// about 100ms inside reads in all, within the 300ms.
	cut := bytes.Index(good, []byte("</HOST>")) + len("</HOST>")
	cut2 := cut + bytes.Index(good[cut:], []byte("</HOST>")) + len("</HOST>")
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
	_, err = tc.Detections(context.Background(), nil, func(*Host) error {
		if n++; n == 1 {
			time.Sleep(400 * time.Millisecond)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("slow callback: %d hosts, %v", n, err)
	}
}

// slowQuery sends requests with ?slow=1, which the test server answers a
// byte at a time.
type slowQuery struct{}

func (slowQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.RawQuery = "slow=1"
	return http.DefaultTransport.RoundTrip(r)
}

// TestMaxIDs: an ID list longer than MaxIDs fails naming the URL and the
// count, before holding more than MaxIDs ids, across pages too.
func TestMaxIDs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("id_min") == "" {
			fmt.Fprint(w, `<HOST_LIST_OUTPUT><RESPONSE><DATETIME>2026-11-01T00:00:00Z</DATETIME><ID_SET><ID_RANGE>1-6</ID_RANGE></ID_SET>
<WARNING><CODE>1980</CODE><TEXT>more</TEXT><URL>https://x/api/2.0/fo/asset/host/?action=list&amp;id_min=7</URL></WARNING></RESPONSE></HOST_LIST_OUTPUT>`)
			return
		}
		fmt.Fprint(w, `<HOST_LIST_OUTPUT><RESPONSE><DATETIME>2026-11-01T00:00:00Z</DATETIME><ID_SET>`+
			strings.Repeat(`<ID_RANGE>1-49999999</ID_RANGE>`, 4)+`</ID_SET></RESPONSE></HOST_LIST_OUTPUT>`)
	}))
	defer srv.Close()
	// A small limit first: without one, the second would take 1.6 GB.
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxIDs = 6 })
	if ids, err := tc.HostIDs(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "more than 6 ids (50000005 so far)") {
		t.Fatalf("ids %d, err %v", len(ids), err)
	}
	tc = newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxIDs = 20_000_000 })
	_, err := tc.HostIDs(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), srv.URL+EndpointHostList) || !strings.Contains(err.Error(), "more than 20000000 ids (50000005 so far)") ||
		tc.Stats().Calls != 2 {
		t.Errorf("err %v after %d calls", err, tc.Stats().Calls)
	}
}

// TestRedirectKeepsCredentials: the default client does not follow a
// redirect (the other server sees nothing); a client passed in that
// follows redirects takes no password to another origin (here another
// port of the same host, where Go's own policy keeps Authorization).
func TestRedirectKeepsCredentials(t *testing.T) {
	var n, withAuth atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
		w.Write(hldPage(t, "2026-11-01T00:00:00Z", nil, 1))
	}))
	defer other.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer home.Close()
	tc := newTestClient(t, home.URL, nil)
	if _, _, err := collectHosts(tc.Client, context.Background(), nil); err == nil || !strings.Contains(err.Error(), "check the API URL") || n.Load() != 0 {
		t.Errorf("err %v, %d requests elsewhere", err, n.Load())
	}
	tc = newTestClient(t, home.URL, func(c *ClientConfig) { c.HTTP = &http.Client{} })
	collectHosts(tc.Client, context.Background(), nil)
	if n.Load() == 0 {
		t.Fatal("the redirect was not followed")
	}
	if withAuth.Load() != 0 {
		t.Errorf("the other origin got Authorization in %d of %d requests", withAuth.Load(), n.Load())
	}
}
