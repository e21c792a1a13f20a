// Package web holds qvt's dashboard: the overview a security lead reads
// every morning, the findings list an engineer filters to find what to fix
// next, the finding, host and QID pages, the owners and exceptions pages,
// the JSON API behind them, /healthz and /metrics. It reads the store,
// and writes only exceptions (exceptions.go), when a login is configured
// or it listens on loopback, under the store's writer lock.
//
// Everything it serves is in the binary: templates (html/template, which
// escapes every value), one stylesheet and one small script (go:embed),
// charts drawn as SVG on the server. The Content-Security-Policy allows
// scripts and styles from the dashboard itself only, no inline script or
// style at all, so that text from the KB, sanitized already, could not run
// even if it slipped through.
//
// It binds 127.0.0.1 unless told otherwise, and refuses an address beyond
// loopback unless a login (HTTP basic with a password of 12 characters or
// more, or a bearer token as long) is configured. It answers only requests
// addressed to it by a loopback name, the address it binds or a name listed
// in web.hosts, so that a web page cannot rebind its own name to 127.0.0.1
// and read the findings. It serves HTTPS when given a certificate.
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"qvt/internal/assess"
	"qvt/internal/clock"
	"qvt/internal/environment"
	"qvt/internal/exceptions"
	"qvt/internal/runs"
	"qvt/internal/store"
)

//go:embed templates static
var assets embed.FS

// DefaultAddr is where the dashboard listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8080"

// Config configures the dashboard (the `web:` section of the config file).
type Config struct {
	Addr    string   `yaml:"addr"`     // host:port; default 127.0.0.1:8080
	Auth    Auth     `yaml:"auth"`     // required when Addr is not a loopback address
	JiraURL string   `yaml:"jira_url"` // base URL of Jira, for links to issues: JiraURL + "/browse/" + key
	Hosts   []string `yaml:"hosts"`    // names it answers to besides loopback and Addr's host (QVT_WEB_HOSTS, comma separated)
	TLSCert string   `yaml:"tls_cert"` // PEM certificate (chain) file: serve HTTPS (QVT_WEB_TLS_CERT)
	TLSKey  string   `yaml:"tls_key"`  // PEM private key file of TLSCert (QVT_WEB_TLS_KEY)
	// PublicURL is where people reach the dashboard, for links in
	// notifications (QVT_WEB_PUBLIC_URL).
	PublicURL string `yaml:"public_url"`
	// ReadyMaxAge is how old the last good run may be before /readyz
	// says the service is not ready (default 26h; 0 in YAML is the default).
	ReadyMaxAge time.Duration `yaml:"ready_max_age"`
	// SLADays are the configured deadlines by rating, shown until the
	// store records the policy its scores were made under (default: the
	// default policy's).
	SLADays map[string]int `yaml:"-"`
	// Environments are the configured environment policies, to name the
	// one a finding's host is scored under.
	Environments environment.Set `yaml:"-"`
	// Exceptions is the exceptions policy (exceptions:): the longest an
	// exception added here may run, and when one is expiring soon.
	Exceptions exceptions.Policy `yaml:"-"`
	// Lock takes the store's writer lock for a write from the dashboard
	// (an exception added, extended or revoked), as every writer takes
	// it; nil writes without it (tests).
	Lock func(ctx context.Context) (store.WriteLock, error) `yaml:"-"`
	// Apply brings the findings in line with the exceptions after such a
	// write, as every writer does (the loader's, with restart_sla); nil
	// applies them without restarting SLA clocks.
	Apply func(tx *store.Tx) error `yaml:"-"`
	// Scheduler runs the daily job inside qvt serve --schedule: the
	// overview shows its next firing and a "Run now" button. nil: none.
	Scheduler runs.Scheduler `yaml:"-"`
}

// minSecret is the shortest password or token accepted beyond loopback.
const minSecret = 12

// Auth is the dashboard's login: HTTP basic (User and Password), a bearer
// token (Token), or both. Empty means none.
type Auth struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"` // secret
	Token    string `yaml:"token"`    // secret
}

// Enabled tells whether a login is configured.
func (a Auth) Enabled() bool { return a.User != "" && a.Password != "" || a.Token != "" }

