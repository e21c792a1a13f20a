package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeAddr is a loopback address nothing listens on at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitGet polls url until it answers, for up to a minute.
func waitGet(t *testing.T, url string, done <-chan int) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("qvt exited with %d before serving", code)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
			}
			return string(body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: nothing answered in a minute", url)
	return ""
}

// The demo syncs from the API double twice, then serves the dashboard
// on the store it filled, until interrupted.
func TestDemoServes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--db", db, "demo", "--hosts", "40", "--addr", addr}, &out, &errb, func(string) string { return "" })
	}()
	page := waitGet(t, "http://"+addr+"/", done)
	if !strings.Contains(page, "Critical") {
		t.Errorf("the overview does not show a Critical count:\n%.500s", page)
	}
	api := waitGet(t, "http://"+addr+"/api/findings?status=open", done)
	if !strings.Contains(api, `"key"`) {
		t.Errorf("/api/findings lists no finding:\n%.500s", api)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("demo exited %d after the interrupt\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop when interrupted")
	}
	for _, want := range []string{"A day later", "Dashboard: http://" + addr + "/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDemoNoServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	out := mustRun(t, "--db", db, "demo", "--hosts", "40", "--no-serve")
	if strings.Contains(out, "Dashboard:") {
		t.Errorf("--no-serve served:\n%s", out)
	}
	csv := mustRun(t, "--db", db, "export", "--format", "csv", "--status", "open")
	if n := strings.Count(csv, "\n"); n < 10 {
		t.Errorf("the demo store holds %d open findings, want many:\n%s", n-1, csv)
	}
}

// Beyond loopback the dashboard needs a login.
func TestServeRefusesOpenAddressWithoutLogin(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	// A serve that does not refuse runs until its deadline, then fails
	// the test, rather than hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := Run(ctx, []string{"--db", db, "serve", "--addr", "0.0.0.0:0"}, &out, &errb, func(string) string { return "" })
	if errs := errb.String(); code != 1 || !strings.Contains(errs, "without a login") {
		t.Errorf("serve on 0.0.0.0 without a login: exit %d, %s", code, errs)
	}
}
