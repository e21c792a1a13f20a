package download

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// noSleep records the waits instead of sleeping them.
func noSleep(waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return ctx.Err()
	}
}

// readAll is a reader that wants the whole body, as a decoder would.
func readAll(got *string) func(io.Reader) error {
	return func(r io.Reader) error {
		b, err := io.ReadAll(r)
		*got = string(b)
		return err
	}
}

// cutHandler promises a body of size n and sends only its first half, then
// drops the connection: a download cut mid-stream.
func cut(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Length", "999999")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body[:len(body)/2])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func TestGetRetries(t *testing.T) {
	const body = "cve,epss,percentile\nCVE-2021-0001,0.1,0.5\n"
	for _, tc := range []struct {
		name    string
		answers []func(http.ResponseWriter)
		calls   int
		want    string // error substring; "" for success
	}{
		{"503 then success", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.WriteHeader(503) },
			func(w http.ResponseWriter) { io.WriteString(w, body) },
		}, 2, ""},
		{"cut then success", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { cut(w, body) },
			func(w http.ResponseWriter) { io.WriteString(w, body) },
		}, 2, ""},
		{"429 with Retry-After", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.Header().Set("Retry-After", "3"); w.WriteHeader(429) },
			func(w http.ResponseWriter) { io.WriteString(w, body) },
		}, 2, ""},
		{"404 not retried", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.WriteHeader(404) },
		}, 1, "test: GET http://"},
		{"Retry-After too long", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.Header().Set("Retry-After", "3600"); w.WriteHeader(503) },
		}, 1, "asks to wait 1h0m0s (Retry-After), more than the 10m0s allowed"},
		{"always 503", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.WriteHeader(503) },
		}, 3, "test: giving up after 3 attempts; last: test: GET http://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			var ua string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				ua = r.Header.Get("User-Agent")
				tc.answers[min(i, len(tc.answers)-1)](w)
			}))
			defer srv.Close()
			var waits []time.Duration
			var got string
			err := Get(context.Background(), Config{Name: "test", URL: srv.URL + "/f.csv", MaxAttempts: 3, BaseDelay: time.Second, Sleep: noSleep(&waits), UserAgent: "qvt/test"}, readAll(&got))
			if int(n.Load()) != tc.calls {
				t.Errorf("%d calls, want %d", n.Load(), tc.calls)
			}
			if ua != "qvt/test" {
				t.Errorf("User-Agent %q", ua)
			}
			if tc.want == "" {
				if err != nil || got != body {
					t.Fatalf("err = %v, body %q", err, got)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tc.name == "429 with Retry-After" && (len(waits) != 1 || waits[0] < 3*time.Second) {
				t.Errorf("waits %v, want at least the 3s asked", waits)
			}
		})
	}
}

// TestGetPermanent: a decoder's verdict or a callback's error is not
// retried, and Permanent's error comes back as it was given.
func TestGetPermanent(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	mine := errors.New("store full")
	cfg := Config{Name: "test", URL: srv.URL, Sleep: noSleep(new([]time.Duration))}
	if err := Get(context.Background(), cfg, func(r io.Reader) error { io.ReadAll(r); return Permanent(mine) }); err != mine {
		t.Errorf("err = %v, want the callback's own", err)
	}
	bad := errors.New("epss: line 1: header \"hello\"")
	if err := Get(context.Background(), cfg, func(r io.Reader) error { io.ReadAll(r); return bad }); !errors.Is(err, bad) || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("err = %v, want the decoder's naming the URL", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d calls, want 2 (no retries)", n.Load())
	}
}

// TestGetUnreachable: a server that refuses connections is given the
// connect budget, not every attempt.
func TestGetUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var waits []time.Duration
	err = Get(context.Background(), Config{Name: "test", URL: "http://" + addr + "/f", MaxAttempts: 100, BaseDelay: 4 * time.Second,
		ConnectBudget: 5 * time.Second, Sleep: noSleep(&waits)}, func(io.Reader) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "test: cannot reach http://"+addr+"/f") {
		t.Fatalf("err = %v", err)
	}
	if len(waits) > 3 {
		t.Errorf("%d retries of an unreachable server under a 5s budget", len(waits))
	}
}

func TestCheckURL(t *testing.T) {
	for raw, want := range map[string]string{
		"ftp://x/f":             "must start with https://",
		"https:///f":            "names no host",
		"https://u:p@host/feed": `"https://u:xxxxx@host/feed" must not carry credentials`,
		"https://host/f#x":      "",
	} {
		_, err := CheckURL("kev", raw)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: err = %v, want %q", raw, err, want)
		}
	}
}

// TestGetCutBehindDecoderError: a decoder may report a body cut short as
// bad data (a CSV row cut mid-way has too few fields); the transport's
// error decides, and the download is retried.
func TestGetCutBehindDecoderError(t *testing.T) {
	const body = "cve,epss,percentile\nCVE-2021-0001,0.1,0.5\nCVE-2021-0002,0.2,0.5\n"
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			cut(w, body)
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	read := func(r io.Reader) error {
		b, _ := io.ReadAll(r)
		if string(b) != body {
			return errors.New("line 3: 2 columns, want 3") // what a decoder says of a cut row
		}
		return nil
	}
	err := Get(context.Background(), Config{Name: "test", URL: srv.URL, Sleep: noSleep(new([]time.Duration))}, read)
	if err != nil || n.Load() != 2 {
		t.Errorf("err = %v after %d calls; want success on the second", err, n.Load())
	}
}
