package app

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qvt/internal/web"
)

func TestHealthURL(t *testing.T) {
	cases := []struct {
		addr, cert string
		want       string
	}{
		{"", "", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "", "http://127.0.0.1:8080/healthz"},
		{":9090", "", "http://127.0.0.1:9090/healthz"},
		{"[::]:8080", "", "http://[::1]:8080/healthz"},
		{"10.1.2.3:8443", "/etc/qvt/cert.pem", "https://10.1.2.3:8443/healthz"},
		{"localhost:8080", "", "http://localhost:8080/healthz"},
		{"8080", "", ""}, // no port: an error naming web.addr
	}
	for _, c := range cases {
		got, err := healthURL(web.Config{Addr: c.addr, TLSCert: c.cert})
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "web.addr (QVT_WEB_ADDR)") {
				t.Errorf("healthURL(%q) = %q, %v; want an error naming web.addr", c.addr, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("healthURL(%q, cert %q) = %q, %v; want %q", c.addr, c.cert, got, err, c.want)
		}
	}
}

// qvt healthcheck against a real qvt serve: ok while it serves, a failure
// naming the URL once it has stopped.
func TestHealthcheckServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, "--db", db, "import", qualysData+"kb_demisto_2qids.xml")
	addr := freeAddr(t)
	env := map[string]string{"QVT_DB": db, "QVT_WEB_ADDR": addr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		served <- Run(ctx, []string{"serve"}, io.Discard, &serveErr, func(k string) string { return env[k] })
	}()
	waitGet(t, "http://"+addr+"/healthz", served)

	url := "http://" + addr + "/healthz"
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "--url", url}, {"healthcheck", "--url", "http://localhost" + addr[strings.LastIndex(addr, ":"):] + "/healthz", "--timeout", "3s"}} {
		code, out, errs := qvt(t, env, args...)
		if code != 0 || !strings.HasPrefix(out, "ok: http://") {
			t.Errorf("qvt %q while serving: exit %d, %q %q", args, code, out, errs)
		}
	}

	cancel()
	if code := <-served; code != 0 && code != ExitInterrupted {
		t.Fatalf("serve: exit %d\n%s", code, serveErr.String())
	}
	code, out, errs := qvt(t, env, "healthcheck")
	if code != ExitFailure || out != "" || !strings.Contains(errs, "GET "+url) || !strings.Contains(errs, "refused") {
		t.Errorf("qvt healthcheck once serve stopped: exit %d, %q %q; want 1 and the refusal", code, out, errs)
	}
}

// What else may answer: qvt's own 503 when its store is unreachable,
// another program on the port, a redirect.
func TestHealthcheckAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"store unreachable", http.StatusServiceUnavailable, `{"error":"store unreachable","status":"unavailable"}`, "503 Service Unavailable: store unreachable"},
		{"another server", http.StatusOK, "<html><body>It works!</body></html>", "not qvt's health answer"},
		{"ok but not ok", http.StatusOK, `{"status":"starting"}`, "not qvt's health answer"},
		{"redirect", http.StatusFound, "", "302 Found"},
		{"healthy", http.StatusOK, `{"status":"ok"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" || r.Header.Get("Authorization") != "" {
					t.Errorf("asked %s with Authorization %q", r.URL.Path, r.Header.Get("Authorization"))
				}
				if c.status == http.StatusFound {
					w.Header().Set("Location", "http://192.0.2.1/healthz")
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			code, _, errs := qvt(t, nil, "healthcheck", "--url", srv.URL+"/healthz")
			if c.want == "" {
				if code != 0 {
					t.Errorf("exit %d (%s), want 0", code, errs)
				}
				return
			}
			if code != ExitFailure || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, c.want)
			}
		})
	}
}

func TestHealthcheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{"healthcheck", "--url", "ftp://127.0.0.1/healthz"},
		{"healthcheck", "--url", "127.0.0.1:8080/healthz"},
		{"healthcheck", "--url", "http://admin:hunter2-secret@127.0.0.1:8080/healthz"},
		{"healthcheck", "--timeout", "0s"},
		{"healthcheck", "extra"},
	} {
		code, _, errs := qvt(t, nil, args...)
		if code != ExitUsage || errs == "" {
			t.Errorf("qvt %q: exit %d %q, want a usage error", args, code, errs)
		}
		if strings.Contains(errs, "hunter2-secret") {
			t.Errorf("qvt %q prints the URL's password: %s", args, errs)
		}
	}
}

// Over HTTPS to its own address the probe accepts only the configured
// certificate: the name in it cannot be 127.0.0.1.
func TestHealthcheckTLS(t *testing.T) {
	ok := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	}))
	defer ok.Close()
	dir := t.TempDir()
	certFile := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(p, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	addr := strings.TrimPrefix(ok.URL, "https://")
	env := map[string]string{"QVT_WEB_ADDR": addr, "QVT_WEB_TLS_CERT": certFile("ok.pem", ok.Certificate().Raw), "QVT_WEB_TLS_KEY": filepath.Join(dir, "key.pem")}
	if code, out, errs := qvt(t, env, "healthcheck"); code != 0 || out != "ok: https://"+addr+"/healthz\n" {
		t.Errorf("with the server's own certificate: exit %d, %q %q", code, out, errs)
	}
	// Another certificate than the server's (the bytes need not parse:
	// they are compared, not verified).
	env["QVT_WEB_TLS_CERT"] = certFile("other.pem", []byte("another certificate"))
	if code, _, errs := qvt(t, env, "healthcheck"); code != ExitFailure || !strings.Contains(errs, "does not present web.tls_cert's certificate") {
		t.Errorf("with another certificate configured: exit %d, %q; want 1", code, errs)
	}
	// And an explicit https URL is verified as usual: httptest's
	// certificate is not trusted by the system.
	if code, _, errs := qvt(t, nil, "healthcheck", "--url", ok.URL+"/healthz", "--timeout", (5 * time.Second).String()); code != ExitFailure || !strings.Contains(errs, "certificate") {
		t.Errorf("an explicit https URL with an untrusted certificate: exit %d, %q; want 1", code, errs)
	}
}
