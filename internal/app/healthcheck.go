package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/web"
)

func (e *env) healthcheckCommand() *cobra.Command {
	var rawURL string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the dashboard answers /healthz with ok, 1 when not (for Docker's HEALTHCHECK and monitors)",
		Long: `Ask a running qvt serve whether it is alive: GET its /healthz and exit 0
when it answers 200 {"status":"ok"} within --timeout, 1 otherwise, saying why
on stderr. /healthz needs no login and answers by any host name, so nothing
secret is sent.

Without --url it asks the dashboard this configuration describes, on this
machine: web.addr (QVT_WEB_ADDR), with 0.0.0.0 or :: read as loopback, over
HTTPS when web.tls_cert is set. Over HTTPS to that address the server must
present the configured certificate itself (its name cannot match 127.0.0.1);
an explicit https --url is verified as any HTTPS client verifies it.

It exists because a distroless image has no curl or wget.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usagef("--timeout %s: want a positive duration, e.g. 5s", timeout)
			}
			probe, err := e.healthProbe(rawURL)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := probe.check(ctx); err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			_, err = fmt.Fprintf(e.stdout, "ok: %s\n", probe.url)
			return err
		},
	}
	cmd.Flags().StringVar(&rawURL, "url", "", "the /healthz URL to ask (default: web.addr on loopback, e.g. http://127.0.0.1:8080/healthz)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// healthProbe is one /healthz request to make: where, and how to trust
// the server's certificate.
type healthProbe struct {
	url string
	// pinned is the DER certificate the server must present (the
	// configured web.tls_cert), for a URL derived from the configuration;
	// nil verifies as usual.
	pinned []byte
}

// healthProbe reads --url, or derives the URL from the web configuration.
func (e *env) healthProbe(rawURL string) (healthProbe, error) {
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return healthProbe{}, usagef("--url %q: want an http:// or https:// URL, e.g. http://127.0.0.1:8080/healthz", rawURL)
		}
		if u.User != nil {
			// /healthz needs no login: a user or password here would only
			// travel for nothing, and show in messages.
			return healthProbe{}, usagef("--url: remove the user and password from the URL; /healthz needs no login")
		}
		return healthProbe{url: u.String()}, nil
	}
	u, err := healthURL(e.cfg.Web)
	if err != nil {
		return healthProbe{}, err
	}
	p := healthProbe{url: u}
	if e.cfg.Web.TLSCert != "" {
		if p.pinned, err = leafCertificate(e.cfg.Web.TLSCert); err != nil {
			return healthProbe{}, fmt.Errorf("healthcheck: web.tls_cert (QVT_WEB_TLS_CERT): %w", err)
		}
	}
	return p, nil
}

// healthURL is the /healthz URL of the dashboard cfg describes, reached
// from the same machine: an address that listens everywhere (0.0.0.0, ::
// or no host) is asked on loopback.
func healthURL(cfg web.Config) (string, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = web.DefaultAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("web.addr (QVT_WEB_ADDR) %q: %w (want host:port, e.g. 0.0.0.0:8080)", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/healthz"}
	return u.String(), nil
}

// leafCertificate is the first certificate of a PEM file: the server's own.
func leafCertificate(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM CERTIFICATE", path)
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes, nil
		}
	}
}

// check asks once; nil when the answer is 200 with status ok.
func (p healthProbe) check(ctx context.Context) error {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if p.pinned != nil {
		tr.TLSClientConfig = &tls.Config{
			// The name check cannot pass on a loopback address; the
			// certificate itself is checked instead.
			InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], p.pinned) {
					return errors.New("the server does not present web.tls_cert's certificate")
				}
				return nil
			},
		}
	}
	client := &http.Client{
		Transport: tr,
		// A redirect is not a health answer; following it could leave
		// this machine.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("GET %s: no answer in time", p.url)
		}
		return fmt.Errorf("GET %s: %w", p.url, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("GET %s: reading the answer: %w", p.url, err)
	}
	var ans struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	decodeErr := json.Unmarshal(body, &ans)
	if resp.StatusCode != http.StatusOK {
		if decodeErr == nil && ans.Error != "" {
			return fmt.Errorf("GET %s: %s: %s", p.url, resp.Status, ans.Error)
		}
		return fmt.Errorf("GET %s: %s", p.url, resp.Status)
	}
	if decodeErr != nil || ans.Status != "ok" {
		return fmt.Errorf("GET %s: 200 but not qvt's health answer (%q): is another server on this port?", p.url, snippet(body))
	}
	return nil
}

// unwrapURLError drops net/http's "Get \"url\": " prefix, which the
// message already carries.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// snippet is the start of a body, on one line.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}