// String describes the configuration without its secrets.
func (c Config) String() string {
	auth := "none"
	switch {
	case c.Auth.User != "" && c.Auth.Password != "" && c.Auth.Token != "":
		auth = "basic (user " + strconv.Quote(c.Auth.User) + ") or bearer token"
	case c.Auth.User != "" && c.Auth.Password != "":
		auth = "basic (user " + strconv.Quote(c.Auth.User) + ")"
	case c.Auth.Token != "":
		auth = "bearer token"
	}
	cert := "none"
	if c.TLSCert != "" {
		cert = c.TLSCert
	}
	return fmt.Sprintf("addr=%s auth=%s hosts=%s tls_cert=%s jira_url=%s", c.addr(), auth, strings.Join(c.Hosts, ","), cert, c.JiraURL)
}

// LogValue keeps secrets out of logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c Config) addr() string {
	if c.Addr == "" {
		return DefaultAddr
	}
	return c.Addr
}

// Server is the dashboard.
type Server struct {
	st        *store.Store
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	pages     map[string]*template.Template
	sanitizer *bluemonday.Policy
	metrics   *Metrics
	titles    titleIndex
	overview  overviewCache
	plans     planCache
	policies  policyCache
	gatherMax gatherLimits      // the sizes of sets the list sorts rather than walks
	sql       dialect           // the SQL of the store's engine, where engines differ
	static    map[string]string // file name → content hash, for cache-busting URLs
	handler   http.Handler
	hosts     map[string]bool // Host header names answered besides loopback ones
	patterns  []string        // the routes' patterns, as the mux knows them
	listening func(net.Addr)  // told the address once listening (tests)
	bg        context.Context // background work (the overview) stops with it
	stop      context.CancelFunc
	secret    []byte // the CSRF tokens' key, drawn at start (csrf.go)
}

// New builds the dashboard over a store. log may be nil.
func New(st *store.Store, cfg Config, log *slog.Logger) (*Server, error) {
	if st == nil {
		return nil, errors.New("web: no store")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.JiraURL != "" && !strings.HasPrefix(cfg.JiraURL, "https://") && !strings.HasPrefix(cfg.JiraURL, "http://") {
		return nil, fmt.Errorf("web: jira_url %q: want an http(s) URL", cfg.JiraURL)
	}
	if (cfg.Auth.User == "") != (cfg.Auth.Password == "") {
		return nil, errors.New("web: auth: give both user and password, or neither")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("web: tls: give both tls_cert and tls_key, or neither")
	}
	cfg.JiraURL = strings.TrimRight(cfg.JiraURL, "/")
	if cfg.SLADays == nil {
		cfg.SLADays = assess.DefaultPolicy().SLADays
	}
	cfg.Exceptions = cfg.Exceptions.WithDefaults()
	s := &Server{st: st, cfg: cfg, log: log, now: clock.Now, secret: newSecret(), sanitizer: kbPolicy(), static: map[string]string{}, gatherMax: newDialect(st.Engine()).gather(), sql: newDialect(st.Engine()),
		hosts: map[string]bool{}}
	for _, h := range cfg.Hosts {
		name := hostName(h)
		if name == "" || strings.ContainsAny(strings.TrimSpace(h), "/@?# ") {
			return nil, fmt.Errorf("web: hosts: %q: want a host name or address, e.g. dash.example.com", h)
		}
		s.hosts[name] = true
	}
	// The bound address, unless it is every address (0.0.0.0, ::).
	if host, _, err := net.SplitHostPort(cfg.addr()); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			s.hosts[hostName(host)] = true
		}
	}
	s.bg, s.stop = context.WithCancel(context.Background())
	if err := s.loadAssets(); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(s)
	s.handler = s.routes()
	return s, nil
}

// Handler is the dashboard as an http.Handler, login and security headers
// included.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics is the dashboard's metrics, for the sync to feed.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Close stops background work.
func (s *Server) Close() error {
	s.stop()
	return nil
}

