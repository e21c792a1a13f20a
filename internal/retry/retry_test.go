package retry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// TestBackoff checks every wait against the documented bounds: at least
// half the ceiling base·2^(attempt-1) capped at max, at most the ceiling,
// and spread between the two.
func TestBackoff(t *testing.T) {
	for _, tc := range []struct{ base, max time.Duration }{
		{time.Second, time.Minute},
		{2 * time.Second, 5 * time.Minute},
		{time.Millisecond, 4 * time.Millisecond},
	} {
		for attempt := 1; attempt <= 40; attempt++ {
			ceil := min(tc.base<<min(attempt-1, 30), tc.max)
			lo, hi := ceil, time.Duration(0)
			for range 200 {
				d := Backoff(tc.base, tc.max, attempt)
				if d < ceil/2 || d > ceil {
					t.Fatalf("base %v max %v attempt %d: %v outside [%v, %v]", tc.base, tc.max, attempt, d, ceil/2, ceil)
				}
				lo, hi = min(lo, d), max(hi, d)
			}
			// Jitter: 200 draws from a range this wide are not all equal
			// (and reach both quarters of it).
			if hi-lo < ceil/4 {
				t.Fatalf("base %v max %v attempt %d: 200 waits all within [%v, %v]: not jittered", tc.base, tc.max, attempt, lo, hi)
			}
		}
	}
	if d := Backoff(0, 0, 3); d != 0 {
		t.Errorf("no base: %v", d)
	}
}

func TestCeiling(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{0, time.Minute}, {1, time.Second}, {2, 2 * time.Second}, {6, 32 * time.Second}, {7, time.Minute}, {31, time.Minute}, {1000, time.Minute}} {
		if got := Ceiling(time.Second, time.Minute, tc.attempt); got != tc.want {
			t.Errorf("attempt %d: %v, want %v", tc.attempt, got, tc.want)
		}
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); err == nil || time.Since(start) > time.Second {
		t.Errorf("Sleep on a done context: %v after %v", err, time.Since(start))
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
}

func TestIsConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, refused := http.Get("http://" + addr + "/")
	_, unknown := http.Get("http://qvt-test.invalid/")
	bare := &net.DNSError{Err: "no such host", Name: "qvt-test.invalid", IsNotFound: true} // as a custom dialer may return it
	for _, err := range []error{refused, unknown, bare} {
		if err == nil || !IsConnect(err) {
			t.Errorf("%v: not a connection failure", err)
		}
	}
	for _, err := range []error{nil, errors.New("x"), &net.OpError{Op: "read", Err: errors.New("reset")}} {
		if IsConnect(err) {
			t.Errorf("%v: a connection failure", err)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://h/a", "https://h:443/b?c", true},
		{"http://h/", "http://H:80/", true},
		{"https://h/", "http://h/", false},
		{"https://h/", "https://h:8443/", false},
		{"https://h/", "https://g/", false},
		{"https://h/", "https://sub.h/", false},
	} {
		if got := SameOrigin(u(tc.a), u(tc.b)); got != tc.same {
			t.Errorf("%s %s: %v", tc.a, tc.b, got)
		}
	}
}

// TestKeepCredentials redirects from one server to another (another
// port of the same host: Go's own policy keeps Authorization there) and
// back: the credentials reach only the first origin.
func TestKeepCredentials(t *testing.T) {
	type seen struct{ auth, key string }
	got := make(chan seen, 10)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("apiKey")}
		w.WriteHeader(200)
	}))
	defer other.Close()
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("apiKey")}
		if r.URL.Path == "/start" {
			http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
		}
	}))
	defer first.Close()
	hc := KeepCredentials(&http.Client{}, "Authorization", "apiKey")
	req, _ := http.NewRequest("GET", first.URL+"/start", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header["apiKey"] = []string{"k3y"}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if s := <-got; s.auth == "" || s.key == "" {
		t.Errorf("first origin got %+v, want the credentials", s)
	}
	if s := <-got; s.auth != "" || s.key != "" {
		t.Errorf("the other origin got %+v", s)
	}
}
