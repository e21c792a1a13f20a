package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The dashboard answers only requests addressed to it: by a loopback
// name, the address it binds or a name in web.hosts. Another name may be
// a web page's own, rebound to 127.0.0.1 to read the findings (DNS
// rebinding): 421 Misdirected Request, on every route but /healthz.
func TestHostHeader(t *testing.T) {
	s, hs := newTestServer(t, Config{Addr: "10.0.0.5:8080", Hosts: []string{"Dash.Example.com", "qvt.internal:8443", "[fd00::5]"}})
	paths := routePaths(t, s)
	for _, host := range []string{"localhost", "localhost:8080", "LOCALHOST:1", "127.0.0.1", "127.0.0.1:9", "[::1]", "[::1]:8080",
		"10.0.0.5", "10.0.0.5:8080", "dash.example.com", "DASH.example.com:443", "dash.example.com.", "qvt.internal", "qvt.internal:80",
		"[fd00::5]:8080"} {
		if status, _, body := get(t, hs, paths["GET /api/summary"], "Host", host); status != http.StatusOK {
			t.Errorf("Host %s: status %d %.200s", host, status, body)
		}
	}
	for _, host := range []string{"evil.example", "evil.example:8080", "localhost.evil.example", "dash.example.com.evil.example",
		"evil-dash.example.com", "10.0.0.6", "10.0.0.5.nip.io", "127.0.0.1.nip.io:8080", "0.0.0.0", "qvt", "[fd00::6]"} {
		for pattern, path := range paths {
			status, h, body := get(t, hs, path, "Host", host)
			switch {
			case pattern == "GET /healthz" || pattern == "GET /readyz":
				if status != http.StatusOK {
					t.Errorf("%s with Host %s: status %d", path, host, status)
				}
			case status != http.StatusMisdirectedRequest:
				t.Errorf("%s with Host %s: status %d, want 421", path, host, status)
			case !strings.Contains(body, "web.hosts") || h.Get("Cache-Control") != "no-store":
				t.Errorf("%s with Host %s: answer %q, Cache-Control %q", path, host, body, h.Get("Cache-Control"))
			}
		}
	}
	// Bound to every address, it answers loopback names and web.hosts only.
	s, hs = newTestServer(t, Config{Addr: "0.0.0.0:8080"})
	for host, want := range map[string]int{"0.0.0.0": 421, "0.0.0.0:8080": 421, "[::]": 421, "127.0.0.1:8080": 200, "dash.example.com": 421} {
		if status, _, _ := get(t, hs, "/api/summary", "Host", host); status != want {
			t.Errorf("bound to 0.0.0.0, Host %s: status %d, want %d", host, status, want)
		}
	}
	for _, bad := range []string{"https://dash.example.com", "dash.example.com/x", "user@dash", " "} {
		if _, err := New(s.st, Config{Hosts: []string{bad}}, nil); err == nil || !strings.Contains(err.Error(), "hosts") {
			t.Errorf("web.hosts %q: %v", bad, err)
		}
	}
}

// Nothing the dashboard answers is kept in a cache, but its fingerprinted
// static files: every route, every error.
func TestNoStore(t *testing.T) {
	s, hs := newTestServer(t, Config{})
	paths := routePaths(t, s)
	var all []string
	for pattern, path := range paths {
		if pattern != "GET /static/{name}" {
			all = append(all, path)
		}
	}
	host, qid := paths["GET /host/{id}"], paths["GET /qid/{qid}"]
	all = append(all, "/findings?status=bogus", host+"?status=bogus", qid+"?sort=nonsense", "/api/findings?qid=x",
		"/findings.csv?rating=Severe", "/host/999999999", "/qid/1", "/finding/nonsense", "/nowhere", "/static/none.js")
	for _, path := range all {
		status, h, _ := get(t, hs, path)
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s (status %d): Cache-Control %q, want no-store", path, status, h.Get("Cache-Control"))
		}
	}
	if _, h, _ := get(t, hs, "/static/app.css?v="+s.static["app.css"]); !strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Errorf("fingerprinted stylesheet: Cache-Control %q", h.Get("Cache-Control"))
	}
	_, hs = newTestServer(t, Config{Auth: Auth{Token: "tok-1234567890"}})
	if status, h, _ := get(t, hs, "/"); status != 401 || h.Get("Cache-Control") != "no-store" {
		t.Errorf("401: Cache-Control %q", h.Get("Cache-Control"))
	}
}

// With a certificate and key it serves HTTPS only.
func TestTLS(t *testing.T) {
	st, _ := fixtureStore(t)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s, err := New(st, Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if body := serveOnce(t, s, "https", "/healthz", client); !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz over HTTPS answered %q", body)
	}

	// Beyond loopback, with a login, over HTTPS.
	s, err = New(st, Config{Addr: "0.0.0.0:0", TLSCert: certFile, TLSKey: keyFile, Auth: Auth{Token: "tok-1234567890"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	serveOnce(t, s, "https", "/healthz", client)

	// Plain HTTP is not answered as such.
	s, err = New(st, Config{Addr: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan net.Addr, 1)
	s.listening = func(a net.Addr) { addrs <- a }
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx) }()
	select {
	case a := <-addrs:
		res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + a.String() + "/api/summary")
		if err == nil {
			if res.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP to the HTTPS dashboard: %s", res.Status)
			}
			res.Body.Close()
		}
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10 s")
	}
	cancel()
	<-done

	// Half a configuration, or files that are not a key pair, are refused.
	if _, err := New(st, Config{TLSCert: certFile}, nil); err == nil || !strings.Contains(err.Error(), "tls_key") {
		t.Errorf("a certificate without a key: %v", err)
	}
	s, err = New(st, Config{Addr: "127.0.0.1:0", TLSCert: keyFile, TLSKey: certFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.ListenAndServe(ctx); err == nil || !strings.Contains(err.Error(), "tls_cert "+keyFile) {
		t.Errorf("swapped certificate and key: %v", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qvt test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