// ListenAndServe serves the dashboard on cfg.Addr until ctx ends, then
// shuts down gracefully. It refuses an address beyond loopback without a
// login.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.cfg.addr()
	loop, err := loopback(addr)
	if err != nil {
		return err
	}
	a := s.cfg.Auth
	if !loop && !a.Enabled() {
		return fmt.Errorf("web: refusing to serve on %s without a login: anyone on the network could read every finding; "+
			"configure web.auth (user and password, or a token), or bind 127.0.0.1", addr)
	}
	if !loop {
		// The value itself is never named: only the setting.
		for _, sec := range []struct{ name, value string }{
			{"web.auth.password (QVT_WEB_PASSWORD)", a.Password}, {"web.auth.token (QVT_WEB_TOKEN)", a.Token}} {
			if sec.value != "" && utf8.RuneCountInString(sec.value) < minSecret {
				return fmt.Errorf("web: refusing to serve on %s: %s is shorter than %d characters, too easy to guess from the network",
					addr, sec.name, minSecret)
			}
		}
	}
	var tlsConfig *tls.Config
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("web: tls_cert %s, tls_key %s: %w", s.cfg.TLSCert, s.cfg.TLSKey, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else if !loop {
		s.log.Warn("serving the dashboard beyond loopback over plain HTTP: its login and findings cross the network in clear; " +
			"set web.tls_cert and web.tls_key, or put it behind a TLS proxy")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web: %w", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.listening != nil {
		s.listening(ln.Addr())
	}
	s.Warm(ctx)
	s.log.Info("serving the dashboard", "url", scheme+"://"+ln.Addr().String()+"/", "login", s.cfg.Auth.Enabled())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.stop()
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
	}
	s.stop()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		// A browser keeps connections open that it has not sent a request
		// on yet, which Shutdown waits for; and a download may run on.
		// Neither should keep qvt from stopping when asked to.
		s.log.Warn("closing the dashboard's remaining connections", "reason", err)
		srv.Close()
	}
	return nil
}

// loopback tells whether addr (host:port) only accepts connections from
// this machine. An empty host, 0.0.0.0 and :: listen everywhere; a name
// other than localhost may resolve anywhere.
func loopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("web: address %q: %w (want host:port, e.g. 127.0.0.1:8080)", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// hostName is the host of a Host header or configured name, without its
// port, brackets or final dot, in lower case.
func hostName(hostport string) string {
	h := strings.TrimSpace(hostport)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// servedHost tells whether a request's Host header names this dashboard:
// a loopback name or address, the address it binds, or a name in
// web.hosts. Any other name may be a web page's own, rebound to this
// machine's address (DNS rebinding) to read the dashboard from a browser.
func (s *Server) servedHost(hostport string) bool {
	h := hostName(hostport)
	if h == "localhost" || s.hosts[h] {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// loadAssets parses the templates and fingerprints the static files.
func (s *Server) loadAssets() error {
	err := fs.WalkDir(assets, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		s.static[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return fmt.Errorf("web: static files: %w", err)
	}
	base, err := template.New("layout.html").Funcs(s.funcs()).ParseFS(assets, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"overview", "findings", "finding", "host", "qid", "plan", "error", "owners", "exceptions", "exception", "exception_new"} {
		t, err := template.Must(base.Clone()).ParseFS(assets, "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("web: templates: %w", err)
		}
		s.pages[name] = t
	}
	return nil
}

// assetURL is the URL of a static file, with its fingerprint so that it
// can be cached for good.
func (s *Server) assetURL(name string) string {
	return "/static/" + name + "?v=" + s.static[name]
}

// csp allows nothing but the dashboard's own script, styles and images.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		route := pattern[strings.IndexByte(pattern, ' ')+1:]
		mux.Handle(pattern, s.instrument(route, h))
		s.patterns = append(s.patterns, pattern)
	}
	handle("GET /{$}", s.overviewPage)
	handle("GET /findings", s.findingsPage)
	handle("GET /findings.csv", s.download("csv"))
	handle("GET /findings.json", s.download("json"))
	handle("GET /finding/{key}", s.findingPage)
	handle("GET /host/{id}", s.hostPage)
	handle("GET /qid/{qid}", s.qidPage)
	handle("GET /plan", s.planPage)
	handle("GET /api/summary", s.apiSummary)
	handle("GET /api/findings", s.apiFindings)
	handle("GET /api/findings/{key}", s.apiFinding)
	handle("GET /api/hosts/{id}", s.apiHost)
	handle("GET /api/qids/{qid}", s.apiQID)
	handle("GET /api/plan", s.apiPlan)
	handle("GET /owners", s.ownersPage)
	handle("GET /api/owners", s.apiOwners)
	handle("GET /exceptions", s.exceptionsPage)
	handle("GET /exceptions/new", s.newExceptionPage)
	handle("POST /exceptions", s.addExceptionForm)
	handle("GET /exceptions/{exc}", s.exceptionPage)
	handle("POST /exceptions/{exc}/extend", s.extendExceptionForm)
	handle("POST /exceptions/{exc}/revoke", s.revokeExceptionForm)
	handle("GET /api/exceptions", s.apiExceptions)
	handle("POST /api/exceptions", s.apiAddException)
	handle("GET /api/exceptions/{exc}", s.apiException)
	handle("POST /api/exceptions/{exc}/extend", s.apiExtendException)
	handle("POST /api/exceptions/{exc}/revoke", s.apiRevokeException)
	handle("POST /runs", s.runNowForm)
	handle("POST /api/runs", s.apiRunNow)
	handle("GET /static/{name}", s.staticFile)
	handle("GET /healthz", s.healthz)
	handle("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.Handle("/", s.instrument("other", func(w http.ResponseWriter, r *http.Request) error {
		return errNotFound
	}))
	s.patterns = append(s.patterns, "GET /metrics", "/")
	return s.secure(mux)
}

// secure adds the security headers and the login.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		// same-origin, not no-referrer: with no-referrer a browser sends
		// "Origin: null" with a form's POST, and the CSRF check needs it.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		// Findings must not linger in caches; the static files, which
		// hold none, say otherwise.
		h.Set("Cache-Control", "no-store")
		// What a monitor asks, by any name: it tells nothing about findings.
		health := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		if !health && !s.servedHost(r.Host) {
			s.log.Warn("dashboard: refused a request for another host name (add it to web.hosts if it is this dashboard's)",
				"host", r.Host, "path", r.URL.Path)
			http.Error(w, "misdirected request: this dashboard does not answer to the host name "+strconv.Quote(r.Host)+
				"; if it is its name, add it to web.hosts (QVT_WEB_HOSTS)", http.StatusMisdirectedRequest)
			return
		}
		if !health && s.cfg.Auth.Enabled() && !s.authorized(r) {
			h.Set("WWW-Authenticate", `Basic realm="qvt", charset="UTF-8"`)
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized checks the request's credentials in constant time.
func (s *Server) authorized(r *http.Request) bool {
	a := s.cfg.Auth
	// The scheme's name is case-insensitive (RFC 9110, 11.1).
	if scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		return a.Token != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.Token)) == 1
	}
	if user, pass, ok := r.BasicAuth(); ok && a.User != "" {
		u := subtle.ConstantTimeCompare([]byte(user), []byte(a.User))
		p := subtle.ConstantTimeCompare([]byte(pass), []byte(a.Password))
		return u&p == 1
	}
	return false
}

// httpError is an error with the status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

var errNotFound = &httpError{http.StatusNotFound, "not found"}

func badRequest(err error) error { return &httpError{http.StatusBadRequest, err.Error()} }

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and times a route, and turns its error into a page
// (or a JSON error under /api/).
func (s *Server) instrument(route string, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("dashboard: panic", "route", route, "panic", p)
				if !sw.wrote {
					http.Error(sw, "internal error", http.StatusInternalServerError)
				}
			}
			s.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
			s.metrics.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		if err := h(sw, r); err != nil {
			s.fail(sw, r, err)
		}
	})
}

// fail answers an error: its own status for an httpError, 500 (logged,
// not shown) for anything else.
func (s *Server) fail(w *statusWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong; the server log says what."
	var he *httpError
	if errors.As(err, &he) {
		status, msg = he.status, he.msg
	} else if errors.Is(err, context.Canceled) {
		return
	} else {
		s.log.Error("dashboard", "path", r.URL.Path, "err", err)
	}
	if w.wrote {
		return // a download broke off: too late for an error page
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	s.pages["error"].Execute(w, map[string]any{"Title": http.StatusText(status), "Status": status, "Message": msg, "Nav": "", "Jira": false})
}

func (s *Server) staticFile(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	sum, ok := s.static[name]
	if !ok {
		return errNotFound
	}
	b, err := assets.ReadFile("static/" + name)
	if err != nil {
		return errNotFound
	}
	if r.URL.Query().Get("v") == sum {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+sum+`"`)
	http.ServeContent(w, r, path.Base(name), time.Time{}, strings.NewReader(string(b)))
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.st.DB().PingContext(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "store unreachable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
